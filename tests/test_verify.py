"""`hacc verify` against the drill's lab: real keepalived and HAProxy from the generated
configurations, HTTPS apiservers whose certificates carry what MicroK8s's would, and a client
namespace whose /etc/hosts is the test's own. Each fault must be named, and nothing else."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import KEEPALIVED_EXAMPLE
from hacc.compiler.frontend import analyze
from hacc.drill.configs import from_cluster, issue_leaf, node_sans
from hacc.drill.lab import VIP
from hacc.drill.runner import Drill, Timing
from labspec import EXTRA, NAME, lab_spec
from realtools import require_root, tool

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def lab(tmp_path: Path) -> Iterator[tuple[Drill, Path]]:
    require_root()
    for name in ("keepalived", "haproxy", "ip", "openssl", "unshare"):
        tool(name)
    spec = lab_spec(tmp_path)
    cluster = analyze(spec).cluster
    assert cluster is not None
    build = lambda d: dataclasses.replace(from_cluster(cluster, d), cert_days=365)  # noqa: E731
    with Drill(build, Timing(warmup=6.0)) as drill:
        assert len(drill.steady()) == 1
        yield drill, spec


def verify(drill: Drill, spec: Path, tmp_path: Path, resolves_to: str = VIP) -> tuple[int, Any]:
    """`hacc verify --format json` from the lab's client namespace, DNS from our hosts file."""
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{resolves_to} {NAME}\n")
    mount = 'mount --bind "$0" /etc/hosts && exec "$@"'
    argv = [
        "ip", "netns", "exec", drill.lab.client,
        "unshare", "--mount", "--propagation", "private", "sh", "-c", mount, str(hosts),
        sys.executable, "-m", "hacc", "verify", str(spec), "--ca", str(drill.ca),
        "--timeout", "1", "--format", "json",
    ]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)


def probes(report: Any) -> dict[str, Any]:
    return {p["target"]: p for p in report["probes"]}


def reissue(drill: Drill, node: str, *, drop: str | None = None, days: int = 365) -> None:
    index = [n for n, _ in drill.config.nodes].index(node)
    sans = [s for s in node_sans(drill.config, index) if s != drop]
    issue_leaf(drill.labdir, node, sans, days=days)
    drill.supervisor.stop(f"apiserver-{node}")
    drill.start("apiserver", node)


def wait_for(check, seconds: float = 15.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.2)


def test_a_healthy_cluster_passes(tmp_path) -> None:
    with lab(tmp_path) as (drill, spec):
        code, report = verify(drill, spec, tmp_path)
    assert code == 0, report["diagnosis"]
    assert report["ok"] and report["diagnosis"] == "every check holds"
    assert report["dns"] == "ok" and report["resolved"] == [VIP]
    for p in report["probes"]:
        assert p["trusted"] == "ok" and p["readyz"] == "ok" and p["days_left"] >= 360


def test_a_certificate_missing_a_san(tmp_path) -> None:
    with lab(tmp_path) as (drill, spec):
        reissue(drill, "cp2", drop=EXTRA)
        code, report = verify(drill, spec, tmp_path)
    assert code == 1
    assert probes(report)["cp2"]["missing_sans"] == [EXTRA]
    assert probes(report)["cp1"]["missing_sans"] == [] == probes(report)["cp3"]["missing_sans"]
    assert f"the certificate cp2 serves lacks {EXTRA}" in report["diagnosis"]
    assert "section 5" in report["diagnosis"]


def test_a_certificate_expiring_in_ten_days(tmp_path) -> None:
    with lab(tmp_path) as (drill, spec):
        reissue(drill, "cp1", days=10)
        code, report = verify(drill, spec, tmp_path)
    assert code == 1
    assert probes(report)["cp1"]["days_left"] in (9, 10)
    assert "the certificate cp1 serves expires in" in report["diagnosis"]
    assert "cp2" not in report["diagnosis"] and "cp3" not in report["diagnosis"]


def test_one_apiserver_down(tmp_path) -> None:
    with lab(tmp_path) as (drill, spec):
        drill.supervisor.stop("apiserver-cp3")
        code, report = verify(drill, spec, tmp_path)
    assert code == 1
    assert probes(report)["cp3"]["tcp"] == "refused"
    assert probes(report)["endpoint"]["readyz"] == "ok"
    assert report["diagnosis"].startswith("cp3 does not answer on 16443")


