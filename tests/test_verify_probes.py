"""`hacc verify`'s own HTTP reading and its diagnosis, without the lab: a loopback TLS server
that answers `/readyz` as an apiserver may (chunked), and reports whose probes are given."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import KEEPALIVED_EXAMPLE
from hacc.compiler.frontend import analyze
from hacc.live import probes
from realtools import tool

NAME = "api.paris.example.com"  # the example's endpoint name; the resolver's answer is given


def tls_server(tmp_path: Path, answer: bytes) -> tuple[int, threading.Thread]:
    """One TLS connection on 127.0.0.1, answered with `answer` once the request has arrived."""
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "365", "-keyout", str(key),
         "-out", str(crt), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener, listener.accept()[0] as raw, context.wrap_socket(raw, server_side=True) as s:
            s.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = s.recv(4096)
                if not chunk:
                    return
                request += chunk
            s.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


CHUNKED = (
    b"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{body}\r\n0\r\n\r\n"
)


@pytest.mark.parametrize(
    ("status", "body", "readyz"),
    [
        (b"200 OK", b"ok", "ok"),
        (b"500 Internal Server Error", b"no", "answered 500 Internal Server Error"),
    ],
)
def test_a_chunked_readyz_answer_is_read_as_http(tmp_path, status, body, readyz) -> None:
    answer = CHUNKED.replace(b"{status}", status).replace(b"{body}", body)
    port, thread = tls_server(tmp_path, answer)
    p = probes.probe(probes.Target("endpoint", "127.0.0.1", port, []), "127.0.0.1", None, 5)
    thread.join(10)
    assert (p.tcp, p.tls, p.readyz) == ("ok", "ok", readyz)


def report_with(monkeypatch, *, dns_name: bool, dns_error: str | None, answering: bool):
    """`run` on the example, its resolver and its probes answering as told."""
    cluster = analyze(KEEPALIVED_EXAMPLE).cluster
    assert cluster is not None
    if not dns_name:
        cluster = cluster._replace(endpoint=cluster.endpoint._replace(dns_name=None))
    resolved = [cluster.endpoint.address or ""]
    monkeypatch.setattr(
        probes, "_resolve", lambda name, timeout: ([], dns_error) if dns_error else (resolved, "ok")
    )

    def probe(t: probes.Target, sni: str, ca: str | None, timeout: float) -> probes.Probe:
        if not answering:
            return probes.Probe(t.name, t.host, t.port, tcp="timed out")
        return probes.Probe(t.name, t.host, t.port, "ok", "ok", "unverified", [], 365, "ok")

    monkeypatch.setattr(probes, "probe", probe)
    return probes.run(cluster, ca=None, timeout=1)


def test_nothing_reachable_is_not_blamed_on_the_dns(monkeypatch) -> None:
    without = report_with(monkeypatch, dns_name=False, dns_error=None, answering=False)
    failing = report_with(
        monkeypatch,
        dns_name=True,
        dns_error="Temporary failure in name resolution",
        answering=False,
    )
    assert without.diagnosis.startswith("no apiserver answers on its own address")
    assert failing.diagnosis == (
        f"{without.diagnosis}; the DNS name {NAME} does not resolve "
        "(temporary failure in name resolution) either"
    )


def test_a_dns_name_that_does_not_resolve_while_the_apiservers_answer(monkeypatch) -> None:
    r = report_with(
        monkeypatch, dns_name=True, dns_error="Name or service not known", answering=True
    )
    assert r.dns == "does not resolve (name or service not known)" and not r.ok
    assert r.diagnosis == (
        f"the DNS name {NAME} does not resolve (name or service not known): fix its record "
        "(RUNBOOK.md section 1)"
    )
