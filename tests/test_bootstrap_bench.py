"""Every generated bootstrap script on the bootstrap bench (bootbench.py): a node ends configured
exactly as its launch configuration says, or exits non-zero naming the runbook section, never
`done` with MicroK8s's defaults. The fakes reproduce sourced MicroK8s behaviour only."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from bench import node_tree
from bootbench import Boot, boot, root_is_unchanged
from conftest import EXAMPLES, replaced
from hacc.compiler.frontend import analyze
from hacc.compiler.model import KEEPALIVED_HAPROXY, KUBE_VIP, Cluster, Node
from hacc.outdir.secret_store import fill_tokens, worker_token
from hacc.targets import render_cluster
from hacc.targets.user_data import LAUNCH_SOURCE, provider_yaml

pytestmark = pytest.mark.slow

SNAP_DATA = node_tree.DATA
TOKEN = "Bench-cluster-token-0123456789abcdef"  # 36 characters of the join-URL alphabet
BY_STEM = {p.stem: p for p in EXAMPLES}


@cache
def compiled(stem: str) -> tuple[Cluster, dict[str, str]]:
    cluster = analyze(BY_STEM[stem]).cluster
    assert cluster is not None
    return cluster, {a.path: a.content for a in render_cluster(cluster)}


def user_data(stem: str, node: Node, *, materialized: bool = True) -> str:
    cluster, arts = compiled(stem)
    text = arts[f"nodes/{node.name}/user-data.yaml"]
    return fill_tokens(text, TOKEN, cluster.name) if materialized else text


def launch_config(ud: str) -> str:
    files = yaml.safe_load(ud)["write_files"]
    return next(f["content"] for f in files if f["path"] == LAUNCH_SOURCE)


def runbook_sections(stem: str) -> dict[str, str]:
    return dict(re.findall(r"^## (\d+)\. (.+)$", compiled(stem)[1]["RUNBOOK.md"], re.M))


def failed_with(b: Boot, stem: str, section: str, text: str) -> None:
    assert b.rc != 0, b.output
    assert "hacc-bootstrap: done" not in b.output
    last = b.output.strip().splitlines()[-1]
    assert text in last and f"(see RUNBOOK.md section {section})" in last, last
    assert section in runbook_sections(stem)


def configured(b: Boot, ud: str, node: Node) -> None:
    """The node ended as hacc's launch configuration says."""
    assert b.rc == 0, b.output
    assert b.output.strip().endswith("hacc-bootstrap: done")
    assert (b.launcher / "install.yaml.applied").read_text() == launch_config(ud)
    assert not b.happened("install hook took the default launch configuration")
    assert not b.happened("kicker restarted cluster-agent, kubelite and containerd")
    log = (b.result / "hacc-bootstrap.log").read_text()
    assert TOKEN not in log and not re.search(r"\b[0-9a-f]{32}\b", log), "a token reached the log"
    # Every node holds MicroK8s's refreshes (hacc upgrade rolls them), once it is installed.
    held = b.happened("refresh held")
    assert held and b.events.index(held[0]) > b.events.index(b.happened("installed")[-1])
    if node.is_control_plane:
        assert (b.snap_data / "var/lock/no-cert-reissue").exists()
        # the domain the running datastore took at its last start
        assert b.happened("k8s-dqlite started")[-1]["failure_domain"] == node.failure_domain
        assert b.read("args/ha-conf") == f"failure-domain={node.failure_domain}\n"


@pytest.fixture
def work(tmp_path: Path):
    before = root_is_unchanged()
    yield tmp_path
    assert root_is_unchanged() == before


@pytest.mark.parametrize("stem", sorted(BY_STEM))
def test_first_node_forms_and_keeps_its_certificate_when_the_vip_arrives(stem, work) -> None:
    cluster, arts = compiled(stem)
    node = cluster.first
    ud = user_data(stem, node)
    b = boot(cluster, node, ud, work / "n", vip_after=cluster.mode == KUBE_VIP)
    configured(b, ud, node)
    issued = b.happened("certificate issued")
    assert len(issued) == 1 and set(cluster.sans) | {node.address} <= set(issued[0]["sans"])
    if cluster.mode == KEEPALIVED_HAPROXY:
        # keepalived put the VIP on this node, after the lock: no restart followed.
        assert b.happened("VIP added")
        assert (b.result / "keepalived.conf").read_text() == arts[
            f"nodes/{node.name}/keepalived.conf"
        ]
        assert (b.result / "haproxy.cfg").read_text() == arts[f"nodes/{node.name}/haproxy.cfg"]
    tokens = b.read("credentials/cluster-tokens.txt").splitlines() if cluster.workers else []
    # One single-use token (no `|expiry`) per worker, none of them the cluster's token.
    assert tokens == [worker_token(TOKEN, cluster.name, w.name) for w in cluster.workers]
    assert b.read("credentials/persistent-cluster-tokens.txt").split() == [TOKEN, TOKEN]


