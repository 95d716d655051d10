"""`hacc recover`: the quorum-loss procedure, run by bash against the upgrade bench's cluster fake
with its datastore behaviours (bench/fake_cluster.py: each control-plane node's backend folder,
raft's quorum, go-dqlite's `.leader` and `.reconfigure`, `microk8s stop` and `start`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import replaced
from realtools import run, tool
from test_day2_procedures import SPEC, Day2Bench, first

FIVE = replaced(
    SPEC,
    "      - {name: cp3, address: 198.18.10.13, failureDomain: 3}\n",
    "      - {name: cp3, address: 198.18.10.13, failureDomain: 3}\n"
    "      - {name: cp4, address: 198.18.10.14, failureDomain: 1}\n"
    "      - {name: cp5, address: 198.18.10.15, failureDomain: 2}\n",
)
BACKEND = "/var/snap/microk8s/current/var/kubernetes/backend"

SURVIVOR = "198.18.10.11"
ENDPOINT = "https://198.18.10.100:8443"


class RecoveryBench(Day2Bench):
    """The cluster of the spec, running, with its datastore modelled; `lose` takes machines
    away for good (ssh finds no route to them)."""

    def __init__(self, tmp_path: Path, hacc: object, spec: str = SPEC) -> None:
        super().__init__(tmp_path, hacc, spec, spec)
        for name in ("cp4", "cp5"):  # stand-bys: dqlite keeps three voters
            if f"name: {name}," in spec:
                assert self.boot(name, f"198.18.10.1{name[-1]}").returncode == 0
        c = self.cluster
        c["datastore"] = True
        self.state.write_text(json.dumps(c))
        assert self.ssh(SURVIVOR, "microk8s", "status") == 0  # the backend folders appear

    def lose(self, *names: str) -> None:
        c = self.cluster
        for name in names:
            c["nodes"][name]["lost"] = True
        self.state.write_text(json.dumps(c))

    def recover(self, lost: str) -> Path:
        r = self.hacc("recover", str(self.spec), "--lost", lost, "--out", str(self.out),
                      "-o", str(self.dir / "r"))  # fmt: skip
        assert r.code == 0, r.err
        return self.dir / "r" / "recover-edge-paris-01.sh"

    def readyz(self) -> int:
        return self.ssh(SURVIVOR, "microk8s", "kubectl", f"--server={ENDPOINT}", "get", "--raw",
                        "/readyz")  # fmt: skip


def test_one_survivor_of_three_has_no_api_until_recovered(tmp_path, hacc) -> None:
    """The state a recovery starts from: two of three voters gone, raft elects no leader, and
    restarting the survivor does not bring the datastore back."""
    bench = RecoveryBench(tmp_path, hacc)
    assert bench.readyz() == 0
    bench.lose("cp2", "cp3")
    assert bench.readyz() == 1
    assert bench.ssh(SURVIVOR, "microk8s", "stop") == 0
    assert bench.ssh(SURVIVOR, "microk8s", "start") == 0
    assert bench.readyz() == 1


def test_recovery_with_one_survivor_of_three(tmp_path, hacc) -> None:
    bench = RecoveryBench(tmp_path, hacc)
    bench.lose("cp2", "cp3")
    script = bench.recover("cp2,cp3")
    bench.env["HACC_READY_TIMEOUT"] = "1"
    r = bench.run(script)
    # It stops where the lost nodes must be reinstalled: the cluster runs on cp1 alone.
    assert r.returncode == 1 and "cp2 (198.18.10.12) is not a datastore node" in r.stderr, (
        r.stdout + r.stderr
    )
    assert "quorum is lost: 1 of 3 voters answer" in r.stdout
    assert bench.readyz() == 0
    c = bench.cluster
    assert c["voters"] == ["cp1"] and "cp2" not in c["nodes"] and "cp3" not in c["nodes"]
    events = bench.events()
    stopped = first(events, lambda e: e == {**e, "event": "stopped", "node": "cp1"})
    saved = first(events, lambda e: e["event"] == "archived")
    reconfigured = first(events, lambda e: e["event"] == "reconfigured")
    started = first(events, lambda e: e["event"] == "started")
    removed = first(events, lambda e: e["event"] == "removed")
    assert stopped < saved < reconfigured < started < removed
    assert events[reconfigured]["voters"] == [SURVIVOR + ":19001"]
    assert bench.events("ids mismatch", "reconfigure while running") == []
    # cluster.yaml holds the survivor with the ID of its own info.yaml.
    assert bench.file("cp1", f"{BACKEND}/cluster.yaml") == (
        "- ID: 3297041220608546238\n  Address: 198.18.10.11:19001\n  Role: 0\n"
    )
    archive = events[saved]["path"]
    assert archive.startswith("/var/snap/microk8s/common/hacc-saved/backend-cp1-")
    assert "backend/cluster.yaml" in json.loads(bench.file("cp1", archive))
    # No lost node's remove-node needed --force: dqlite no longer lists them.
    assert "remove-node cp2 --force" not in r.stdout
    # The lost nodes, reinstalled, join again; the run resumes there.
    bench.env["HACC_READY_TIMEOUT"] = "120"
    for name in ("cp2", "cp3"):
        assert bench.boot(name, f"198.18.10.1{name[-1]}").returncode == 0
    r = bench.run(script)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cp1:reconfigure: already done" in r.stdout
    assert sorted(bench.cluster["voters"]) == ["cp1", "cp2", "cp3"]


def test_recovery_is_refused_while_two_of_three_answer(tmp_path, hacc) -> None:
    bench = RecoveryBench(tmp_path, hacc)
    bench.lose("cp3")
    script = bench.recover("cp3")
    r = bench.run(script)
    assert r.returncode == 1 and "finds a dqlite leader (198.18.10.11:19001)" in r.stderr, r.stderr
    # Two voters that answer but are stopped: no leader, still a majority to start again.
    assert bench.ssh("198.18.10.11", "microk8s", "stop") == 0
    assert bench.ssh("198.18.10.12", "microk8s", "stop") == 0
    r = bench.run(script)
    assert r.returncode == 1 and "2 of the 3 voters in cluster.yaml answer ssh" in r.stderr
    assert bench.events("stopped")[2:] == [] and bench.events("archived", "reconfigured") == []


def test_dry_run_changes_nothing_and_the_script_is_shellcheck_clean(tmp_path, hacc) -> None:
    bench = RecoveryBench(tmp_path, hacc)
    bench.lose("cp2", "cp3")
    script = bench.recover("cp2,cp3")
    first_text = script.read_bytes()
    assert bench.recover("cp2,cp3").read_bytes() == first_text
    before = bench.events()
    r = bench.run(script, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert bench.events() == before and not (tmp_path / "progress").exists()
    assert os.stat(script).st_mode & 0o777 == 0o755
    sc = run(tool("shellcheck"), "--severity=style", str(script))
    assert sc.returncode == 0, sc.stdout


def test_bad_lost_nodes_are_refused(tmp_path, hacc) -> None:
    spec = tmp_path / "ha-cluster.yaml"
    spec.write_text(SPEC)
    for lost, says in (("w1", "not control-plane nodes"), ("cp1,cp2,cp3", "every control-plane")):
        r = hacc("recover", str(spec), "--lost", lost, "-o", str(tmp_path / "r"))
        assert r.code == 1 and says in r.err and not (tmp_path / "r").exists(), r.err


def test_three_survivors_of_five_share_the_source_s_log(tmp_path, hacc) -> None:
    """Voters cp1, cp2, cp3 and stand-bys cp4, cp5; cp2 and cp3 lost. cp4's log is the longest,
    so the survivor picked by default is refused until --source names cp4; the others get its
    snapshots, segments and cluster.yaml, and keep their own info.yaml."""
    bench = RecoveryBench(tmp_path, hacc, FIVE)
    c = bench.cluster
    cp4 = c["nodes"]["cp4"]["files"]
    cp4[f"{BACKEND}/{65:016d}-{120:016d}"] = cp4.pop(f"{BACKEND}/{65:016d}-{100:016d}")
    bench.state.write_text(json.dumps(c))
    bench.lose("cp2", "cp3")
    r = bench.run(bench.recover("cp2,cp3"))
    assert r.returncode == 1 and "cp4's raft log reaches index 120, 198.18.10.11's only 100" in (
        r.stderr
    ), r.stdout + r.stderr
    assert "--source cp4" in r.stderr and bench.events("reconfigured") == []
    # Written again with --source, it resumes: the services stay stopped, the copies taken.
    r = bench.hacc("recover", str(bench.spec), "--lost", "cp2,cp3", "--source", "cp4",
                   "--out", str(bench.out), "-o", str(tmp_path / "r"))  # fmt: skip
    assert r.code == 0, r.err
    bench.env["HACC_READY_TIMEOUT"] = "1"
    r = bench.run(tmp_path / "r" / "recover-edge-paris-01.sh")
    assert "cp2 (198.18.10.12) is not a datastore node" in r.stderr, r.stdout + r.stderr
    assert "cp1:save-backend: already done" in r.stdout
    assert [e["node"] for e in bench.events("reconfigured")] == ["cp4"]
    assert sorted(bench.cluster["voters"]) == ["cp1", "cp4", "cp5"] and bench.readyz() == 0
    for name in ("cp1", "cp5"):
        files = bench.cluster["nodes"][name]["files"]
        assert files[f"{BACKEND}/cluster.yaml"] == cp4_file(bench, "cluster.yaml")
        assert f"{BACKEND}/{65:016d}-{120:016d}" in files
        assert f"{BACKEND}/{65:016d}-{100:016d}" not in files  # its own segments went first
        assert f"{BACKEND}/metadata1" not in files
        assert f"198.18.10.1{name[-1]}:19001" in files[f"{BACKEND}/info.yaml"]["content"]
    assert bench.events("ids mismatch") == []
    entries = cp4_file(bench, "cluster.yaml")["content"]
    assert entries.count("Role: 0") == 3 and "198.18.10.12" not in entries


def cp4_file(bench: RecoveryBench, name: str) -> dict:
    return bench.cluster["nodes"]["cp4"]["files"][f"{BACKEND}/{name}"]
