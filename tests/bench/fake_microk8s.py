#!/usr/bin/python3
"""The bootstrap bench's stand-ins for snapd, MicroK8s and systemd, one program named by argv[0]:
`snap`, `microk8s`, `systemctl`, `sleep`, `journalctl` (the cluster-agent's), and `sysctl` (which
only records: a node's sysctls are not namespaced, and the host's must not change). It runs as root inside the bench's private mount and
network namespaces (see bootbench.py), on the real paths under /var/snap/microk8s.

A fake, not a consumer: it reproduces only behaviour read in MicroK8s's source, each cited where
it is modelled (canonical/microk8s, canonical/microk8s-cluster-agent, canonical/k8s-dqlite).
Daemons act while time passes, so each invocation (and every `sleep`) first runs one tick of
the cluster-agent's launcher loop and the apiservice-kicker.

Faults come from the bench config (BENCH_CONFIG, JSON): install_failures (attempts whose
install hook fails), join ("ok" or "never"), accepted_tokens (what the contacted node holds),
cluster_nodes (nodes the cluster already has). Events go to BENCH_STATE/events.jsonl.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

CONFIG = json.loads(Path(os.environ["BENCH_CONFIG"]).read_text())
STATE = Path(os.environ["BENCH_STATE"])
ROOT = Path("/var/snap/microk8s")
COMMON = ROOT / "common"
DATA = ROOT / "current"
REVISION = ROOT / "7001"
LAUNCHER = COMMON / "etc" / "launcher"
BACKEND = DATA / "var" / "kubernetes" / "backend"
LOCKS = DATA / "var" / "lock"

# microk8s-resources/microk8s.default.yaml
DEFAULT_LAUNCH = """version: 0.1.0
extraKubeletArgs:
  --cluster-domain: cluster.local
  --cluster-dns: 10.152.183.10
addons:
  - name: dns