@pytest.mark.parametrize("drop", ["lock", "lock and advertise address"])
def test_the_kicker_of_the_bench_restarts_a_node_only_without_both(drop, work) -> None:
    """The fault the lock and --advertise-address each prevent, shown on the bench: without
    both, the VIP arriving makes the kicker re-issue the certificate and restart the node."""
    cluster, _ = compiled("keepalived-haproxy")
    node = cluster.first
    ud = user_data("keepalived-haproxy", node)
    lock = 'touch "$SNAP_DATA/var/lock/no-cert-reissue"\n'
    advertise = f"--advertise-address: {node.address}\n"
    # cp1 also stages the launch configuration that joins another node (replaced alike)
    assert ud.count(lock) == 1 and ud.count(advertise) == 2
    ud = ud.replace(lock, "true\n")  # the founding branch then takes no lock
    if drop != "lock":  # null removes the flag (pkg/snap/services.go UpdateServiceArguments)
        ud = ud.replace(advertise, "--advertise-address: null\n")
    b = boot(cluster, node, ud, work / "n")
    assert b.happened("VIP added")
    restarted = b.happened("kicker restarted cluster-agent, kubelite and containerd")
    assert bool(restarted) == (drop != "lock")


def test_joining_control_plane_node_restarts_the_datastore_into_its_failure_domain(work) -> None:
    cluster, _ = compiled("keepalived-haproxy")
    node = cluster.control_plane[1]
    assert node.failure_domain != 1
    ud = user_data("keepalived-haproxy", node)
    b = boot(cluster, node, ud, work / "n", persistent_tokens=(TOKEN,))
    configured(b, ud, node)
    starts = [e["failure_domain"] for e in b.happened("k8s-dqlite started")]
    # The join started the datastore before its failure domain was there; the restart fixed it.
    assert starts[-2:] == [0, node.failure_domain]
    assert b.happened("joined") == [{"event": "joined", "worker": False, "locked_before": False}]
    # With --advertise-address the kicker repairs the CA mismatch while join.py sleeps, under
    # join-in-progress, so nothing restarts after the join.
    kinds = [e["event"] for e in b.events]
    resigned = kinds.index("kicker re-signed the certificate with the cluster's CA")
    assert b.events[resigned]["join_in_progress"] is True
    assert resigned < kinds.index("joined")
    assert not b.happened("kicker restarted cluster-agent, kubelite and containerd")
    # ... and the cluster-agent is restarted to serve the re-signed certificate.
    agent = {"event": "restarted", "service": "microk8s.daemon-cluster-agent"}
    assert kinds.index("joined") < b.events.index(agent)
    assert node_tree.differences(b.result / "root", "control plane") == []
    assert (
        b.read("args/kube-apiserver").splitlines().count(f"--advertise-address={node.address}") == 1
    )
    assert f"--node-ip={node.address}" in b.read("args/kubelet").splitlines()


