"""`hacc plan --script`: the live-change procedures, run by bash against the upgrade bench's
cluster fake (bench/fake_cluster.py, with its day-2 behaviours: keepalived's election over
unicast peers, HAProxy's port, the certificates' SANs, the workers' apiserver-proxy, leave,
remove-node and tokens) reached through a fake `ssh`, and a fake `getent` for DNS."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import KEEPALIVED_EXAMPLE, replaced, run_bash
from realtools import shellchecked_script

FAKE = Path(__file__).resolve().parent / "bench" / "fake_cluster.py"
SPEC = KEEPALIVED_EXAMPLE.read_text()
ADDRESSES = {"cp1": "198.18.10.11", "cp2": "198.18.10.12", "cp3": "198.18.10.13",
             "w1": "198.18.10.21", "w2": "198.18.10.22"}  # fmt: skip
OLD_TOKEN = "old-token-0123456789abcdef0123456789"
NEW_TOKEN = "new-token-0123456789abcdef0123456789"
NEW_VIP = replaced(SPEC, "address: 198.18.10.100", "address: 198.18.10.101")
CP2_TO_CP4 = replaced(
    SPEC,
    "      - {name: cp2, address: 198.18.10.12, failureDomain: 2}\n",
    "      - {name: cp4, address: 198.18.10.14, failureDomain: 2}\n",
)
W3 = replaced(
    SPEC,
    "      - {name: w2, address: 198.18.10.22, interface: ens4}\n",
    "      - {name: w2, address: 198.18.10.22, interface: ens4}\n"
    "      - {name: w3, address: 198.18.10.23}\n",
)


class Day2Bench:
    """A cluster booted from the build of `before`, and the procedure `hacc plan --script`
    writes for `after` (built too, as the operator does before running it)."""

    def __init__(self, tmp_path: Path, hacc: Any, before: str, after: str, **env: str) -> None:
        self.dir = tmp_path
        self.spec = tmp_path / "ha-cluster.yaml"
        self.spec.write_text(before)
        self.out = tmp_path / "out"
        self.hacc = hacc
        assert hacc("build", str(self.spec), "-o", str(self.out), "-q").code == 0
        self.folder = self.out / "edge-paris-01"
        self.state = tmp_path / "cluster.json"
        self.state.write_text(
            json.dumps(
                {
                    "vrrp": True,
                    "endpoint": "https://198.18.10.100:8443",
                    "nodes": {},
                    "voters": ["cp1", "cp2", "cp3"],
                    "events": [],
                    "promote_polls": 2,
                }
            )
        )
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "ssh").symlink_to(FAKE)
        self.dns = tmp_path / "dns"
        self.set_dns("198.18.10.100")
        getent = bin_dir / "getent"
        getent.write_text('#!/bin/sh\n[ "$1" = ahostsv4 ] && cat "$BENCH_DNS"\n')
        getent.chmod(0o755)
        self.env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "BENCH_CLUSTER": str(self.state),
            "BENCH_DNS": str(self.dns),
            "HACC_READY_TIMEOUT": "120",  # the fake's waits end by polls; a stop sets 1
            "HACC_POLL_INTERVAL": "0.05",
            "HACC_PROGRESS": str(tmp_path / "progress"),
            "LANG": "C.UTF-8",
            **env,
        }
        for name, address in ADDRESSES.items():
            if f"name: {name}," in before:
                self.boot(name, address)
        self.spec.write_text(after)

    def set_dns(self, address: str) -> None:
        self.dns.write_text(f"{address}       STREAM api.paris.example.com\n")

    def boot(self, name: str, address: str, token: str = "") -> subprocess.CompletedProcess[str]:
        role = "control-plane" if name.startswith("cp") else "worker"
        folder = self.folder / "nodes" / name
        return subprocess.run(
            [str(FAKE), "--boot", name, address, role, str(folder), token],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def ssh(self, address: str, *command: str, stdin: str = "") -> int:
        return subprocess.run(
            ["ssh", address, "sudo", *command], env=self.env, input=stdin, text=True,
            capture_output=True, check=False,
        ).returncode  # fmt: skip

    def plan_and_build(self) -> Path:
        r = self.hacc("plan", str(self.spec), "-o", str(self.out), "--script", str(self.dir / "p"))
        assert r.code == 0, r.err
        self.plan_text = r.out
        assert self.hacc("build", str(self.spec), "-o", str(self.out), "-q").code == 0
        (script,) = (self.dir / "p").glob("*.sh")
        return script

    def run(self, script: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return run_bash(script, self.env, *args)

    @property
    def cluster(self) -> dict[str, Any]:
        c: dict[str, Any] = json.loads(self.state.read_text())
        return c

    def events(self, *kinds: str) -> list[dict[str, Any]]:
        return [e for e in self.cluster["events"] if not kinds or e["event"] in kinds]

    def file(self, node: str, path: str) -> str:
        content: str = self.cluster["nodes"][node]["files"][path]["content"]
        return content

    def built(self, node: str, name: str) -> str:
        return (self.folder / "nodes" / node / name).read_text()


def first(events: list[dict[str, Any]], match: Callable[[dict[str, Any]], bool]) -> int:
    return next(i for i, e in enumerate(events) if match(e))


# -- a VIP change with workers pinned to it ----------------------------------------------------


def test_the_old_plan_strands_the_pinned_workers(tmp_path, hacc) -> None:
    """What `hacc plan` said of a new VIP before it listed steps: apply-day2.sh and
    keepalived.conf on each control-plane node; for the workers, that cloud-init does not run
    again. Done in that order, the VIP moves and every worker pinned to it loses the API."""
    bench = Day2Bench(tmp_path, hacc, SPEC, NEW_VIP)
    assert hacc("build", str(bench.spec), "-o", str(bench.out), "-q").code == 0
    for name in ("cp1", "cp2", "cp3"):
        address = ADDRESSES[name]
        day2 = bench.built(name, "apply-day2.sh")
        assert bench.ssh(address, "install", "-m", "0755", "/dev/stdin",
                         "/usr/local/lib/hacc/apply-day2.sh", stdin=day2) == 0  # fmt: skip
        assert bench.ssh(address, "bash", "/usr/local/lib/hacc/apply-day2.sh") == 0
        conf = bench.built(name, "keepalived.conf")
        assert bench.ssh(address, "install", "-m", "0644", "/dev/stdin",
                         "/etc/keepalived/keepalived.conf", stdin=conf) == 0  # fmt: skip
        assert bench.ssh(address, "systemctl", "reload", "keepalived") == 0
    stranded = sorted(e["node"] for e in bench.events("worker lost the API"))
    assert stranded == ["w1", "w2"]


def test_a_new_vip_keeps_every_pinned_worker_on_the_api(tmp_path, hacc) -> None:
    bench = Day2Bench(tmp_path, hacc, SPEC, NEW_VIP)
    script = bench.plan_and_build()
    # The plan lists the steps by node, in their order.
    assert "  DNS:\n     4. api.paris.example.com resolves to 198.18.10.101\n" in bench.plan_text
    assert "  w1:\n     5. apiserver-proxy: 198.18.10.100:8443 and 198.18.10.101:8443\n" in (
        bench.plan_text
    )
    # The DNS record is not updated yet: the procedure stops there, the VIP unmoved.
    r = bench.run(script)
    assert r.returncode == 1 and "Point the DNS record api.paris.example.com at 198.18.10.101" in (
        r.stderr
    ), r.stderr
    assert bench.events("keepalived reload") == []
    bench.set_dns("198.18.10.101")
    r = bench.run(script)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cp1:apply-day2: already done" in r.stdout
    events = bench.events()
    assert bench.events("worker lost the API", "two VIP holders") == []
    # Every SAN before the VIP moves, both addresses on the workers before it moves.
    reloads = first(events, lambda e: e["event"] == "keepalived reload")
    assert [e["node"] for e in events[:reloads] if e["event"] == "apply-day2"] == [
        "cp1",
        "cp2",
        "cp3",
    ]
    assert all("198.18.10.101" in e["added"] for e in bench.events("apply-day2"))
    restarts = [e for e in events[:reloads] if e["event"] == "apiserver-proxy restarted"]
    both = ["198.18.10.100:8443", "198.18.10.101:8443"]
    assert {e["node"]: e["proxy"] for e in restarts} == {"w1": both, "w2": both}
    # The VIP holder (cp1, the highest priority) reloads last.
    order = [e["node"] for e in events if e["event"] == "keepalived reload"]
    assert order == ["cp3", "cp2", "cp1"]
    c = bench.cluster
    for name in ("cp1", "cp2", "cp3"):
        assert c["nodes"][name]["keepalived"]["vip"] == "198.18.10.101"
        # The staged copies a bootstrap re-run installs are the new ones.
        new = bench.built(name, "keepalived.conf")
        assert bench.file(name, "/etc/keepalived/keepalived.conf") == new
        assert bench.file(name, "/usr/local/lib/hacc/keepalived.conf") == new
    for name in ("w1", "w2"):
        assert c["nodes"][name]["proxy"] == ["198.18.10.101:8443"]
        staged = bench.file(name, "/usr/local/lib/hacc/apiserver-proxy-provider.yaml")
        assert staged.endswith('        - address: "198.18.10.101:8443"\n')
        assert "198.18.10.100" not in staged
    # Done is done: a rerun touches nothing.
    before = len(bench.events())
    assert bench.run(script).returncode == 0
    assert len(bench.events()) == before


def test_dry_run_of_a_procedure_changes_nothing(tmp_path, hacc) -> None:
    bench = Day2Bench(tmp_path, hacc, SPEC, NEW_VIP)
    script = bench.plan_and_build()
    before = bench.events()
    r = bench.run(script, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert bench.events() == before and not (tmp_path / "progress").exists()
    assert "198.18.10.21: snap restart microk8s.daemon-apiserver-proxy" in r.stdout


# -- a control-plane replacement ----------------------------------------------------------------


def test_booting_the_replacement_before_the_pushes_makes_two_vip_holders(tmp_path, hacc) -> None:
    """Why the configurations go out before the new node boots: its keepalived lists the
    others as peers, but theirs do not list it yet, so it hears no advert and takes the VIP."""
    bench = Day2Bench(tmp_path, hacc, SPEC, CP2_TO_CP4)
    assert hacc("build", str(bench.spec), "-o", str(bench.out), "-q").code == 0
    assert bench.boot("cp4", "198.18.10.14").returncode == 0
    assert bench.events("two VIP holders") == [
        {"event": "two VIP holders", "nodes": ["cp1", "cp4"]}
    ]


def test_a_control_plane_replacement_adds_before_it_removes(tmp_path, hacc) -> None:
    bench = Day2Bench(tmp_path, hacc, SPEC, CP2_TO_CP4)
    script = bench.plan_and_build()
    # The new node gets its labels, files and commands at its first boot: no live step.
    assert "Extension points" not in bench.plan_text
    bench.env["HACC_READY_TIMEOUT"] = "1"
    r = bench.run(script)
    bench.env["HACC_READY_TIMEOUT"] = "120"
    # It stops at the new node, which is not booted yet: cp2 is still a voter.
    assert r.returncode == 1 and "cp4 (198.18.10.14) is not a datastore node" in r.stderr
    assert "No node has left yet" in r.stderr
    assert bench.cluster["voters"] == ["cp1", "cp2", "cp3"]
    assert [e["node"] for e in bench.events("keepalived stop")] == ["cp2"]
    for name in ("cp1", "cp3"):  # the peers and backends of the spec, before cp4 boots
        for conf, path in (("keepalived.conf", "/etc/keepalived"), ("haproxy.cfg", "/etc/haproxy")):
            assert bench.file(name, f"{path}/{conf}") == bench.built(name, conf)
            assert bench.file(name, f"/usr/local/lib/hacc/{conf}") == bench.built(name, conf)
    assert bench.boot("cp4", "198.18.10.14").returncode == 0
    r = bench.run(script)
    assert r.returncode == 0, r.stdout + r.stderr
    events = bench.events()
    assert bench.events("two VIP holders") == []
    booted = first(events, lambda e: e == {"event": "booted", "node": "cp4"})
    left = first(events, lambda e: e == {"event": "left", "node": "cp2"})
    promoted = first(events, lambda e: e["event"] == "promoted")
    removed = first(events, lambda e: e["event"] == "removed")
    assert booted < left < promoted < removed
    c = bench.cluster
    assert sorted(c["voters"]) == ["cp1", "cp3", "cp4"] and "cp2" not in c["nodes"]


def test_a_dead_departing_node_is_removed_before_its_replacement_joins(tmp_path, hacc) -> None:
    """Joining while a dead voter is still listed in dqlite has crashed clusters
    (canonical/microk8s#2348): a departing node ssh cannot reach goes first, with --force."""
    bench = Day2Bench(tmp_path, hacc, SPEC, CP2_TO_CP4)
    script = bench.plan_and_build()
    c = bench.cluster
    c["nodes"]["cp2"].update(address="198.18.10.99", ready=False)  # dead: no route to .12
    c["nodes"]["cp2"]["keepalived"]["running"] = False
    bench.state.write_text(json.dumps(c))
    bench.env["HACC_READY_TIMEOUT"] = "1"
    r = bench.run(script)
    bench.env["HACC_READY_TIMEOUT"] = "120"
    assert r.returncode == 1 and "cp4 (198.18.10.14) is not a datastore node" in r.stderr
    assert "198.18.10.11: microk8s remove-node cp2 --force" in r.stdout
    assert bench.cluster["voters"] == ["cp1", "cp3"] and "cp2" not in bench.cluster["nodes"]
    assert bench.boot("cp4", "198.18.10.14").returncode == 0
    r = bench.run(script)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cp2: removed already" in r.stdout
    assert sorted(bench.cluster["voters"]) == ["cp1", "cp3", "cp4"]
    assert bench.events("two VIP holders") == []


# -- a token rotation -------------------------------------------------------------------------


def test_a_token_rotation_revokes_the_old_tokens(tmp_path, hacc, monkeypatch) -> None:
    rotated = replaced(
        W3, "joinToken: {env: HACC_JOIN_TOKEN}", "joinToken: {env: HACC_JOIN_TOKEN_2}"
    )
    monkeypatch.setenv("HACC_JOIN_TOKEN", OLD_TOKEN)
    monkeypatch.setenv("HACC_JOIN_TOKEN_2", NEW_TOKEN)
    bench = Day2Bench(tmp_path, hacc, W3, rotated)
    old, new = tmp_path / "private-old", tmp_path / "private-new"
    bench.spec.write_text(W3)
    assert hacc("materialize", str(bench.spec), "-o", str(old)).code == 0
    # cp1's first boot registered w3's token and the persistent one (the bootstrap, the
    # launch configuration); w3 has not booted yet.
    old_w3 = (old / "edge-paris-01/nodes/w3/join-token").read_text().strip()
    assert bench.ssh("198.18.10.11", "microk8s", "add-node", "--token", old_w3) == 0
    for address in ("198.18.10.11", "198.18.10.12", "198.18.10.13"):
        path = "/var/snap/microk8s/current/credentials/persistent-cluster-tokens.txt"
        assert bench.ssh(address, "install", "-m", "0660", "-g", "microk8s", "/dev/stdin", path,
                         stdin=OLD_TOKEN + "\n") == 0  # fmt: skip
    bench.spec.write_text(rotated)
    assert hacc("materialize", str(bench.spec), "-o", str(new)).code == 0
    script = bench.plan_and_build()
    assert "revoked" in bench.plan_text and "register w3's single-use join token" in bench.plan_text
    bench.env.update(
        HACC_TOKENS=str(new / "edge-paris-01"), HACC_OLD_TOKENS=str(old / "edge-paris-01")
    )
    r = bench.run(script)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "w1: has joined; its token stays spent" in r.stdout
    c = bench.cluster
    for name in ("cp1", "cp2", "cp3"):
        f = c["nodes"][name]["files"][
            "/var/snap/microk8s/current/credentials/persistent-cluster-tokens.txt"
        ]
        assert (f["content"], f["mode"], f["group"]) == (NEW_TOKEN + "\n", "0660", "microk8s")
    new_w3 = (new / "edge-paris-01/nodes/w3/join-token").read_text().strip()
    tokens = bench.file("cp1", "/var/snap/microk8s/current/credentials/cluster-tokens.txt")
    assert tokens.splitlines() == [new_w3]
    # The old token admits nobody any more; the new one admits w3, once.
    assert bench.boot("w3", "198.18.10.23", old_w3).returncode == 6
    assert bench.boot("w3", "198.18.10.23", new_w3).returncode == 0


def test_without_the_procedure_the_old_worker_token_still_joins(tmp_path, hacc) -> None:
    """The bench's record of the breakage: a rotation that only changes the spec leaves the
    old single-use worker token registered, and it joins."""
    bench = Day2Bench(tmp_path, hacc, W3, W3)
    assert bench.ssh("198.18.10.11", "microk8s", "add-node", "--token", OLD_TOKEN) == 0
    assert bench.boot("w3", "198.18.10.23", OLD_TOKEN).returncode == 0


# -- every procedure ------------------------------------------------------------------------


KUBE_VIP = (KEEPALIVED_EXAMPLE.parent / "kube-vip.yaml").read_text()
EXTERNAL = (KEEPALIVED_EXAMPLE.parent / "external-lb.yaml").read_text()
ROTATED = replaced(SPEC, "joinToken: {env: HACC_JOIN_TOKEN}", "joinToken: {env: HACC_JOIN_TOKEN_2}")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (SPEC, NEW_VIP),
        (SPEC, CP2_TO_CP4),
        (SPEC, W3),
        (SPEC, replaced(SPEC, "port: 8443", "port: 9443")),
        (SPEC, ROTATED),
        (KUBE_VIP, replaced(KUBE_VIP, "address: 198.18.20.50", "address: 198.18.20.51")),
        (EXTERNAL, replaced(EXTERNAL, "- {name: cp-c1, address: 198.18.34.11",
                            "- {name: cp-c2, address: 198.18.34.12")),
    ],
    ids=["vip", "replacement", "new-worker", "port", "rotation", "kube-vip", "external"],
)  # fmt: skip
def test_procedures_are_shellcheck_clean_and_deterministic(tmp_path, hacc, before, after) -> None:
    spec = tmp_path / "ha-cluster.yaml"
    spec.write_text(before)
    out = str(tmp_path / "out")
    assert hacc("build", str(spec), "-o", out, "-q").code == 0
    spec.write_text(after)
    texts = []
    for d in ("a", "b"):
        r = hacc("plan", str(spec), "-o", out, "--script", str(tmp_path / d))
        assert r.code == 0, r.err
        texts.append({p.name: p.read_bytes() for p in (tmp_path / d).iterdir()})
    assert texts[0] == texts[1]
    script = shellchecked_script(tmp_path / "a")
    # The page has the same steps as the script, which has those of plan's JSON.
    doc = json.loads(hacc("plan", str(spec), "-o", out, "--format", "json").out)
    steps = [st for c in doc["clusters"] for st in c["steps"]]
    assert steps
    page = script.with_suffix(".md").read_text()
    for st in steps:
        assert f"#   {st['node']}: {st['step']}\n" in script.read_text()
        assert f"{st['number']}. **{st['node']}**: {st['step']}." in page
    dry = subprocess.run(
        ["bash", str(script), "--dry-run"], capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin"}, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert dry.returncode == 0 and "dry run: nothing changes" in dry.stdout, dry.stderr


def test_no_live_steps_no_procedure(tmp_path, hacc) -> None:
    spec = tmp_path / "ha-cluster.yaml"
    spec.write_text(SPEC)
    out = str(tmp_path / "out")
    assert hacc("build", str(spec), "-o", out, "-q").code == 0
    r = hacc("plan", str(spec), "-o", out, "--script", str(tmp_path / "p"))
    assert r.code == 0 and "no procedure written" in r.err and not (tmp_path / "p").exists()


def test_a_rename_says_what_it_means_live(tmp_path, hacc) -> None:
    """A renamed cluster is the same running cluster: no node to boot, GitOps objects to move
    without deleting what they applied."""
    spec = tmp_path / "ha-cluster.yaml"
    spec.write_text(SPEC)
    out = str(tmp_path / "out")
    assert hacc("build", str(spec), "-o", out, "-q").code == 0
    spec.write_text(replaced(SPEC, "name: edge-paris-01", "name: edge-paris-02"))
    r = hacc("plan", str(spec), "-o", out, "--script", str(tmp_path / "p"))
    assert r.code == 0
    assert "Rename: cluster edge-paris-01 -> edge-paris-02" in r.out
    assert "the running nodes need nothing" in r.out
    assert "kubectl -n argocd delete application hacc-edge-paris-01" in r.out
    assert "boot the new node" not in r.out
    assert "no procedure written" in r.err
    doc = json.loads(hacc("plan", str(spec), "-o", out, "--format", "json").out)
    (cluster,) = [c for c in doc["clusters"] if c["name"] == "edge-paris-02"]
    assert cluster["renamed_from"] == "edge-paris-01" and cluster["steps"] == []
