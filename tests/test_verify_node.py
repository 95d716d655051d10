"""`nodes/<node>/verify.sh` on a node's file tree, laid out as MicroK8s lays it out, in a private
mount and network namespace (bench/node.sh): the drill's fake apiserver serves the certificate,
the real HAProxy runs the node's configuration, and `microk8s`, `systemctl` and `journalctl`
are stand-ins that print what those tools print. Each fault must fail the check that names it.

Where the tree's files come from: `args/kube-apiserver` and `certs/csr.conf.template` start as
MicroK8s's defaults (tests/fixtures/microk8s, see its README) and are brought to the spec by the
node's own apply-day2.sh; the launch configuration is the node's, as the launcher leaves it
(`common/etc/launcher/install.yaml.applied`, microk8s-cluster-agent cmd/cluster-agent.go)."""

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


def fakes(work: Path, *, ha: bool = True, dqlite_started: str = "now", journal: str = "") -> None:
    """`microk8s status` (scripts/wrappers/status.py's format), `systemctl show --value -p
    ExecMainStartTimestamp` and `journalctl` for the units verify.sh reads."""
    folder = work / "fakes"
    folder.mkdir(exist_ok=True)
    status = "high-availability: yes" if ha else "high-availability: no"
    scripts = {
        "microk8s": f'#!/bin/sh\nprintf "microk8s is running\\n{status}\\n"\n',
        "systemctl": f'#!/bin/sh\ndate -d "{dqlite_started}" "+%a %Y-%m-%d %H:%M:%S UTC"\n',
        "journalctl": f"#!/bin/sh\nprintf '%s' '{journal}'\n",
    }
    for name, text in scripts.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)


def prepare(tmp_path: Path, node_name: str) -> NodeBench:
    cluster, arts = compiled()
    node = next(n for n in cluster.nodes if n.name == node_name)
    work = tmp_path / "node"
    (work / "ov").mkdir(parents=True)
    b = NodeBench(work, node)
    base = f"nodes/{node.name}"
    (work / "verify.sh").write_text(arts[f"{base}/verify.sh"])
    user_data = yaml.safe_load(fill_tokens(arts[f"{base}/user-data.yaml"], TOKEN, cluster.name))
    for f in user_data["write_files"]:  # what cloud-init wrote
        path = b.tree / f["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f["content"])
    launch = b.file("usr/local/lib/hacc/microk8s-launch.yaml").read_text()
    b.file(f"{COMMON}/etc/launcher").mkdir(parents=True)
    b.file(f"{COMMON}/etc/launcher/install.yaml.applied").write_text(launch)
    for d in ("args", "certs", "credentials", "var/kubernetes/backend", "var/lock"):
        b.file(f"{SNAP}/{d}").mkdir(parents=True, exist_ok=True)
    if node.is_control_plane:
        shutil.copy(DEFAULTS / "kube-apiserver", b.file(f"{SNAP}/args/kube-apiserver"))
        shutil.copy(DEFAULTS / "csr.conf.template", b.file(f"{SNAP}/certs/csr.conf.template"))
        day2(b, arts[f"{base}/apply-day2.sh"])
        b.file(f"{SNAP}/var/kubernetes/backend/failure-domain").write_text(
            f"{node.failure_domain}\n"
        )
        for name in ("haproxy.cfg",):  # the bootstrap installs the staged configuration
            dest = b.file(f"etc/haproxy/{name}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(b.file(f"usr/local/lib/hacc/{name}"), dest)
        (work / "run-haproxy").touch()
        certificate(b, [*cluster.sans, node.address, "127.0.0.1", "kubernetes"])
    else:
        b.file(f"{SNAP}/args/traefik").mkdir(parents=True)
        shutil.copy(
            b.file("usr/local/lib/hacc/apiserver-proxy-provider.yaml"),
            b.file(f"{SNAP}/args/traefik/provider.yaml"),
        )
        b.file(f"{SNAP}/args/apiserver-proxy").write_text(
            "--traefik-config ${SNAP_DATA}/args/traefik/traefik.yaml\n"
            "--kubeconfig ${SNAP_DATA}/credentials/kubelet.config\n--refresh-interval=0s\n"
        )
    fakes(work, journal="Entering BACKUP STATE\\n")
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
    b = prepare(tmp_path, "cp2")
    code, out = run_verify(b)
    assert code == 0 and failures(out) == [], out
    assert "ok    HAProxy sees every apiserver up" in out
    assert "ok    failure domain 2 is in effect" in out
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


def test_a_failure_domain_not_yet_in_effect(tmp_path) -> None:
    b = prepare(tmp_path, "cp2")
    fakes(b.work, dqlite_started="2020-01-01 00:00:00 UTC", journal="Entering BACKUP STATE\\n")
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  failure domain 2 is written but k8s-dqlite started before: restart it "
        "(RUNBOOK.md section 5)"
    ]


def test_keepalived_in_fault(tmp_path) -> None:
    b = prepare(tmp_path, "cp2")
    fakes(b.work, journal="Entering BACKUP STATE\\nEntering FAULT STATE\\n")
    code, out = run_verify(b)
    assert code == 1
    assert failures(out) == [
        "FAIL  keepalived is in FAULT: its check of HAProxy fails (RUNBOOK.md section 9)"
    ]


def test_a_healthy_worker_and_one_holding_the_cluster_token(tmp_path) -> None:
    b = prepare(tmp_path, "w1")
    code, out = run_verify(b)
    assert code == 0 and failures(out) == [], out
    assert "ok    the apiserver-proxy points at the VIP only" in out
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