def test_worker_joins_with_its_own_token_registered_by_the_first_node(work) -> None:
    cluster, _ = compiled("keepalived-haproxy")
    first = boot(
        cluster, cluster.first, user_data("keepalived-haproxy", cluster.first), work / "cp"
    )
    registered = tuple(first.read("credentials/cluster-tokens.txt").split())
    worker = cluster.workers[0]
    ud = user_data("keepalived-haproxy", worker)
    assert TOKEN not in ud
    b = boot(cluster, worker, ud, work / "w", single_use_tokens=registered)
    configured(b, ud, worker)
    joined = {"event": "joined", "worker": True, "url_host": cluster.first.address}
    assert b.happened("joined") == [{**joined, "locked_before": False}]
    assert node_tree.differences(b.result / "root", "worker") == []
    # The cluster-agent consumed the worker's single-use token at the join.
    left = (b.state / "contacted" / SNAP_DATA / "credentials/cluster-tokens.txt").read_text()
    assert worker_token(TOKEN, cluster.name, worker.name) not in left.split()
    assert f"--node-ip={worker.address}" in b.read("args/kubelet").splitlines()
    # Pinned to the VIP: refresh off, and the provider lists the VIP only.
    assert "--refresh-interval=0s" in b.read("args/apiserver-proxy").splitlines()
    assert b.read("args/traefik/provider.yaml") == provider_yaml(cluster)
    # With only the cluster's token on the first node, the worker could not join at all.
    refused = boot(cluster, worker, ud, work / "w2", persistent_tokens=(TOKEN,))
    assert refused.rc != 0 and refused.happened("join refused")


def test_the_bootstrap_leaves_microk8s_modes_alone(work) -> None:
    """The first node's lock goes into var/lock without changing the folder's 0770: non-root
    members of the microk8s group read it (scripts/wrappers/status.py, `microk8s enable`)."""
    cluster, _ = compiled("keepalived-haproxy")
    b = boot(cluster, cluster.first, user_data("keepalived-haproxy", cluster.first), work / "n")
    assert b.rc == 0, b.output
    assert node_tree.differences(b.result / "root", "installed") == []


def test_extension_points_reach_the_node_in_order(work) -> None:
    """examples/keepalived-haproxy.yaml: the site's proxy, a file, a preCommand, labels."""
    cluster, _ = compiled("keepalived-haproxy")
    node = cluster.first
    ud = user_data("keepalived-haproxy", node)
    b = boot(cluster, node, ud, work / "n")
    configured(b, ud, node)
    kinds = [e["event"] for e in b.events]
    proxy = cluster.proxy
    assert proxy is not None
    # snapd has its proxy before the install downloads anything; the preCommand ran before too.
    (snap_set,) = b.happened("snap set system")
    assert snap_set == {
        "event": "snap set system",
        "options": [f"proxy.http={proxy.http}", f"proxy.https={proxy.https}"],
        "installed": False,
    }
    # The preCommand ran with the proxy, after snapd was seeded and given it, before the install.
    proxied = {"https_proxy": proxy.https, "HTTPS_PROXY": proxy.https}
    pre = {"event": "systemctl", "args": ["restart", "systemd-timesyncd"], "proxy": proxied}
    assert kinds.index("snap wait seed") < kinds.index("snap set system") < b.events.index(pre)
    assert b.events.index(pre) < kinds.index("installed")
    # containerd's environment was in place at install, before containerd ever started.
    lines = b.read("args/containerd-env").splitlines()
    env = dict(ln.split("=", 1) for ln in lines if "=" in ln and not ln.startswith("#"))
    assert env["HTTPS_PROXY"] == proxy.https and "10.152.183.0/24" in env["NO_PROXY"].split(",")
    # The label timer is on once the node has done its part.
    timer = {"event": "systemctl", "args": ["enable", "--now", "hacc-node-labels.timer"]}
    assert timer in b.events and b.events.index(timer) > kinds.index("installed")
    log = b.output
    assert log.index("running: systemctl restart systemd-timesyncd") < log.index(
        "installing MicroK8s"
    )


def test_a_failing_pre_command_stops_the_bootstrap_before_the_install(work) -> None:
    cluster, _ = compiled("kube-vip")
    ud = user_data("kube-vip", cluster.first).replace("sysctl --system", "false")
    b = boot(cluster, cluster.first, ud, work / "n")
    failed_with(b, "kube-vip", "11", "a preCommand of the spec failed")
    assert not b.happened("installed") and not b.happened("sysctl")


def test_first_install_attempt_fails(work) -> None:
    cluster, _ = compiled("kube-vip")
    ud = user_data("kube-vip", cluster.first)
    b = boot(cluster, cluster.first, ud, work / "n", install_failures=1, vip_after=True)
    assert len(b.happened("install failed and was undone")) == 1
    configured(b, ud, cluster.first)


def test_install_never_succeeds(work) -> None:
    cluster, _ = compiled("kube-vip")
    b = boot(
        cluster,
        cluster.first,
        user_data("kube-vip", cluster.first),
        work / "n",
        install_failures=99,
    )
    assert len(b.happened("install failed and was undone")) == 10
    failed_with(b, "kube-vip", "9", "snap install microk8s failed 10 times")


