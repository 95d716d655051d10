"""`hacc certs`: the rolling certificate renewal, run by bash against the upgrade bench's cluster
fake with its certificate behaviours (bench/fake_cluster.py: refresh-certs' names and restarts,
openssl signing with the CA key only a control-plane node holds, kubelite reading kubelet.crt
when it starts)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from realtools import run, tool
from test_day2_procedures import ADDRESSES, SPEC, Day2Bench

CERTS = "/var/snap/microk8s/current/certs"
PEM = "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n"


class CertBench(Day2Bench):
    """Every node with the certificates of a cluster a year old: cp2's server.crt expires in
    10 days, and w1's kubelet.crt lost its IP SAN (canonical/microk8s#4561)."""

    def __init__(self, tmp_path: Path, hacc: object) -> None:
        super().__init__(tmp_path, hacc, SPEC, SPEC)
        c = self.cluster
        for name, v in c["nodes"].items():
            ips = [] if name == "w1" else [f"IP:{v['address']}"]
            kubelet = {"subject": f"/CN=system:node:{name}/O=system:nodes",
                       "san": [f"DNS:{name}", *ips], "days": 200}  # fmt: skip
            v["certs"] = {"kubelet.crt": kubelet}
            if v["role"] == "control-plane":
                v["certs"].update({"server.crt": {"days": 10 if name == "cp2" else 120},
                                   "front-proxy-client.crt": {"days": 120}})  # fmt: skip
            v["files"][f"{CERTS}/kubelet.crt"] = {
                "content": PEM.format(json.dumps(kubelet)), "mode": "0644", "group": "root",
            }  # fmt: skip
        self.state.write_text(json.dumps(c))

    def write(self) -> Path:
        r = self.hacc("certs", str(self.spec), "-o", str(self.dir / "ce"))
        assert r.code == 0, r.err
        return self.dir / "ce" / "certs-edge-paris-01.sh"


def test_refresh_certs_alone_leaves_the_kubelet_certificates(tmp_path, hacc) -> None:
    """What RUNBOOK section 6 advised: refresh-certs on every node renews server.crt, but on a
    worker it does nothing, and no form of it renews kubelet.crt."""
    bench = CertBench(tmp_path, hacc)
    for address in ADDRESSES.values():
        assert bench.ssh(address, "microk8s", "refresh-certs", "--cert", "server.crt") == 0
    c = bench.cluster
    assert c["nodes"]["cp2"]["certs"]["server.crt"]["days"] == 365
    assert c["nodes"]["w1"]["certs"]["kubelet.crt"]["san"] == ["DNS:w1"]


def test_a_rolling_renewal_of_every_certificate(tmp_path, hacc) -> None:
    bench = CertBench(tmp_path, hacc)
    script = bench.write()
    r = bench.run(script)
    assert r.returncode == 0, r.stdout + r.stderr
    c = bench.cluster
    for name, v in c["nodes"].items():
        kubelet = v["certs"]["kubelet.crt"]
        assert kubelet["san"] == [f"DNS:{name}", f"IP:{v['address']}"], name
        assert kubelet["days"] == 3650 and kubelet["issuer"] == "cluster CA"
        assert kubelet["subject"] == f"/CN=system:node:{name}/O=system:nodes"
        assert v["files"][f"{CERTS}/kubelet.crt"]["mode"] == "0644"  # the file's own mode kept
        if v["role"] == "control-plane":
            assert v["certs"]["server.crt"]["days"] == 365
            assert v["certs"]["front-proxy-client.crt"]["days"] == 365
    # One node at a time: each restart waited for before the next node's first step.
    touched = [e["node"] for e in bench.events("refresh-certs", "kubelite restarted")]
    assert touched == ["cp1"] * 3 + ["cp2"] * 3 + ["cp3"] * 3 + ["w1", "w2"]
    # Workers' certificates are signed on a control-plane node: a worker's ca.key is its own.
    assert {e["node"] for e in bench.events("signed")} == {"cp1", "cp2", "cp3"}
    assert [e["node"] for e in bench.events("signed")][-2:] == ["cp1", "cp1"]
    before = len(bench.events())
    assert bench.run(script).returncode == 0
    assert len(bench.events()) == before


def test_a_renewal_stops_at_a_node_that_does_not_come_back(tmp_path, hacc) -> None:
    bench = CertBench(tmp_path, hacc)
    c = bench.cluster
    c["never_ready"] = ["cp2"]
    bench.state.write_text(json.dumps(c))
    # long enough for a loaded machine to see the healthy nodes Ready: only cp2 may time out
    bench.env["HACC_READY_TIMEOUT"] = "20"
    r = bench.run(bench.write())
    assert r.returncode == 1 and "cp2 is not Ready 20s on" in r.stderr, r.stderr
    assert "refresh-certs --undo on cp2" in r.stderr
    assert [e["node"] for e in bench.events("refresh-certs")] == ["cp1", "cp1", "cp2"]


def test_the_renewal_is_shellcheck_clean_and_a_dry_run_changes_nothing(tmp_path, hacc) -> None:
    bench = CertBench(tmp_path, hacc)
    script = bench.write()
    before = bench.events()
    r = bench.run(script, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert bench.events() == before and not (tmp_path / "progress").exists()
    assert os.stat(script).st_mode & 0o777 == 0o755
    sc = run(tool("shellcheck"), "--severity=style", str(script))
    assert sc.returncode == 0, sc.stdout
