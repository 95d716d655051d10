"""`nodes/<node>/verify.sh` on a node's file tree, laid out as MicroK8s lays it out, in a private
mount and network namespace (bench/node.sh): the drill's fake apiserver serves the certificate,
the real HAProxy runs the node's configuration, and `microk8s`, `systemctl`, `journalctl` and
go-dqlite's `dqlite` are stand-ins that print what those tools print. Each fault must fail the
check that names it.

Where the tree comes from: bench/node_tree.py lays a real node's files after `snap install`
(the reference's file list, with modes), applies the node's own launch configuration as the
cluster-agent does (pre-init, then after the join), and joins it to a first node laid the same
way, as join.py and the cluster-agent change both trees. `args/kube-apiserver` and
`certs/csr.conf.template` start as MicroK8s's defaults (tests/fixtures/microk8s, see its
README) and are brought to the spec by the node's own apply-day2.sh; the CA keys are real, as
verify.sh compares them."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

from bench import node_tree
from conftest import KEEPALIVED_EXAMPLE, REPO, replaced
from hacc.compiler.frontend import analyze
from hacc.compiler.model import Cluster, Node
from hacc.outdir.secret_store import fill_tokens
from hacc.targets import render_cluster
from hacc.targets.base import is_ip
from realtools import require_root, run, tool

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parent / "bench"
DEFAULTS = REPO / "tests" / "fixtures" / "microk8s"
TOKEN = "Node-bench-token-0123456789abcdef0123"
SNAP = "var/snap/microk8s/current"
COMMON = "var/snap/microk8s/common"


@cache
def compiled() -> tuple[Cluster, dict[str, str]]:
    cluster = analyze(KEEPALIVED_EXAMPLE).cluster
    assert cluster is not None
    return cluster, {a.path: a.content for a in render_cluster(cluster)}


@dataclass
class NodeBench:
    work: Path
    node: Node

    @property
    def tree(self) -> Path:
        return self.work / "tree"

    def file(self, rel: str) -> Path:
        return self.tree / rel


def fakes(work: Path, *, ha: bool = True, journal: str = "", internal_ip: str = "") -> None:
    """`microk8s status` (scripts/wrappers/status.py's format) and `microk8s kubectl get node`'s
    InternalIP, `systemctl show -p ExecMainStartTimestamp` (when the bench's k8s-dqlite
    started), `journalctl`, and go-dqlite's shell: `.describe ADDRESS` prints `ADDRESS|failure
    domain|weight` for the running node (go-dqlite internal/shell/shell.go processDescribe)."""
    folder = work / "fakes"
    folder.mkdir(exist_ok=True)
    status = "high-availability: yes" if ha else "high-availability: no"
    running = f"/{node_tree.RUNNING}"
    scripts = {
        "microk8s": f'#!/bin/sh\nif [ "$1" = kubectl ]; then printf %s "{internal_ip}"; exit 0; fi\n'
        f'printf "microk8s is running\\n{status}\\n"\n',
        "systemctl": f'#!/bin/sh\ndate -u -r {running} "+%a %Y-%m-%d %H:%M:%S UTC"\n',
        "journalctl": f"#!/bin/sh\nprintf '%s' '{journal}'\n",
        "dqlite": f"#!/bin/sh\nfor a; do last=$a; done\n[ -e {running} ] || "
        "{ echo 'Error: dial: connection refused' >&2; exit 1; }\n"
        f'printf "%s|%s|0\\n" "${{last#.describe }}" "$(cat {running})"\n',
    }
    for name, text in scripts.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)


def real_ca(root: Path, name: str) -> None:
    """A real CA pair in the tree's certs/ (the stand-in node_tree lays is not a key)."""
    certs = root / node_tree.DATA / "certs"
    subprocess.run(
        [tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
         "-keyout", str(certs / "ca.key"), "-out", str(certs / "ca.crt"), "-subj", f"/CN={name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    for f in ("ca.key", "ca.crt"):
        (certs / f).chmod(0o660)


def first_node(work: Path, cluster: Cluster, arts: dict[str, str]) -> Path:
    """The node every other joins, as it is before serving a join, with its launch config."""
    root = work / "first"
    first = cluster.first
    node_tree.lay_installed(root, first.name, [first.address])
    real_ca(root, "10.152.183.1")
    launch = fill_tokens(arts[f"nodes/{first.name}/microk8s-launch.yaml"], TOKEN, cluster.name)
    for doc in yaml.safe_load_all(launch):
        if doc:
            node_tree.apply_launch_part(root, doc)
    node_tree.start_daemons(root)
    return root


def prepare(tmp_path: Path, node_name: str) -> NodeBench:
    cluster, arts = compiled()
    node = next(n for n in cluster.nodes if n.name == node_name)
    work = tmp_path / "node"
    (work / "ov").mkdir(parents=True)
    b = NodeBench(work, node)
    base = f"nodes/{node.name}"
    # the one line the bench changes: its dqlite stand-in, as /snap is not the bench's to write
    script = arts[f"{base}/verify.sh"]
    if node.is_control_plane:
        dqlite = "DQLITE=/snap/microk8s/current/bin/dqlite\n"
        script = replaced(script, dqlite, f"DQLITE={work}/fakes/dqlite\n")
    (work / "verify.sh").write_text(script)
    user_data = yaml.safe_load(fill_tokens(arts[f"{base}/user-data.yaml"], TOKEN, cluster.name))
    for f in user_data["write_files"]:  # what cloud-init wrote
        path = b.tree / f["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f["content"])
    launch = b.file("usr/local/lib/hacc/microk8s-launch.yaml").read_text()
    docs = [d for d in yaml.safe_load_all(launch) if d]
    contacted = first_node(work, cluster, arts)
    # snap install: the hooks' tree, pre-init of the launch configuration, the daemons
    node_tree.lay_installed(b.tree, node.name, [node.address])
    real_ca(b.tree, "10.152.183.1")
    if node.is_control_plane:
        # MicroK8s's own content, in the files (and modes) the install left
        for rel in ("args/kube-apiserver", "certs/csr.conf.template"):
            shutil.copyfile(DEFAULTS / Path(rel).name, b.file(f"{SNAP}/{rel}"))
    node_tree.apply_launch_part(b.tree, docs[0])
    node_tree.start_daemons(b.tree)
    # the launcher's join, then the documents after it (cmd/cluster-agent.go)
    response = node_tree.serve_join(
        contacted, node.address, cluster.first.address, not node.is_control_plane, TOKEN
    )
    if node.is_control_plane:
        node_tree.join_control_plane(
            b.tree, response, lambda: node_tree.kicker_tick(b.tree, [node.address])
        )
    else:
        node_tree.join_worker(b.tree, response, cluster.first.address)
    for doc in docs[1:]:
        node_tree.apply_launch_part(b.tree, doc)
    b.file(f"{COMMON}/etc/launcher/install.yaml.applied").write_text(launch)
    if node.is_control_plane:
        # the bootstrap restarts k8s-dqlite into its failure domain; later, apply-day2.sh (or a
        # reboot, a refresh, refresh-certs) restarts kubelite, which rewrites failure-domain
        node_tree.start_k8s_dqlite(b.tree)
        day2(b, arts[f"{base}/apply-day2.sh"])
        started = time.time() - 120
        os.utime(b.tree / node_tree.RUNNING, (started, started))
        node_tree.start_kubelite(b.tree)
        node_tree.backend_permissions(b.tree)  # the kicker, every 5 s
        for name in ("haproxy.cfg",):  # the bootstrap installs the staged configuration
            dest = b.file(f"etc/haproxy/{name}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(b.file(f"usr/local/lib/hacc/{name}"), dest)
        (work / "run-haproxy").touch()
        certificate(b, [*cluster.sans, node.address, "127.0.0.1", "kubernetes"])
    else:
        shutil.copyfile(  # the bootstrap pins the apiserver-proxy to the VIP (cp)
            b.file("usr/local/lib/hacc/apiserver-proxy-provider.yaml"),
            b.file(f"{SNAP}/args/traefik/provider.yaml"),
        )
    fakes(work, journal="Entering BACKUP STATE\\n", internal_ip=node.address)
    return b


def day2(b: NodeBench, script: str) -> None:
    """The node's own apply-day2.sh brings MicroK8s's default files to the spec."""
    path = b.work / "apply-day2.sh"
    path.write_text(script)
    fake = b.work / "noop"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    curl = b.work / "readyz-ok"  # the restart it asks for is instant here: /readyz answers
    curl.write_text("#!/bin/sh\nprintf 200\n")
    curl.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "HACC_SNAP_DATA": str(b.file(SNAP)),
        "HACC_MICROK8S": str(fake),
        "HACC_SNAP": str(fake),
        "HACC_CURL": str(curl),
    }
    r = run("bash", str(path), env=env)
    assert r.returncode == 0, r.stderr


def certificate(b: NodeBench, sans: list[str], days: int = 365) -> None:
    """What the apiserver serves: a certificate with these SANs (MicroK8s's csr.conf.template
    names, plus the spec's)."""
    names = ",".join(("IP:" if is_ip(s) else "DNS:") + s for s in dict.fromkeys(sans))
    subprocess.run(
        [tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", str(days),
         "-keyout", str(b.work / "apiserver.key"), "-out", str(b.work / "apiserver.crt"),
         "-subj", "/CN=127.0.0.1", "-addext", f"subjectAltName={names}"],
        check=True, capture_output=True,
    )  # fmt: skip


def run_verify(b: NodeBench, *, bind: str = "0.0.0.0", settle: float = 1.5) -> tuple[int, str]:
    require_root()
    cluster, _ = compiled()
    prefix = ipaddress.ip_network(cluster.subnet or "", strict=False).prefixlen
    # Every control-plane address on this node, so its HAProxy finds an apiserver at each.
    addresses = (
        [n.address for n in cluster.control_plane] if b.node.is_control_plane else [b.node.address]
    )
    env = {**os.environ, "PYTHON": sys.executable, "SETTLE": str(settle)}
    subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--net", "--fork", "--kill-child",
         "bash", str(BENCH / "node.sh"), str(b.work), b.node.interface,
         bind if b.node.is_control_plane else "none", *(f"{a}/{prefix}" for a in addresses)],
        env=env, check=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert (b.work / "changed").read_text() == "", "verify.sh changed the node"
    return int((b.work / "rc").read_text()), (b.work / "output").read_text()


@pytest.fixture(autouse=True)
def host_untouched():
    """The node's tree, HAProxy's socket and configuration stay inside the bench."""
    watched = (
        "/var/snap",
        "/usr/local/lib/hacc",
        "/run/haproxy/admin.sock",
        "/etc/haproxy/haproxy.cfg",
    )

    def state() -> dict[str, bytes | None]:
        return {
            p: (Path(p).read_bytes() if Path(p).is_file() else b"") if os.path.lexists(p) else None
            for p in watched
        }

    before = state()
    yield
    assert state() == before


def failures(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL")]


def test_a_healthy_control_plane_node(tmp_path) -> None:
    """After apply-day2.sh (or a reboot, a refresh, refresh-certs) restarted kubelite:
    failure-domain has a newer mtime than k8s-dqlite's start, and the same content."""
    b = prepare(tmp_path, "cp2")
    domain = b.file(f"{SNAP}/var/kubernetes/backend/failure-domain").stat().st_mtime
    assert domain > b.file(node_tree.RUNNING).stat().st_mtime + 60
    code, out = run_verify(b)
    assert code == 0 and failures(out) == [], out
    assert "ok    HAProxy sees every apiserver up" in out
    assert "ok    failure domain 2 is in effect" in out
    assert "ok    cp2 is registered with InternalIP 198.18.10.12" in out
    assert out.rstrip().endswith("cp2: every check holds")


def test_a_wrong_flag(tmp_path) -> None:
    b = prepare(tmp_path, "cp2")
    args = b.file(f"{SNAP}/args/kube-apiserver")
    text = args.read_text()
    assert "--authorization-mode=RBAC,Node\n" in text
    args.write_text(
        text.replace("--authorization-mode=RBAC,Node\n", "--authorization-mode=AlwaysAllow\n")
    )
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        f"FAIL  --authorization-mode is 'AlwaysAllow' in /{SNAP}/args/kube-apiserver, not "
        "'RBAC,Node' (RUNBOOK.md section 5)"
    ]


def test_a_san_missing_from_the_template(tmp_path) -> None:
    b = prepare(tmp_path, "cp2")
    template = b.file(f"{SNAP}/certs/csr.conf.template")
    lines = template.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.endswith("= k8s.paris.example.com\n")]
    assert len(kept) == len(lines) - 1
    template.write_text("".join(kept))
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  csr.conf.template lacks k8s.paris.example.com (RUNBOOK.md section 5)"
    ]


def test_a_san_missing_from_the_served_certificate(tmp_path) -> None:
    cluster, _ = compiled()
    b = prepare(tmp_path, "cp2")
    certificate(b, [s for s in cluster.sans if s != "api.paris.example.com"] + ["198.18.10.12"])
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  the served certificate lacks api.paris.example.com (RUNBOOK.md section 5)"
    ]


def test_a_certificate_expiring_in_ten_days(tmp_path) -> None:
    cluster, _ = compiled()
    b = prepare(tmp_path, "cp2")
    certificate(b, [*cluster.sans, "198.18.10.12"], days=10)
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  the served certificate expires within 30 days, or none is served "
        "(RUNBOOK.md section 6)"
    ]


def test_the_apiserver_down(tmp_path) -> None:
    b = prepare(tmp_path, "cp2")
    (b.work / "run-haproxy").unlink()  # nothing listens, and so no load balancing either
    code, out = run_verify(b, bind="none", settle=0)
    assert code == 1
    assert "FAIL  nothing listens on 16443: kubelite is down (RUNBOOK.md section 9)" in out
    assert any("HAProxy does not answer" in f for f in failures(out))


def test_haproxy_stopped(tmp_path) -> None:
    b = prepare(tmp_path, "cp2")
    (b.work / "run-haproxy").unlink()
    code, out = run_verify(b, settle=0)
    assert code == 1
    assert failures(out) == [
        "FAIL  HAProxy does not answer on 127.0.0.1:8404: is it running? (RUNBOOK.md section 9)"
    ]


def test_a_leftover_placeholder_token(tmp_path) -> None:
    b = prepare(tmp_path, "cp2")
    applied = b.file(f"{COMMON}/etc/launcher/install.yaml.applied")
    applied.write_text(applied.read_text().replace(TOKEN, "__HACC_JOIN_TOKEN__"))
    code, out = run_verify(b)
    assert code == 1
    assert any("placeholder join token" in f and "section 1" in f for f in failures(out))


def test_an_apiserver_on_loopback_only(tmp_path) -> None:
    b = prepare(tmp_path, "cp2")
    code, out = run_verify(b, bind="127.0.0.1")
    assert code == 1
    assert (
        "FAIL  the apiserver listens on 127.0.0.1:16443 only, not on every address (RUNBOOK.md section 9)"
        in out
    )
    assert "ok    the served certificate names api.paris.example.com" in out  # it still serves


def test_a_datastore_running_in_the_wrong_failure_domain(tmp_path) -> None:
    """A control-plane join starts k8s-dqlite before kubelite writes failure-domain: it runs in
    domain 0 until restarted (scripts/wrappers/join.py update_dqlite), whatever the file says."""
    b = prepare(tmp_path, "cp2")
    assert b.file(f"{SNAP}/var/kubernetes/backend/failure-domain").read_text() == "2\n"
    b.file(node_tree.RUNNING).write_text("0")
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  k8s-dqlite runs in failure domain 0, not 2: restart it (RUNBOOK.md section 5)"
    ]


def test_a_datastore_that_does_not_answer(tmp_path) -> None:
    b = prepare(tmp_path, "cp2")
    b.file(node_tree.RUNNING).unlink()
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  k8s-dqlite does not describe itself at '198.18.10.12:19001': is it running? "
        "(RUNBOOK.md section 9)"
    ]


def test_a_node_registered_with_another_address(tmp_path) -> None:
    """A node with a management interface on the default route registers with that one
    unless --node-ip says otherwise (MicroK8s's kubelet default)."""
    b = prepare(tmp_path, "cp2")
    fakes(b.work, journal="Entering BACKUP STATE\\n", internal_ip="192.0.2.12")
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  cp2 is registered with InternalIP '192.0.2.12', not 198.18.10.12 "
        "(RUNBOOK.md section 9)"
    ]


def test_keepalived_in_fault(tmp_path) -> None:
    b = prepare(tmp_path, "cp2")
    fakes(
        b.work,
        journal="Entering BACKUP STATE\\nEntering FAULT STATE\\n",
        internal_ip=b.node.address,
    )
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  keepalived is in FAULT: its check of HAProxy fails (RUNBOOK.md section 9)"
    ]


def test_a_healthy_worker_and_one_holding_the_cluster_token(tmp_path) -> None:
    b = prepare(tmp_path, "w1")
    assert b.file(f"{SNAP}/certs/ca.key").exists()  # its own, from its install
    code, out = run_verify(b)
    assert code == 0 and failures(out) == [], out
    assert "ok    the apiserver-proxy points at the VIP only" in out
    assert "ok    the cluster CA key is not on this worker" in out
    assert "ok    the kubelet registers with InternalIP 198.18.10.21" in out
    b.file(f"{SNAP}/credentials/persistent-cluster-tokens.txt").write_text(TOKEN + "\n")
    time.sleep(0)  # the same tree, one file more
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  this worker holds the cluster's join token, which joins as control plane "
        "(RUNBOOK.md section 10)"
    ]


def test_a_worker_whose_proxy_dropped_the_vip(tmp_path) -> None:
    """provider.yaml lists the nodes again, unquoted as MicroK8s writes it (join.py
    update_apiserver_proxy, yaml.dump), and the refresh interval is back to 30s."""
    b = prepare(tmp_path, "w1")
    b.file(f"{SNAP}/args/traefik/provider.yaml").write_text(
        "tcp:\n  services:\n    kube-apiserver:\n      loadBalancer:\n        servers:\n"
        "        - address: 198.18.10.11:16443\n        - address: 198.18.10.12:16443\n"
    )
    args = b.file(f"{SNAP}/args/apiserver-proxy")
    args.write_text(replaced(args.read_text(), "--refresh-interval=0s", "--refresh-interval 30s"))
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  the apiserver-proxy points at '198.18.10.11:16443 198.18.10.12:16443', not "
        "198.18.10.100:8443 (RUNBOOK.md section 9)",
        "FAIL  the apiserver-proxy still refreshes its endpoints and will drop the VIP "
        "(RUNBOOK.md section 9)",
    ]


def test_a_worker_holding_the_cluster_ca_key(tmp_path) -> None:
    b = prepare(tmp_path, "w1")
    shutil.copy(b.work / "first" / SNAP / "certs/ca.key", b.file(f"{SNAP}/certs/ca.key"))
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == ["FAIL  the cluster CA key is on this worker (RUNBOOK.md section 10)"]


def test_a_worker_whose_kubelet_registers_with_another_address(tmp_path) -> None:
    b = prepare(tmp_path, "w1")
    kubelet = b.file(f"{SNAP}/args/kubelet")
    kubelet.write_text(replaced(kubelet.read_text(), "--node-ip=198.18.10.21\n", ""))
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        f"FAIL  the kubelet's --node-ip is not 198.18.10.21 (/{SNAP}/args/kubelet) "
        "(RUNBOOK.md section 9)"
    ]