def test_preinstalled_microk8s_is_refused(work) -> None:
    cluster, _ = compiled("keepalived-haproxy")
    b = boot(
        cluster,
        cluster.first,
        user_data("keepalived-haproxy", cluster.first),
        work / "n",
        preinstalled=True,
    )
    failed_with(b, "keepalived-haproxy", "9", "installed before hacc ran")
    # The load balancer never started (the spec's preCommand restarts only timesyncd).
    started = [e for e in b.happened("systemctl") if "keepalived" in e["args"]]
    assert not started and not b.happened("VIP added")


@pytest.mark.parametrize("role", ["control plane", "worker"])
def test_placeholder_token_is_refused_before_anything_happens(role, work) -> None:
    cluster, _ = compiled("keepalived-haproxy")
    node = cluster.first if role == "control plane" else cluster.workers[0]
    b = boot(cluster, node, user_data("keepalived-haproxy", node, materialized=False), work / "n")
    failed_with(b, "keepalived-haproxy", "1", "still holds a placeholder join token")
    assert b.events == []


@pytest.mark.parametrize("which", ["control plane", "worker"])
def test_join_never_succeeds(which, work) -> None:
    cluster, _ = compiled("external-lb")
    node = cluster.control_plane[1] if which == "control plane" else cluster.workers[0]
    b = boot(cluster, node, user_data("external-lb", node), work / "n", join="never")
    failed_with(
        b, "external-lb", "9", f"not applied after 15 minutes (join to {cluster.first.name})"
    )
    journal = (b.state / "cluster-agent.journal").read_text()
    assert "invalid token" in journal  # where RUNBOOK.md section 9 says to look


def test_a_rerun_after_a_replacement_keeps_the_new_peers(work, tmp_path) -> None:
    """RUNBOOK.md section 9 invites running the bootstrap again. After cp3 was replaced by cp4,
    the day-2 push (new unicast peers and backends, `systemctl reload`) rewrote cp1's live
    keepalived.conf and haproxy.cfg; the staged first-boot copies still name cp3. A re-run must
    keep the live files: with cp3's old peers back, cp4 and cp1 would both hold the VIP."""
    cluster, _ = compiled("keepalived-haproxy")
    spec = tmp_path / "replaced.yaml"
    spec.write_text(
        replaced(
            BY_STEM["keepalived-haproxy"].read_text(),
            "{name: cp3, address: 198.18.10.13, failureDomain: 3}",
            "{name: cp4, address: 198.18.10.14, failureDomain: 3}",
        )
    )
    after = analyze(spec).cluster
    assert after is not None
    new = {a.path: a.content for a in render_cluster(after)}
    keepalived, haproxy = (new[f"nodes/cp1/{n}"] for n in ("keepalived.conf", "haproxy.cfg"))
    assert "198.18.10.14" in keepalived and "198.18.10.13" not in keepalived
    push = (tmp_path / "push").resolve()
    push.mkdir()
    (push / "keepalived.conf").write_text(keepalived)
    (push / "haproxy.cfg").write_text(haproxy)
    then = (
        f"cp {push}/keepalived.conf /etc/keepalived/keepalived.conf\n"
        f"cp {push}/haproxy.cfg /etc/haproxy/haproxy.cfg\n"
        "systemctl reload haproxy keepalived\n"
    )
    ud = user_data("keepalived-haproxy", cluster.first)
    b = boot(cluster, cluster.first, ud, work / "n", then=then)
    configured(b, ud, cluster.first)
    assert b.rerun is not None
    rc, output = b.rerun
    assert rc == 0 and output.strip().endswith("hacc-bootstrap: done"), output
    assert (b.result / "keepalived.conf").read_text() == keepalived, "cp3's peers came back"
    assert (b.result / "haproxy.cfg").read_text() == haproxy
    assert "keeping /etc/keepalived/keepalived.conf" in output
    # Nothing else was undone either: the worker tokens stay as the first run left them.
    assert len(b.happened("installed")) == 1


def staged(ud: str, path: str) -> str:
    return next(f["content"] for f in yaml.safe_load(ud)["write_files"] if f["path"] == path)


