"""Every invalid spec: its diagnostics are snapshotted, and its code is the one its name promises."""

from __future__ import annotations

import re

import pytest

from conftest import INVALID, REPO, replaced
from hacc.compiler.codes import CODES

LINE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>HACC\d{3})\]: .+$"
)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_spec_diagnostics(path, hacc, snapshot, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    rel = str(path.relative_to(REPO))
    r = hacc("validate", rel)
    expected = path.name.split("-")[0].upper()
    lines = r.err.splitlines()
    diags = [m for m in (LINE.match(x) for x in lines[:-1]) if m]
    assert len(diags) == len(lines) - 1, "every line but the summary is a located diagnostic"
    assert expected in {m["code"] for m in diags}
    assert r.code == (1 if any(m["sev"] == "error" for m in diags) else 0)
    raw = path.read_bytes()
    n_lines = raw.count(b"\n") + 1
    for m in diags:
        assert m["file"] == rel
        assert 1 <= int(m["line"]) <= n_lines
        assert int(m["col"]) >= 1
    assert r.err == snapshot


def test_every_code_has_an_invalid_spec() -> None:
    covered = {p.name.split("-")[0].upper() for p in INVALID}
    # Not expressible as one spec file: HACC001 (unreadable file, test_cli), HACC222 (two specs),
    # HACC223 (rendered size; both in test_build_cmd), HACC227 (two clusters, test_fleet_checks),
    # HACC230 and HACC231 (secret values, test_gitops).
    unit = {"HACC001", "HACC222", "HACC223", "HACC227", "HACC230", "HACC231"}
    assert set(CODES) - unit == covered


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in INVALID
        if p.name.split("-")[0]
        in ("hacc201", "hacc210", "hacc218", "hacc221", "hacc224", "hacc228", "hacc240", "hacc247")
    ],
    ids=lambda p: p.name,
)
def test_warnings_pass_unless_strict(path, hacc) -> None:
    assert hacc("validate", str(path)).code == 0
    strict = hacc("validate", "--strict", str(path))
    assert strict.code == 1
    assert "error[" in strict.err and "warning[" not in strict.err


def test_channel_1_27_is_refused_for_its_join_hostname_check(hacc, tmp_path) -> None:
    path = next(p for p in INVALID if p.name.startswith("hacc209"))
    text = path.read_text()
    assert "channel: 1.26/stable" in text
    spec = tmp_path / "spec.yaml"
    spec.write_text(replaced(text, "channel: 1.26/stable", "channel: 1.27/stable"))
    r = hacc("validate", str(spec))
    assert r.code == 1 and "error[HACC209]" in r.err
    assert "refuses joins whose hostname does not resolve" in r.err
    spec.write_text(replaced(text, "channel: 1.26/stable", "channel: 1.28/stable"))
    assert hacc("validate", str(spec)).code == 0


@pytest.mark.parametrize(
    ("types", "skips_check"),
    [
        ("InternalIP,Hostname,InternalDNS,ExternalDNS,ExternalIP", True),  # MicroK8s's default
        ("InternalIP,ExternalIP,Hostname", True),
        ("ExternalIP,InternalIP", True),  # no Hostname at all
        ("Hostname,InternalIP", False),
        ("Hostname,ExternalIP", False),
        (None, False),  # removed: the apiserver's own order starts with Hostname
    ],
)
def test_internal_ip_preference_follows_the_cluster_agent(types, skips_check) -> None:
    from hacc.compiler.checks import prefers_internal_ip

    assert prefers_internal_ip(types) is skips_check


@pytest.mark.parametrize(
    ("port", "reason"),
    [
        (16443, "the kube-apiserver"),
        (8443, "the client port"),
        (8404, "the HAProxy stats port"),
        (9100, "the node exporter's port"),
    ],
)
def test_haproxy_metrics_port_clashes(port, reason, hacc, tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    text = (REPO / "examples" / "keepalived-haproxy.yaml").read_text()
    spec.write_text(text + f"  monitoring:\n    haproxyMetricsPort: {port}\n")
    r = hacc("validate", str(spec))
    assert r.code == 1
    assert f"error[HACC207]: HAProxy's metrics cannot listen on {port}: " in r.err
    assert reason in r.err


def test_alert_durations_prometheus_cannot_count(hacc, tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    text = (REPO / "examples" / "keepalived-haproxy.yaml").read_text()
    spec.write_text(text + "  monitoring:\n    alerts: {vipFor: 9999999h, flapWindow: 2562047h}\n")
    r = hacc("validate", str(spec))
    assert r.code == 1 and r.err.count("error[HACC105]") == 1
    assert "9999999h is longer than Prometheus can count" in r.err