"""
# microk8s-resources/default-args (the files the bench's scripts read or change)
DEFAULT_ARGS = {
    "ha-conf": "failure-domain=1\n",
    "apiserver-proxy": "--traefik-config ${SNAP_DATA}/args/traefik/traefik.yaml\n"
    "--kubeconfig ${SNAP_DATA}/credentials/kubelet.config\n--refresh-interval 30s\n",
    "kubelet": "--kubeconfig=${SNAP_DATA}/credentials/kubelet.config\n"
    '--node-labels="microk8s.io/cluster=true,node.kubernetes.io/microk8s-controlplane='
    'microk8s-controlplane"\n',
    "kube-apiserver": "--secure-port=16443\n",
}
# launch-configuration keys and the args file each one updates (cluster-agent pkg/k8sinit/apply.go)
ARG_KEYS = {
    "extraKubeAPIServerArgs": "kube-apiserver",
    "extraKubeletArgs": "kubelet",
    "extraMicroK8sAPIServerProxyArgs": "apiserver-proxy",
    "extraContainerdEnv": "containerd-env",
}


def event(kind: str, **fields: object) -> None:
    with open(STATE / "events.jsonl", "a") as f:
        f.write(json.dumps({"event": kind, **fields}) + "\n")


def installed() -> bool:
    return (LOCKS / "installed.lock").exists()


def ips() -> list[str]:
    # actions/common/utils.sh get_ips: `hostname -I` without 169.254.x and CNI addresses.
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout
    return sorted(a for a in out.split() if not a.startswith("169.254.") and ":" not in a)


def produce_certs(sans: list[str]) -> None:
    # actions/common/utils.sh produce_certs: the template's SANs plus every address of the node.
    record = {"sans": sans, "ips": ips()}
    (STATE / "certificate.json").write_text(json.dumps(record))
    event("certificate issued", **record)


def start_kubelite() -> None:
    # wrappers/run-kubelite-with-args: copies args/ha-conf's failure-domain into the datastore.
    conf = (DATA / "args" / "ha-conf").read_text()
    for line in conf.splitlines():
        if line.startswith("failure-domain="):
            (BACKEND / "failure-domain").write_text(line.split("=", 1)[1] + "\n")
    event("kubelite started")


def start_dqlite() -> None:
    # k8s-dqlite pkg/server/server.go New(): reads failure-domain once, at start-up (0 if absent).
    f = BACKEND / "failure-domain"
    domain = int(f.read_text()) if f.exists() else 0
    (STATE / "dqlite-domain").write_text(str(domain))
    event("k8s-dqlite started", failure_domain=domain)


def update_args(service: str, flags: dict[str, object]) -> None:
    # cluster-agent pkg/snap/services.go UpdateServiceArguments: `--key=value` lines; null deletes.
    path = DATA / "args" / service
    lines = path.read_text().splitlines() if path.exists() else []
    for key, value in flags.items():
        lines = [ln for ln in lines if ln.split("=")[0].split(" ")[0] != key]
        if value is not None:
            lines.append(f"{key}={str(value).lower() if isinstance(value, bool) else value}")
    path.write_text("".join(f"{ln}\n" for ln in lines))


def apply_part(part: dict, pre_init: bool) -> None:
    # cluster-agent pkg/k8sinit/apply.go applyPart, in its order; pre-init skips addons and join.
    if "persistentClusterToken" in part:
        with open(DATA / "credentials" / "persistent-cluster-tokens.txt", "a") as f:
            f.write(part["persistentClusterToken"] + "\n")
    for name, content in part.get("extraConfigFiles", {}).items():
        (DATA / "args" / name).write_text(content)
    for key, service in ARG_KEYS.items():
        if key in part:
            update_args(service, part[key])
    if "extraSANs" in part:
        (STATE / "extra-sans.json").write_text(json.dumps(part["extraSANs"]))
    if not pre_init and part.get("join"):
        join(part["join"]["url"], bool(part["join"].get("worker")))


class JoinFailed(Exception):
    pass


def join(url: str, worker: bool) -> None:
    address, token = url.split("/", maxsplit=1)[0], url.split("/")[1]
    locked_before = (LOCKS / "no-cert-reissue").exists()
    event("join contacted", host=address.split(":")[0], worker=worker)
    # scripts/wrappers/join.py: the contacted node answers "invalid token" (pkg/api/v2/join.go
    # ConsumeClusterToken); the joining node's cluster-agent logs the whole URL.
    if CONFIG.get("join") == "never" or token not in CONFIG.get("accepted_tokens", []):
        event("join refused", url=url)
        raise JoinFailed(f"Connection failed. invalid token (500). joining {url}")
    if CONFIG.get("join") == "known" and not worker:
        # pkg/api/v2/join.go (1.29+): a cluster.yaml entry with this address, left by an
        # earlier join that died after k8s-dqlite started (scripts/wrappers/join.py update_dqlite)
        me = ips()[0]
        event("join refused", url=url, reason="already known to dqlite")
        raise JoinFailed(
            "Connection failed. Failed to retrieve dqlite cluster nodes: the joining node "
            f"({me}) is already known to dqlite (500)."
        )
    if worker:
        # join.py mark_worker_node, update_apiserver_proxy, mark_no_cert_reissue
        for lock in ("clustered.lock", "no-k8s-dqlite", "no-cert-reissue"):
            (LOCKS / lock).touch()
        host = address.split(":")[0]
        traefik = DATA / "args" / "traefik"
        traefik.mkdir(parents=True, exist_ok=True)
        (traefik / "provider.yaml").write_text(f'        - address: "{host}:16443"\n')
        event("joined", worker=True, url_host=host, locked_before=locked_before)
        return
    # join.py join_dqlite_master_node: update_apiserver restarts kubelite, then update_dqlite
    # stops it and k8s-dqlite, moves the datastore aside, starts k8s-dqlite, then kubelite.
    start_kubelite()
    event("kubelite stopped")
    event("k8s-dqlite stopped")
    backup = BACKEND.with_name("backend.backup")
    shutil.rmtree(backup, ignore_errors=True)
    shutil.move(str(BACKEND), str(backup))
    BACKEND.mkdir()
    start_dqlite()
    start_kubelite()
    # While the join runs (its 10 s wait in update_dqlite), the kicker re-issues the server
    # certificate for the new CA: only without the lock (wrappers/apiservice-kicker).
    if not locked_before:
        event("server certificate re-issued for the cluster's CA")
    (LOCKS / "no-cert-reissue").touch()  # join.py mark_no_cert_reissue
    event("joined", worker=False, locked_before=locked_before)


def launcher_tick() -> None:
    # cluster-agent cmd/cluster-agent.go: every *.yaml in the launcher folder, applied whole;
    # renamed *.yaml.applied only when every part succeeded, else retried on the next tick.
    if not installed() or (STATE / "agent-stopped").exists():
        return
    for path in sorted(LAUNCHER.glob("*.yaml")):
        parts = [p for p in yaml.safe_load_all(path.read_text()) if p]
        try:
            for part in parts:
                apply_part(part, pre_init=False)
        except JoinFailed as e:
            with open(STATE / "cluster-agent.journal", "a") as f:
                f.write(f"Failed to apply configuration file {path}: {e}\n")
            continue
        path.rename(path.with_name(path.name + ".applied"))
        event("launch configuration applied", file=path.name)


def kicker_tick() -> None:
    # wrappers/apiservice-kicker: exits on a worker (clustered.lock); re-issues the certificate
    # and restarts kubelite when the rendered addresses change, unless no-cert-reissue exists
    # (or --bind-address/--advertise-address is set; a default route is assumed, as on a node).
    if not installed() or (LOCKS / "clustered.lock").exists():
        return
    if (LOCKS / "no-cert-reissue").exists():
        return
    issued = json.loads((STATE / "certificate.json").read_text())
    if issued["ips"] != ips():
        event("kicker re-issued the certificate and restarted kubelite", ips=ips())
        produce_certs(issued["sans"])
        start_kubelite()


def tick() -> None:
    launcher_tick()
    kicker_tick()


def install(args: list[str]) -> int:
    if installed():
        print("snap \"microk8s\" is already installed, see 'snap help refresh'")
        return 0
    attempts = (
        int((STATE / "install-attempts").read_text())
        if (STATE / "install-attempts").exists()
        else 0
    )
    attempts += 1
    (STATE / "install-attempts").write_text(str(attempts))
    REVISION.mkdir(parents=True)
    (ROOT / "current").symlink_to(REVISION.name)
    for sub in ("args", "credentials", "certs", "var/lock", "var/kubernetes/backend"):
        (DATA / sub).mkdir(parents=True)
    for name, content in DEFAULT_ARGS.items():
        (DATA / "args" / name).write_text(content)
    # snap/hooks/install: the first launch configuration found goes to launcher/install.yaml.
    LAUNCHER.mkdir(parents=True, exist_ok=True)
    for candidate in (
        "/etc/microk8s.yaml",
        "/root/snap/microk8s/common/.microk8s.yaml",
        str(COMMON / ".microk8s.yaml"),
        None,
    ):
        if candidate is None:
            (LAUNCHER / "install.yaml").write_text(DEFAULT_LAUNCH)
            event("install hook took the default launch configuration")
            break
        if Path(candidate).is_file():
            shutil.copy(candidate, LAUNCHER / "install.yaml")
            event("install hook took a launch configuration", path=candidate)
            break
    if attempts <= int(CONFIG.get("install_failures", 0)):
        # snapd undoes a failed install: the revision's data and $SNAP_COMMON are removed.
        shutil.rmtree(ROOT)
        event("install failed and was undone", attempt=attempts)
        print(
            'error: cannot perform the following tasks:\n- Run install hook of "microk8s" snap '
            'if present (run hook "install": exit status 1)',
            file=sys.stderr,
        )
        return 1
    for part in yaml.safe_load_all((LAUNCHER / "install.yaml").read_text()):
        if part:
            apply_part(part, pre_init=True)  # cluster-agent init --pre-init
    extra = (
        json.loads((STATE / "extra-sans.json").read_text())
        if (STATE / "extra-sans.json").exists()
        else []
    )
    produce_certs(extra)
    for lock in ("ha-cluster", "lite.lock", "installed.lock"):
        (LOCKS / lock).touch()
    # Services start; kubelite's wrapper writes the failure domain before k8s-dqlite's (which
    # sleeps 6 s first, wrappers/run-k8s-dqlite-with-args) reads it.
    start_kubelite()
    start_dqlite()
    event("installed", channel=next((a for a in args if a.startswith("--channel")), ""))
    return 0


def snap(args: list[str]) -> int:
    if args[:2] == ["list", "microk8s"]:
        return 0 if installed() else 1
    if args[:2] == ["install", "microk8s"]:
        return install(args[2:])
    if args == ["wait", "system", "seed.loaded"]:
        # snapd's documented wait for first-boot seeding (`snap wait system seed.loaded`); the
        # bench's snapd is seeded from the start.
        event("snap wait seed", installed=installed())
        return 0
    if args[:2] == ["set", "system"]:
        # snapd's system options (proxy.http, proxy.https): used for the downloads that follow.
        event("snap set system", options=args[2:], installed=installed())
        return 0
    if args == ["refresh", "--hold", "microk8s"] and installed():
        # snapd cmd/snap/cmd_snap_op.go (2.58+): holds auto-refresh and general refreshes of
        # the named snap, forever without a duration; prints what it held.
        event("refresh held", snap="microk8s")
        print('General refreshes of "microk8s" held indefinitely')
        return 0
    if args[:1] == ["restart"] and installed():
        service = args[1]
        event("restarted", service=service)
        if service == "microk8s.daemon-k8s-dqlite":
            start_dqlite()
        elif service == "microk8s.daemon-kubelite":
            start_kubelite()
        return 0
    print(f"fake snap: unsupported: {args}", file=sys.stderr)
    return 2


WORKER_MESSAGE = "This MicroK8s deployment is acting as a node in a cluster."


def microk8s(args: list[str]) -> int:
    if not installed():
        print("microk8s: command not found", file=sys.stderr)
        return 127
    worker = (LOCKS / "clustered.lock").exists()
    if args[:1] == ["status"]:
        # scripts/wrappers/status.py is_cluster_locked; the worker exit code differs by release.
        if worker:
            print(WORKER_MESSAGE + "\nPlease use the master node.")
            return 0
        print("microk8s is running")
        return 0
    if args[:3] == ["kubectl", "get", "node"]:
        if worker:  # wrappers/microk8s-kubectl.wrapper: prints and exits 0 on a worker
            print(WORKER_MESSAGE + " Please use the microk8s kubectl on the master.")
            return 0
        if args[3] in CONFIG.get("cluster_nodes", []):
            print(f"{args[3]}   Ready")
            return 0
        print(f'Error from server (NotFound): nodes "{args[3]}" not found', file=sys.stderr)
        return 1
    if args[:1] == ["add-node"]:
        # wrappers/microk8s-add-node.wrapper and scripts/wrappers/add_token.py
        if worker:
            print(WORKER_MESSAGE + " Please use the microk8s add-node on the master.")
            return 1
        token = args[args.index("--token") + 1]
        ttl = int(args[args.index("--token-ttl") + 1]) if "--token-ttl" in args else -1
        if len(token) < 32:
            print("Invalid token size.  It must be 32 characters long.")
            return 1
        line = token if ttl == -1 else f"{token}|{int(time.time()) + ttl}"
        with open(DATA / "credentials" / "cluster-tokens.txt", "a") as f:
            f.write(line + "\n")
        print(
            f"From the node you wish to join to this cluster, run the following:\n"
            f"microk8s join 198.18.0.1:25000/{token}/0123456789ab"
        )
        return 0
    print(f"fake microk8s: unsupported: {args}", file=sys.stderr)
    return 2


def systemctl(args: list[str]) -> int:
    # A proxy in the environment is recorded: the spec's commands run with the spec's proxy.
    proxied = {k: os.environ[k] for k in ("https_proxy", "HTTPS_PROXY") if k in os.environ}
    event("systemctl", args=args, **({"proxy": proxied} if proxied else {}))
    if args[0] in ("restart", "start") and "keepalived" in args:
        # keepalived takes the VIP once HAProxy sees the local apiserver (which is up here).
        vip, iface = CONFIG["vip"], CONFIG["interface"]
        subprocess.run(["ip", "addr", "replace", f"{vip}/32", "dev", iface], check=True)
        event("VIP added", vip=vip)
    return 0


def main() -> int:
    name = Path(sys.argv[0]).name
    args = sys.argv[1:]
    tick()
    if name == "sleep":
        return 0  # time passes: the tick above is what the daemons did meanwhile
    if name == "tick":
        return 0
    if name == "sysctl":
        event("sysctl", args=args)
        return 0
    if name == "journalctl":
        # the cluster-agent's journal: join.py's output reaches it (pkg/util/exec.go RunCommand)
        journal = STATE / "cluster-agent.journal"
        print(journal.read_text() if journal.exists() else "-- No entries --", end="")
        return 0
    return {"snap": snap, "microk8s": microk8s, "systemctl": systemctl}[name](args)


if __name__ == "__main__":
    sys.exit(main())