def test_a_first_node_booted_into_a_running_cluster_joins_it(work) -> None:
    """A replacement of cp1 (or a restored cp1, an auto-scaling group) booted with cp1's
    user-data while the others run the cluster (cp2 down, cp3 up): founding would make a second
    cluster with a new CA behind the same VIP. It joins cp3 instead (RUNBOOK.md section 10)."""
    cluster, _ = compiled("keepalived-haproxy")
    node, cp2, cp3 = cluster.control_plane
    ud = user_data("keepalived-haproxy", node)
    b = boot(
        cluster, node, ud, work / "n", accepted_tokens=(TOKEN,), clustered_peers=(cp3.address,)
    )
    assert b.rc == 0, b.output
    assert b.happened("join contacted") == [
        {"event": "join contacted", "host": cp3.address, "worker": False}
    ]
    # It took node 1's joining launch configuration, with cp3's address in the join URL.
    applied = (b.launcher / "install.yaml.applied").read_text()
    join = staged(ud, "/usr/local/lib/hacc/microk8s-launch-join.yaml")
    assert applied == join.replace(f"'{cp2.address}:25000/", f"'{cp3.address}:25000/")
    (first, *_) = yaml.safe_load_all(applied)
    assert "addons" not in first and first["join"]["url"].startswith(f"{cp3.address}:")
    # A joiner: no early certificate lock (the join replaces the CA), the datastore restarted
    # into its failure domain, and the VIP only after the join.
    assert b.happened("joined") == [{"event": "joined", "worker": False, "locked_before": False}]
    assert b.happened("k8s-dqlite started")[-1]["failure_domain"] == node.failure_domain
    assert b.events.index(b.happened("joined")[0]) < b.events.index(b.happened("VIP added")[0])
    assert "already runs this cluster: joining it instead of founding a new one" in b.output
    # Its worker tokens are registered here too, so it can admit workers like any other.
    tokens = b.read("credentials/cluster-tokens.txt").split()
    assert tokens == [worker_token(TOKEN, cluster.name, w.name) for w in cluster.workers]


def test_joiners_go_through_another_control_plane_node_when_the_first_is_gone(work) -> None:
    """cp1 is lost; cp2 runs the cluster. A new worker (its token registered on every control-
    plane node) joins through cp2 without any change to the spec."""
    cluster, _ = compiled("keepalived-haproxy")
    worker, cp2 = cluster.workers[0], cluster.control_plane[1]
    ud = user_data("keepalived-haproxy", worker)
    token = worker_token(TOKEN, cluster.name, worker.name)
    b = boot(
        cluster, worker, ud, work / "w", accepted_tokens=(token,), clustered_peers=(cp2.address,)
    )
    assert b.rc == 0, b.output
    assert b.happened("join contacted") == [
        {"event": "join contacted", "host": cp2.address, "worker": True}
    ]
    assert f"waiting to join {cp2.name} ({cp2.address}) as a worker" in b.output
    # Pinned to the VIP all the same.
    assert b.read("args/traefik/provider.yaml") == provider_yaml(cluster)


def test_a_join_that_lands_after_the_bootstrap_gave_up_is_finished(work) -> None:
    """After the bootstrap's 15 minutes the cluster-agent keeps retrying the launch
    configuration (microk8s-cluster-agent cmd/cluster-agent.go: every file not yet .applied, on
    every tick). A join that lands then must not leave a worker pinned to cp1 with the refresh
    off: the bootstrap armed a path unit, which runs it again once the file is applied."""
    cluster, _ = compiled("keepalived-haproxy")
    worker = cluster.workers[0]
    ud = user_data("keepalived-haproxy", worker)
    token = worker_token(TOKEN, cluster.name, worker.name)
    # What happens later: cp1 admits the worker, the launcher's next tick joins it; then the
    # path unit fires (systemd.path PathExists=), which the bench plays as the second run.
    late = (
        "/usr/bin/python3 -c 'import json, sys; p = sys.argv[1]; c = json.load(open(p)); "
        'c["join"] = "ok"; c["accepted_tokens"] = [sys.argv[2]]; json.dump(c, open(p, "w"))\' '
        f'"$BENCH_CONFIG" {token}\n'
        "tick\n"
        "test -e /var/snap/microk8s/common/etc/launcher/install.yaml.applied\n"
        # Only an armed path unit runs the bootstrap again.
        'grep -qF \'"enable", "--now", "hacc-bootstrap-resume.path"\' '
        '"$BENCH_STATE/events.jsonl" || touch "$(dirname "$BENCH_CONFIG")/no-rerun"\n'
    )
    b = boot(cluster, worker, ud, work / "w", join="never", then=late)
    assert b.rc != 0
    # The join landed late, and the node was finished: pinned to the VIP.
    assert b.happened("joined")
    assert b.read("args/traefik/provider.yaml") == provider_yaml(cluster), "half-configured"
    failed_with(b, "keepalived-haproxy", "9", "the cluster-agent keeps retrying")
    assert b.rerun is not None
    rc, output = b.rerun
    assert rc == 0 and output.strip().endswith("hacc-bootstrap: done"), output
    # The path unit is off again.
    assert {"event": "systemctl", "args": ["disable", "--now", "hacc-bootstrap-resume.path"]} in (
        b.events
    )


