"""hacc's reading of served certificates agrees with openssl's."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone

import pytest

from hacc.live.x509 import BadCertificate, parse
from realtools import run, tool


@pytest.mark.parametrize(
    ("days", "sans"),
    [
        (10, "DNS:api.example.com,IP:198.18.0.100,DNS:kubernetes,IP:127.0.0.1"),
        (10000, "IP:198.18.0.11"),  # past 2049: GeneralizedTime instead of UTCTime
        (365, "DNS:a.example.com,DNS:b.example.com"),
    ],
)
def test_sans_and_expiry_match_openssl(tmp_path, days, sans) -> None:
    openssl = tool("openssl")
    key, pem, der = tmp_path / "k.pem", tmp_path / "c.pem", tmp_path / "c.der"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", str(days), "-keyout", str(key), "-out", str(pem), "-subj", "/CN=t",
         "-addext", f"subjectAltName={sans}"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [openssl, "x509", "-in", str(pem), "-outform", "der", "-out", str(der)], check=True
    )
    cert = parse(der.read_bytes())
    shown = run(
        openssl, "x509", "-in", str(pem), "-noout", "-enddate", "-ext", "subjectAltName"
    ).stdout
    end = shown.split("notAfter=")[1].splitlines()[0]
    expected_end = datetime.strptime(end, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=timezone.utc)
    assert cert.not_after == expected_end
    listed = {s.strip().split(":", 1)[1] for s in shown.splitlines()[-1].split(",")}
    assert cert.sans == listed == {s.split(":", 1)[1] for s in sans.split(",")}


@pytest.mark.parametrize("data", [b"", b"\x30\x82\xff\xff", b"\x30\x03\x02\x01\x01", b"not der"])
def test_garbage_is_a_clear_error(data) -> None:
    with pytest.raises(BadCertificate):
        parse(data)
