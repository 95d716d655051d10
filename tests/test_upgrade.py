"""`hacc upgrade`: the channel rules, and the generated script run by bash against the bench's
cluster fake (bench/fake_cluster.py: sourced behaviour, not MicroK8s) reached through a fake
`ssh` on PATH."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench import node_tree
from conftest import EXAMPLES, KEEPALIVED_EXAMPLE, replaced, run_bash
from realtools import shellchecked_script

FAKE = Path(__file__).resolve().parent / "bench" / "fake_cluster.py"
SPEC = KEEPALIVED_EXAMPLE.read_text()
CP = ("cp1", "cp2", "cp3")
WORKERS = ("w1", "w2")


def spec_with(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "ha-cluster.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("to", "frm", "message"),
    [
        ("1.34/stable", None, "skips minor versions"),
        ("1.31/stable", None, "is a downgrade"),
        ("latest/stable", None, "names no version"),
        ("1.33-strict/stable", None, "confinement"),
        ("1.33/stable", "1.31/stable", "skips minor versions"),
        ("2.0/stable", None, "skips minor versions"),
        ("1.33/stabel", None, "is not a snap channel"),
    ],
)
def test_refused_channel_changes(hacc, tmp_path, to, frm, message) -> None:
    args = ["upgrade", str(KEEPALIVED_EXAMPLE), "--to", to, "-o", str(tmp_path / "up")]
    r = hacc(*args, *(("--from", frm) if frm else ()))
    assert r.code == 1 and message in r.err, r.err
    assert not (tmp_path / "up").exists()


@pytest.mark.parametrize(
    ("to", "frm"),
    [
        ("1.33/stable", None),
        ("1.32/stable", "1.32/beta"),
        ("1.32/stable", None),  # the spec's own channel: an in-track refresh
        ("1.32/stable", "1.32/stable"),
    ],
)
def test_accepted_channel_changes(hacc, tmp_path, to, frm) -> None:
    args = ["upgrade", str(KEEPALIVED_EXAMPLE), "--to", to, "-o", str(tmp_path)]
    r = hacc(*args, *(("--from", frm) if frm else ()))
    assert r.code == 0, r.err
    assert len(list(tmp_path.glob("upgrade-edge-paris-01-*.sh"))) == 1


def test_something_in_the_way_of_the_page_leaves_no_script_either(hacc, tmp_path) -> None:
    """The script and its page are written together or not at all."""
    page = tmp_path / "upgrade-edge-paris-01-1.33-stable.md"
    os.mkfifo(page)
    r = hacc("upgrade", str(KEEPALIVED_EXAMPLE), "--to", "1.33/stable", "-o", str(tmp_path))
    assert r.code == 1 and "is a FIFO" in r.err, r.err
    assert sorted(p.name for p in tmp_path.iterdir()) == [page.name]


def test_a_users_file_of_the_same_name_is_replaced_only_with_force(hacc, tmp_path) -> None:
    page = tmp_path / "upgrade-edge-paris-01-1.33-stable.md"
    page.write_text("my notes\n")
    args = ("upgrade", str(KEEPALIVED_EXAMPLE), "--to", "1.33/stable", "-o", str(tmp_path))
    r = hacc(*args)
    assert r.code == 1 and "pass --force" in r.err and str(page) in r.err, r.err
    assert sorted(p.name for p in tmp_path.iterdir()) == [page.name]
    assert page.read_text() == "my notes\n"
    assert hacc(*args, "--force").code == 0
    assert page.read_text() != "my notes\n"
    assert hacc(*args).code == 0  # the same procedure again: nothing of the user's in the way


def test_two_control_plane_nodes_cannot_keep_quorum(hacc, tmp_path) -> None:
    text = replaced(SPEC, "      - {name: cp3, address: 198.18.10.13, failureDomain: 3}\n", "")
    r = hacc("upgrade", str(spec_with(tmp_path, text)), "--to", "1.33/stable")
    assert r.code == 1 and "quorum" in r.err and "three or more" in r.err


def test_spec_errors_are_reported_located(hacc, tmp_path) -> None:
    text = replaced(SPEC, "name: cp2, address: 198.18.10.12", "name: cp2, address: 198.18.10.11")
    r = hacc("upgrade", str(spec_with(tmp_path, text)), "--to", "1.33/stable")
    assert r.code == 1 and "ha-cluster.yaml:" in r.err and "error[" in r.err


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_script_is_shellcheck_clean_and_deterministic(hacc, tmp_path, example) -> None:
    import yaml

    now = yaml.safe_load(example.read_text())["spec"]["microk8s"]["channel"]
    track, risk = now.split("/")
    major, minor = track.split(".")
    to = f"{major}.{int(minor) + 1}/{risk}"
    texts = []
    for out in ("a", "b"):
        assert hacc("upgrade", str(example), "--to", to, "-o", str(tmp_path / out)).code == 0
        texts.append({p.name: p.read_bytes() for p in (tmp_path / out).iterdir()})
    assert texts[0] == texts[1]
    shellchecked_script(tmp_path / "a")


# -- the bench -------------------------------------------------------------------------------


class Bench:
    """A generated upgrade script, and the cluster it runs against."""

    def __init__(
        self, tmp_path: Path, hacc: Any, spec: str = SPEC, to: str = "1.33/stable", **faults: Any
    ) -> None:
        self.dir = tmp_path
        path = spec_with(tmp_path, spec)
        r = hacc("upgrade", str(path), "--to", to, "-o", str(tmp_path / "up"))
        assert r.code == 0, r.err
        (self.script,) = (tmp_path / "up").glob("*.sh")
        self.state = tmp_path / "cluster.json"
        addresses = {"cp1": "198.18.10.11", "cp2": "198.18.10.12", "cp3": "198.18.10.13",
                     "w1": "198.18.10.21", "w2": "198.18.10.22"}  # fmt: skip
        nodes = {
            name: {
                "address": address,
                "role": "control-plane" if name in CP else "worker",
                "channel": "1.32/stable",
                "version": "v1.32.9",
                "ready": True,
                "cordoned": False,
                "restart_left": 0,
                "revision": 7001,
            }
            for name, address in addresses.items()
        }
        trees = node_tree.lay_cluster(
            tmp_path / "trees",
            [(n, a, n in CP, CP.index(n) + 1 if n in CP else 1) for n, a in addresses.items()],
        )
        for name, root in trees.items():
            nodes[name]["tree"] = str(root)
        for name, version in faults.pop("versions", {}).items():
            nodes[name]["version"] = version
        for name in faults.pop("down", ()):
            nodes[name].update(ready=False, restart_left=10**6)  # down before the upgrade
        cluster = {
            # the gates' endpoint: the VIP and the spec's port (examples/keepalived-haproxy.yaml)
            "endpoint": "https://198.18.10.100:8443",
            "nodes": nodes,
            "voters": list(CP),
            "events": [],
            **faults,
        }
        self.state.write_text(json.dumps(cluster))
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "ssh").symlink_to(FAKE)

        self.env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "BENCH_CLUSTER": str(self.state),
            "HACC_READY_TIMEOUT": "2",
            "HACC_POLL_INTERVAL": "0.1",
            "HACC_UPGRADE_PROGRESS": str(tmp_path / "progress"),
            "LANG": "C.UTF-8",
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_bash(self.script, self.env, *args)

    @property
    def cluster(self) -> dict[str, Any]:
        c: dict[str, Any] = json.loads(self.state.read_text())
        return c

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.cluster["events"] if kind is None or e["event"] == kind]

    def order(self) -> list[tuple[str, str]]:
        """(event, node) for what changes a node, in order."""
        kinds = ("drained", "refreshed", "ready", "uncordoned", "drain blocked")
        return [(e["event"], e["node"]) for e in self.events() if e["event"] in kinds]

    def versions(self) -> dict[str, str]:
        return {n: v["version"] for n, v in self.cluster["nodes"].items()}


def one_by_one(name: str) -> list[tuple[str, str]]:
    return [("drained", name), ("refreshed", name), ("ready", name), ("uncordoned", name)]


def test_upgrade_goes_node_by_node_through_the_endpoint(tmp_path, hacc) -> None:
    bench = Bench(tmp_path, hacc)
    r = bench.run()
    assert r.returncode == 0, r.stderr
    assert bench.versions() == dict.fromkeys(CP + WORKERS, "v1.33.4")
    # Each control-plane node wholly before the next: never two down at once; workers last.
    assert bench.order() == [step for n in CP + WORKERS for step in one_by_one(n)]
    assert bench.events("quorum lost") == []
    assert all(e["cordoned"] for e in bench.events("refreshed")), "refreshed before its drain"
    # Each node's tree is still a real node's, in the new revision; each datastore restarted
    # into its failure domain (kubelite rewrote the file first).
    for name, v in bench.cluster["nodes"].items():
        root = Path(v["tree"])
        kind = "served a join" if name == "cp1" else "control plane" if name in CP else "worker"
        assert node_tree.differences(root, kind) == [], name
        assert (root / node_tree.DATA).resolve().name == "7002"
        running = node_tree.running_failure_domain(root)
        assert running == (CP.index(name) + 1 if name in CP else 1), name
    # Drain and uncordon run on another control-plane node; every kubectl goes to the endpoint.
    for e in bench.events("drained") + bench.events("uncordoned"):
        assert e["by"] != e["node"] and e["by"] in CP
    assert all(e["via_endpoint"] for e in bench.events("kubectl"))
    # Gates: before and after each control-plane node, before each worker batch.
    assert r.stdout.count("gate (") == 2 * len(CP) + len(WORKERS)
    assert (tmp_path / "progress").read_text().splitlines() == [
        "hacc upgrade edge-paris-01 1.32/stable -> 1.33/stable",
        *(f"done {n}" for n in CP + WORKERS),
        "complete",
    ]
    # Running it again changes nothing.
    before = bench.order()
    assert bench.run().returncode == 0
    assert bench.order() == before


def test_workers_go_in_batches_the_spec_sizes(tmp_path, hacc) -> None:
    spec = replaced(
        SPEC,
        "    apiserverEndpoint: vip\n",
        "    apiserverEndpoint: vip\n    upgradeBatchSize: 2\n",
    )
    bench = Bench(tmp_path, hacc, spec)
    assert bench.run().returncode == 0
    workers = [step for step in bench.order() if step[1] in WORKERS]
    # Both drained before either is refreshed; both back before either is uncordoned.
    assert [e for e, _ in workers] == ["drained"] * 2 + ["refreshed"] * 2 + ["ready"] * 2 + [
        "uncordoned"
    ] * 2
    assert bench.versions()["w2"] == "v1.33.4"


def test_a_node_that_never_comes_back_stops_the_upgrade_and_a_rerun_resumes(tmp_path, hacc) -> None:
    bench = Bench(tmp_path, hacc, never_ready=["cp2"])
    r = bench.run()
    assert r.returncode == 1
    assert "cp2 is not Ready on v1.33.x" in r.stderr
    # Never a revert for a control-plane node: its datastore lives in the revision's data.
    assert "sudo snap revert" not in r.stderr and "Do not `snap revert` it" in r.stderr
    assert "sudo microk8s remove-node cp2 --force" in r.stderr
    assert "Touch no other node" in r.stderr
    # cp3 was never taken down: quorum held with cp1 and cp3.
    assert [s for s in bench.order() if s[1] not in ("cp1",)] == [
        ("drained", "cp2"),
        ("refreshed", "cp2"),
    ]
    assert bench.versions()["cp3"] == "v1.32.9"
    assert bench.events("quorum lost") == []
    assert (tmp_path / "progress").read_text().splitlines()[1:] == ["done cp1"]
    # The operator fixes cp2; the rerun starts with cp2 and does not touch cp1 again.
    cluster = bench.cluster
    cluster["never_ready"] = []
    bench.state.write_text(json.dumps(cluster))
    done = len(bench.order())
    r = bench.run()
    assert r.returncode == 0, r.stderr
    assert "cp1: already upgraded" in r.stdout
    rerun = bench.order()[done:]
    assert ("drained", "cp1") not in rerun and ("refreshed", "cp2") not in rerun  # no updates
    # cp2 is back (the first gate sees it), drained again, not refreshed again, uncordoned.
    assert rerun[:3] == [("ready", "cp2"), ("drained", "cp2"), ("uncordoned", "cp2")]
    assert bench.versions() == dict.fromkeys(CP + WORKERS, "v1.33.4")


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ({"down": ["cp3"]}, "control-plane node cp3 is not Ready"),
        ({"voters": ["cp1", "cp2"]}, "the datastore has 2 voters, not 3"),
        ({"versions": {"w1": "v1.31.7"}}, "node w1 runs v1.31.7, not v1.32.x or v1.33.x"),
    ],
    ids=["node-not-ready", "voter-missing", "skipped-version"],
)
def test_an_unhealthy_cluster_is_never_touched(tmp_path, hacc, faults, message) -> None:
    bench = Bench(tmp_path, hacc, **faults)
    r = bench.run()
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert bench.order() == []


def test_a_blocked_drain_stops_before_the_refresh(tmp_path, hacc) -> None:
    bench = Bench(tmp_path, hacc, pdb=["w1"])
    r = bench.run()
    assert r.returncode == 1 and "PodDisruptionBudget" in r.stderr
    assert bench.order()[-1] == ("drain blocked", "w1")
    assert bench.versions()["w1"] == "v1.32.9" and bench.cluster["nodes"]["w1"]["cordoned"]


def test_dry_run_changes_nothing(tmp_path, hacc) -> None:
    bench = Bench(tmp_path, hacc)
    r = bench.run("--dry-run")
    assert r.returncode == 0, r.stderr
    assert bench.events() == [] and not (tmp_path / "progress").exists()
    assert "cp2: snap refresh microk8s --channel=1.33/stable" in r.stdout


def test_another_upgrades_progress_is_not_resumed(tmp_path, hacc) -> None:
    bench = Bench(tmp_path, hacc)
    (tmp_path / "progress").write_text(
        "hacc upgrade edge-paris-01 1.31/stable -> 1.32/stable\ndone cp1\n"
    )
    r = bench.run()
    assert r.returncode == 1 and "records another upgrade" in r.stderr
    assert bench.order() == []


def test_plan_reports_a_channel_change_with_the_upgrade_it_needs(hacc, tmp_path) -> None:
    spec = spec_with(tmp_path)
    out = str(tmp_path / "out")
    assert hacc("build", str(spec), "-o", out, "-q").code == 0
    spec.write_text(replaced(SPEC, "channel: 1.32/stable", "channel: 1.33/stable"))
    r = hacc("plan", str(spec), "-o", out)
    assert "The channel of edge-paris-01 changes: 1.32/stable -> 1.33/stable" in r.out
    assert f"hacc upgrade {spec} --from 1.32/stable --to 1.33/stable" in r.out
    doc = json.loads(hacc("plan", str(spec), "-o", out, "--format", "json").out)
    (cluster,) = doc["clusters"]
    assert cluster["channel"]["from"] == "1.32/stable" and cluster["endpoint"] is None
    # The command the plan names produces the procedure.
    r = hacc(
        "upgrade",
        str(spec),
        "--from",
        "1.32/stable",
        "--to",
        "1.33/stable",
        "-o",
        str(tmp_path / "up"),
    )
    assert r.code == 0, r.err
    spec.write_text(replaced(SPEC, "channel: 1.32/stable", "channel: 1.34/stable"))
    assert "running nodes cannot follow in one upgrade" in hacc("plan", str(spec), "-o", out).out
    assert hacc("build", str(spec), "-o", out, "-q").code == 0
    assert "The channel of" not in hacc("plan", str(spec), "-o", out).out


@pytest.mark.parametrize(
    "setting",
    ["HACC_READY_TIMEOUT=15m", "HACC_DRAIN_TIMEOUT=5;id", "HACC_POLL_INTERVAL=x", "HACC_SSH= "],
)
def test_a_setting_that_is_not_seconds_stops_before_anything(tmp_path, hacc, setting) -> None:
    bench = Bench(tmp_path, hacc)
    name, value = setting.split("=", 1)
    bench.env[name] = value
    r = bench.run()
    assert r.returncode == 2 and name in r.stderr, r.stderr
    assert bench.events() == [] and not (tmp_path / "progress").exists()


def test_a_worker_that_never_comes_back_may_be_reverted(tmp_path, hacc) -> None:
    """A worker runs no datastore (no-k8s-dqlite), so its revert loses nothing the cluster has."""
    bench = Bench(tmp_path, hacc, never_ready=["w1"])
    r = bench.run()
    assert r.returncode == 1 and "w1 is not Ready" in r.stderr
    assert "`sudo snap revert microk8s` (on w1)" in r.stderr


def test_the_specs_own_channel_rolls_an_in_track_refresh_through_the_gates(tmp_path, hacc) -> None:
    """Held snaps get new revisions only this way: node by node, each gated, as an upgrade."""
    bench = Bench(tmp_path, hacc, to="1.32/stable", channel_revisions={"1.32/stable": 7002})
    r = bench.run()
    assert r.returncode == 0, r.stderr
    assert bench.order() == [step for n in CP + WORKERS for step in one_by_one(n)]
    assert {e["node"]: e["revision"] for e in bench.events("refreshed")} == dict.fromkeys(
        CP + WORKERS, 7002
    )
    assert r.stdout.count("gate (") == 2 * len(CP) + len(WORKERS)
    assert bench.events("quorum lost") == []
    assert "every node runs the newest revision of 1.32/stable" in r.stdout
    # A finished refresh is not silently "resumed" when a newer revision comes out.
    r = bench.run()
    assert r.returncode == 1 and "records this refresh as complete" in r.stderr