def test_a_token_a_failed_join_spent_is_registered_again_until_the_worker_joins(work) -> None:
    """The cluster-agent removes a single-use token at the first check of a join, before the
    checks that can still fail (microk8s-cluster-agent pkg/snap/snap.go ConsumeClusterToken,
    then pkg/api/v2/join.go: "already known to dqlite", the dqlite rebind, the CA...). The
    worker's cluster-agent then retries a spent token. The control-plane node's timer registers
    it again while the worker has not joined, and revokes it once it has."""
    cluster, _ = compiled("keepalived-haproxy")
    w1 = cluster.workers[0]
    spent = worker_token(TOKEN, cluster.name, w1.name)
    tokens = "/var/snap/microk8s/current/credentials/cluster-tokens.txt"
    timer_run = "bash /usr/local/lib/hacc/worker-tokens.sh || true\n"  # what the timer runs
    then = (
        'out=$(dirname "$BENCH_CONFIG")\n'
        # a join that presented w1's token and failed later: ConsumeClusterToken removed it
        f"grep -vxF {spent} {tokens} > /tmp/t || true; cat /tmp/t > {tokens}\n"
        f"cp {tokens} $out/tokens-spent\n" + timer_run + f"cp {tokens} $out/tokens-after-timer\n"
        # w1 joins at last (its Node registers); the timer runs again
        "/usr/bin/python3 -c 'import json, sys; p = sys.argv[1]; c = json.load(open(p)); "
        f'c["cluster_nodes"].append("{w1.name}"); json.dump(c, open(p, "w"))\' "$BENCH_CONFIG"\n'
        + timer_run
        + f"cp {tokens} $out/tokens-after-join\n"
        'touch "$out/no-rerun"\n'
    )
    b = boot(cluster, cluster.first, user_data("keepalived-haproxy", cluster.first), work / "n",
             then=then)  # fmt: skip
    assert b.rc == 0, b.output
    out = work / "n"
    assert spent not in (out / "tokens-spent").read_text().split()
    assert spent in (out / "tokens-after-timer").read_text().split(), "the worker is locked out"
    # Joined: no copy of its token is left on this node; the other worker's stays.
    after = (out / "tokens-after-join").read_text().split()
    assert spent not in after
    assert worker_token(TOKEN, cluster.name, cluster.workers[1].name) in after
    assert {"event": "systemctl", "args": ["enable", "--now", "hacc-worker-tokens.timer"]} in (
        b.events
    )


def test_a_join_refused_as_already_known_to_dqlite_says_what_clears_it(work) -> None:
    """A control-plane join that died after k8s-dqlite started left cp2 in the datastore; the
    contacted node refuses every retry (microk8s-cluster-agent pkg/api/v2/join.go, "already
    known to dqlite") until `remove-node --force` removes the entry."""
    cluster, _ = compiled("keepalived-haproxy")
    cp2 = cluster.control_plane[1]
    b = boot(cluster, cp2, user_data("keepalived-haproxy", cp2), work / "n",
             accepted_tokens=(TOKEN,), join="known")  # fmt: skip
    failed_with(b, "keepalived-haproxy", "9", f"sudo microk8s remove-node {cp2.address} --force")
    assert f"on {cluster.first.name} run sudo microk8s remove-node" in b.output
    assert b.output.count("the join is refused") == 1
