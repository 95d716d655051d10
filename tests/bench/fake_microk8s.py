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
install hook fails), join ("ok" or "never"), contacted (the first node's address) and
contacted_tokens (its persistent and single-use join tokens), cluster_nodes (nodes the cluster
already has). The node's tree, and the contacted node's, are laid and changed by
bench/node_tree.py. Events go to BENCH_STATE/events.jsonl.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import node_tree as tree
import yaml

CONFIG = json.loads(Path(os.environ["BENCH_CONFIG"]).read_text())
STATE = Path(os.environ["BENCH_STATE"])
NODE = Path("/")  # this node's tree, on the real paths
ROOT = NODE / "var/snap/microk8s"
COMMON = NODE / tree.COMMON
DATA = NODE / tree.DATA
LAUNCHER = COMMON / "etc" / "launcher"
LOCKS = NODE / tree.LOCKS
# The node a join contacts, laid as a real first node in the bench's state folder.
CONTACTED = STATE / "contacted"

# microk8s-resources/microk8s.default.yaml
DEFAULT_LAUNCH = """version: 0.1.0
extraKubeletArgs:
  --cluster-domain: cluster.local
  --cluster-dns: 10.152.183.10
addons:
  - name: dns
"""


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
    tree.start_kubelite(NODE, event)


def start_dqlite() -> None:
    tree.start_k8s_dqlite(NODE, event)


def apply_part(part: dict, pre_init: bool) -> None:
    # cluster-agent pkg/k8sinit/apply.go applyPart, in its order; pre-init skips addons and join.
    tree.apply_launch_part(NODE, part)
    if "extraSANs" in part:
        (STATE / "extra-sans.json").write_text(json.dumps(part["extraSANs"]))
    if not pre_init and part.get("join"):
        join(part["join"]["url"], bool(part["join"].get("worker")))


class JoinFailed(Exception):
    pass


def contacted() -> Path:
    """The first node as the join finds it: installed, its launch configuration's persistent
    token, and the single-use tokens its bootstrap registered (bench config)."""
    if not CONTACTED.exists():
        tokens = CONFIG.get("contacted_tokens", {})
        tree.lay_installed(CONTACTED, "cp1", [CONFIG["contacted"]])
        # hacc's launch configuration on the first node sets its kubelet's --node-ip
        tree.apply_launch_part(CONTACTED, {"extraKubeletArgs": {"--node-ip": CONFIG["contacted"]}})
        tree.start_daemons(CONTACTED)
        creds = CONTACTED / tree.DATA / "credentials"
        for name, key in (("persistent-cluster-tokens.txt", "persistent"),
                          ("cluster-tokens.txt", "single_use")):  # fmt: skip
            (creds / name).write_text("".join(f"{t}\n" for t in tokens.get(key, [])))
    return CONTACTED


def join(url: str, worker: bool) -> None:
    address, token = url.split("/", maxsplit=1)[0], url.split("/")[1]
    host = address.split(":")[0]
    locked_before = (LOCKS / "no-cert-reissue").exists()
    event("join contacted", host=address.split(":")[0], worker=worker)
    # scripts/wrappers/join.py: the contacted node answers "invalid token" (pkg/api/v2/join.go
    # ConsumeClusterToken, step 1); the joining node's cluster-agent logs the whole URL.
    # Tokens a scenario says the contacted node holds from now on (persistent ones: a node it
    # admits and tokens it registered later, as a re-registration or a late `add-node` does).
    persistent = contacted() / tree.DATA / "credentials" / "persistent-cluster-tokens.txt"
    held = persistent.read_text().split()
    persistent.write_text(
        "".join(f"{t}\n" for t in dict.fromkeys([*held, *CONFIG.get("accepted_tokens", [])]))
    )
    if CONFIG.get("join") == "never" or not tree.consume_token(contacted(), token):
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
    me = next(a for a in ips() if a != CONFIG.get("vip"))
    response = tree.serve_join(contacted(), me, host, worker, token)
    if worker:
        tree.join_worker(NODE, response, host, event)
        event("joined", worker=True, url_host=host, locked_before=locked_before)
        return
    tree.join_control_plane(NODE, response, kicker_tick, event)
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
    # wrappers/apiservice-kicker, one pass (a default route is assumed, as on a node).
    if installed():
        tree.kicker_tick(NODE, ips(), event)


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
    # The hooks' tree (tests/bench/node_tree.py); the launch configuration, pre-init and the
    # locks the install hook touches last follow in the install hook's order.
    tree.lay_installed(NODE, os.uname().nodename, ips())
    (LOCKS / "installed.lock").unlink()
    # snap/hooks/install: the first launch configuration found goes to launcher/install.yaml.
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
    (LOCKS / "installed.lock").touch()
    (LOCKS / "installed.lock").chmod(0o660)
    # Services start; kubelite's wrapper writes the failure domain before k8s-dqlite's (which
    # sleeps 6 s first, wrappers/run-k8s-dqlite-with-args) reads it.
    tree.start_daemons(NODE, event)
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
