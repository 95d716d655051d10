"""`hacc power`: the whole-cluster shutdown and startup procedures, run by bash against the
upgrade bench's cluster fake with its datastore behaviours (bench/fake_cluster.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from realtools import run, tool
from test_day2_procedures import SPEC, Day2Bench


class PowerBench(Day2Bench):
    def __init__(self, tmp_path: Path, hacc: object, leader: str = "cp2") -> None:
        super().__init__(tmp_path, hacc, SPEC, SPEC)
        c = self.cluster
        c.update(datastore=True, leader=leader)
        self.state.write_text(json.dumps(c))
        r = self.hacc("power", str(self.spec), "--out", str(self.out), "-o", str(tmp_path / "pw"))
        assert r.code == 0, r.err
        self.off = tmp_path / "pw" / "power-off-edge-paris-01.sh"
        self.on = tmp_path / "pw" / "power-on-edge-paris-01.sh"

    def order(self, kind: str) -> list[str]:
        return [e["node"] for e in self.events(kind)]


def test_shutdown_then_startup_in_a_safe_order(tmp_path, hacc) -> None:
    bench = PowerBench(tmp_path, hacc)
    bench.env["HACC_PROGRESS"] = str(tmp_path / "pw" / "power-off-edge-paris-01.progress")
    r = bench.run(bench.off)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the dqlite leader is cp2 (198.18.10.12:19001): it stops last" in r.stdout
    # Workers cordoned, then stopped; then the control plane, the leader (cp2) last.
    assert bench.order("cordoned") == ["w1", "w2"]
    assert bench.order("stopped") == ["w1", "w2", "cp1", "cp3", "cp2"]
    events = bench.events()
    assert events.index(bench.events("cordoned")[-1]) < events.index(bench.events("stopped")[0])
    assert all(not v.get("running", True) for v in bench.cluster["nodes"].values())
    # The startup reads who stopped last from the shutdown's progress file.
    bench.env["HACC_PROGRESS"] = str(tmp_path / "pw" / "power-on-edge-paris-01.progress")
    r = bench.run(bench.on)
    assert r.returncode == 0, r.stdout + r.stderr
    started = bench.events("started")
    assert [e["node"] for e in started] == ["cp2", "cp1", "cp2", "cp3", "w1", "w2"]
    # Quorum and /readyz come before any worker starts; uncordons after every worker is up.
    events = bench.events()
    readyz = max(
        i for i, e in enumerate(events)
        if e["event"] == "kubectl" and e["args"][:3] == ["get", "--raw", "/readyz"]
    )  # fmt: skip
    first_worker = events.index(next(e for e in started if e["role"] == "worker"))
    assert readyz < first_worker
    assert bench.order("uncordoned") == ["w1", "w2"]
    assert events.index(bench.events("uncordoned")[0]) > events.index(started[-1])
    assert not any(v["cordoned"] for v in bench.cluster["nodes"].values())


def test_a_shutdown_refuses_a_cluster_without_quorum(tmp_path, hacc) -> None:
    bench = PowerBench(tmp_path, hacc)
    assert bench.ssh("198.18.10.12", "microk8s", "stop") == 0
    assert bench.ssh("198.18.10.13", "microk8s", "stop") == 0
    r = bench.run(bench.off)
    assert r.returncode == 1 and "gate (before w1:cordon)" in r.stderr, r.stderr
    assert bench.events("cordoned") == []


def test_power_procedures_are_shellcheck_clean_and_dry_runs_change_nothing(tmp_path, hacc) -> None:
    bench = PowerBench(tmp_path, hacc)
    before = bench.events()
    for script in (bench.off, bench.on):
        assert os.stat(script).st_mode & 0o777 == 0o755
        r = bench.run(script, "--dry-run")
        assert r.returncode == 0, r.stderr
        sc = run(tool("shellcheck"), "--severity=style", str(script))
        assert sc.returncode == 0, sc.stdout
    assert bench.events() == before and not (tmp_path / "progress").exists()