def test_every_apiserver_down(tmp_path) -> None:
    with lab(tmp_path) as (drill, spec):
        for node, _ in drill.config.nodes:
            drill.supervisor.stop(f"apiserver-{node}")
        code, report = verify(drill, spec, tmp_path)
    assert code == 1
    assert report["diagnosis"].startswith("no apiserver answers on its own address")


def test_an_apiserver_on_loopback_only(tmp_path) -> None:
    with lab(tmp_path) as (drill, spec):
        drill.supervisor.stop("apiserver-cp2")
        drill.start("apiserver", "cp2", bind="127.0.0.1")
        code, report = verify(drill, spec, tmp_path)
    assert code == 1
    assert probes(report)["cp2"]["tcp"] == "refused"
    assert "cp2 does not answer" in report["diagnosis"] and "127.0.0.1" in report["diagnosis"]


def test_haproxy_stopped_on_the_vip_holder(tmp_path) -> None:
    with lab(tmp_path) as (drill, spec):
        holder = drill.lab.holders()[0]
        # Freeze VRRP everywhere so the VIP stays where it is, then stop the holder's HAProxy.
        for node, _ in drill.config.nodes:
            drill.supervisor.signal(f"keepalived-{node}", signal.SIGSTOP)
        try:
            drill.supervisor.stop(f"haproxy-{holder}")
            assert drill.lab.holders() == [holder]
            code, report = verify(drill, spec, tmp_path)
        finally:
            for node, _ in drill.config.nodes:
                drill.supervisor.signal(f"keepalived-{node}", signal.SIGCONT)
    assert code == 1
    assert probes(report)["endpoint"]["tcp"] == "refused"
    assert "HAProxy is not running on the VIP holder" in report["diagnosis"]


def test_the_vip_on_no_node(tmp_path) -> None:
    with lab(tmp_path) as (drill, spec):
        for node, _ in drill.config.nodes:
            drill.supervisor.stop(f"keepalived-{node}")
        wait_for(lambda: drill.lab.holders() == [])
        assert drill.lab.holders() == []
        code, report = verify(drill, spec, tmp_path)
    assert code == 1
    assert probes(report)["endpoint"]["tcp"] != "ok"
    assert f"the VIP {VIP} does not answer" in report["diagnosis"]
    assert "no node holds it" in report["diagnosis"]


def test_the_dns_name_resolving_elsewhere(tmp_path) -> None:
    with lab(tmp_path) as (drill, spec):
        code, report = verify(drill, spec, tmp_path, resolves_to="198.18.0.99")
    assert code == 1
    assert report["dns"] == f"resolves to 198.18.0.99, not {VIP}"
    assert report["diagnosis"].startswith(f"the DNS name {NAME} resolves to 198.18.0.99")
    assert all(p["readyz"] == "ok" for p in report["probes"])  # only DNS is wrong


def test_an_endpoint_name_that_does_not_resolve_is_never_dialled(tmp_path, monkeypatch) -> None:
    """External mode known only by a name that does not resolve: nothing is dialled by name (a
    second lookup would have no timeout). The resolver's answer is given here, so no query
    leaves this machine, and no node is probed."""
    from hacc.live import probes
    from hacc.live.probes import run

    monkeypatch.setattr(probes, "_resolve", lambda name, timeout: ([], "name or service not known"))

    data = yaml.safe_load(KEEPALIVED_EXAMPLE.read_text())
    cp = data["spec"]["controlPlane"]
    cp["loadBalancer"] = {"mode": "external"}
    cp["endpoint"] = {"dnsName": "api.does-not-resolve.invalid", "port": 16443}
    data["spec"]["workers"]["apiserverEndpoint"] = "local-proxy"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    cluster = analyze(spec).cluster
    assert cluster is not None
    # No node is probed here: only the endpoint, which has no address to dial.
    cluster = cluster._replace(control_plane=())
    report = run(cluster, ca=None, timeout=1)
    endpoint = report.probes[0]
    assert endpoint.tcp.startswith("not tried") and not report.ok
    assert report.diagnosis.startswith("the DNS name api.does-not-resolve.invalid")
