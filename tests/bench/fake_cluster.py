#!/usr/bin/python3
"""The upgrade bench's stand-in for a running cluster as `hacc upgrade`'s script sees it: `ssh`
to a node's address, then `sudo microk8s ...` or `sudo snap ...` there. One JSON file
(BENCH_CLUSTER) holds every node; each call locks it, acts, and appends to its event log.

A fake, not a consumer: it reproduces only behaviour read in the sources, each cited where it
is modelled. Faults come from the same file: never_ready (nodes that stay NotReady after their
refresh), pdb (nodes whose drain a PodDisruptionBudget blocks), voters (dqlite's voters);
channel_revisions (the store's newest revision per channel) and each node's revision.
Each node's file tree (its "tree") is laid and changed by bench/node_tree.py.

Day-2 procedures (`hacc plan --script`) need more of a node, switched on by `vrrp` in the file:
each node's files (what `install` put there), keepalived's election over unicast peers, HAProxy's
port, the apiserver certificate's SANs, workers' apiserver-proxy servers, `microk8s leave`,
`remove-node`, `add-node --token` and joins that spend a token. `fake_cluster.py --boot NAME
ADDRESS ROLE FOLDER [TOKEN]` boots a node from a build's node folder (its first boot).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
from pathlib import Path

import node_tree

STATE = os.environ["BENCH_CLUSTER"]
PIPED: dict[str, str] = {}  # what came down a pipe, read before the lock
# scripts/wrappers/microk8s-kubectl.wrapper (canonical/microk8s): on a worker (clustered.lock).
WORKER_KUBECTL = (
    "This MicroK8s deployment is acting as a node in a cluster. "
    "Please use the microk8s kubectl on the master."
)


def node_by_address(c: dict, address: str) -> tuple[str, dict] | None:
    # A lost node (its machine gone) answers nothing.
    return next(
        ((n, v) for n, v in c["nodes"].items() if v["address"] == address and not v.get("lost")),
        None,
    )


def status_column(v: dict, c: dict | None = None) -> str:
    ready = "Ready" if v["ready"] and (c is None or has_api(c, v)) else "NotReady"
    return ready + (",SchedulingDisabled" if v["cordoned"] else "")


def settle(c: dict, name: str) -> None:
    """Time passes for a refreshed node each time it is looked at: kubelite restarts and the
    node reports Ready again after `restart_polls` looks, unless it never comes back."""
    v = c["nodes"][name]
    if v["ready"] or name in c.get("never_ready", []) or "datastore" in c:
        return
    v["restart_left"] -= 1
    if v["restart_left"] <= 0:
        v["ready"] = True
        c["events"].append({"event": "ready", "node": name, "version": v["version"]})


def kubectl(c: dict, me: str, args: list[str]) -> int:
    # scripts/wrappers/microk8s-kubectl.wrapper: kubectl with the admin client.config.
    if c["nodes"][me]["role"] == "worker":
        print(WORKER_KUBECTL)
        return 0
    server = next((a.split("=", 1)[1] for a in args if a.startswith("--server=")), None)
    args = [a for a in args if not a.startswith("--server=")]
    if server is not None and server != c["endpoint"] and not serves(c, server):
        print(f"Unable to connect to the server: dial tcp {server}: i/o timeout", file=sys.stderr)
        return 1
    if server is not None and "vrrp" in c:
        lacking = san_lacking(c, server)
        if lacking:
            print(f"Unable to connect to the server: tls: failed to verify certificate: x509: "
                  f"certificate is valid for {lacking}, not {host_of(server)}", file=sys.stderr)  # fmt: skip
            return 1
    c["events"].append({"event": "kubectl", "on": me, "via_endpoint": server is not None,
                        "args": args})  # fmt: skip
    if "datastore" in c:
        rc = datastore_kubectl(c, me, args)
        if rc is not None:
            return rc
    verb, rest = args[0], args[1:]
    if verb == "get" and rest[0] == "node":
        names = [a for a in rest[1:] if not a.startswith("-")] or sorted(c["nodes"])
        rc = 0
        for name in names:
            if name not in c["nodes"]:
                print(f'Error from server (NotFound): nodes "{name}" not found', file=sys.stderr)
                rc = 1
                continue
            settle(c, name)
            v = c["nodes"][name]
            print(f"{name}   {status_column(v, c)}   <none>   12d   {v['version']}")
        return rc
    name = rest[1] if rest[:1] == ["node"] else rest[0]
    v = c["nodes"][name]
    if verb == "drain":
        v["cordoned"] = True
        print(f"node/{name} cordoned")
        if name in c.get("pdb", []):
            print(
                f'error when evicting pods/"web-0" -n "shop" (will retry after 5s): Cannot '
                "evict pod as it would violate the pod's disruption budget.\n"
                f'There are pending pods in node "{name}" when an error occurred: '
                'error when waiting for pod "web-0" terminating: global timeout reached',
                file=sys.stderr,
            )
            c["events"].append({"event": "drain blocked", "node": name})
            return 1
        c["events"].append({"event": "drained", "node": name, "by": me})
        print(f"node/{name} drained")
        return 0
    if verb == "uncordon":
        v["cordoned"] = False
        c["events"].append({"event": "uncordoned", "node": name, "by": me})
        print(f"node/{name} uncordoned")
        return 0
    print(f"fake kubectl: unsupported: {args}", file=sys.stderr)
    return 2


def status(c: dict, me: str) -> int:
    # scripts/wrappers/status.py print_pretty: voters are "datastore master nodes"; dqlite's
    # member list, which names a voter whether or not it is up; HA needs more than 2 voters.
    if "datastore" in c and not (c["nodes"][me].get("running", True) and quorum(c)):
        print("microk8s is not running. Use microk8s inspect for a deeper inspection.")
        return 0
    adjust_roles(c)
    voters = c["voters"]
    standby = [
        c["nodes"][n]["address"] + ":19001"
        for n, v in c["nodes"].items()
        if v["role"] == "control-plane" and n not in voters and not v.get("left")
        and n in c.get("members", [n])
    ]  # fmt: skip
    print("microk8s is running")
    print(f"high-availability: {'yes' if len(voters) > 2 else 'no'}")
    print(
        "  datastore master nodes: " + " ".join(c["nodes"][n]["address"] + ":19001" for n in voters)
    )
    print("  datastore standby nodes: " + (" ".join(standby) or "none"))
    return 0


def refresh(c: dict, me: str, args: list[str]) -> int:
    channel = next(a.split("=", 1)[1] for a in args if a.startswith("--channel="))
    v = c["nodes"][me]
    # The newest revision the store has on the channel (channel_revisions); within the channel
    # the node follows, a refresh moves it there (snapd overlord/snapstate: a refresh without a
    # revision takes the channel's latest), stopping and starting every service like any refresh.
    latest = c.get("channel_revisions", {}).get(channel)
    if v["channel"] == channel and (latest is None or v.get("revision") == latest):
        # snapd cmd/snap/cmd_snap_op.go: nothing to do is not an error.
        print('snap "microk8s" has no updates available', file=sys.stderr)
        return 0
    if v["channel"] == channel:
        cordoned = v["cordoned"]
        v.update(revision=latest, ready=False, restart_left=c.get("restart_polls", 2))
        c["events"].append({"event": "refreshed", "node": me, "channel": channel,
                            "revision": latest, "cordoned": cordoned})  # fmt: skip
        print(f"microk8s ({channel}) {v['version']} from Canonical** refreshed")
        return 0
    m = re.match(r"^(\d+\.\d+)", channel)
    assert m, channel
    # A node refreshed while another control-plane node is down leaves dqlite one voter short.
    down = [
        n
        for n, o in c["nodes"].items()
        if n != me and o["role"] == "control-plane" and not o["ready"]
    ]
    if v["role"] == "control-plane" and down:
        c["events"].append({"event": "quorum lost", "node": me, "down": down})
    cordoned = v["cordoned"]
    if "tree" in v:  # the revision's data copied forward, every daemon started again
        node_tree.refresh(Path(v["tree"]))
    v.update(channel=channel, version=f"v{m.group(1)}.4", ready=False,
             restart_left=c.get("restart_polls", 2))  # fmt: skip
    c["events"].append({"event": "refreshed", "node": me, "channel": channel,
                        "cordoned": cordoned})  # fmt: skip
    print(f"microk8s ({channel}) v{m.group(1)}.4 from Canonical** refreshed")
    return 0


# -- day-2 procedures ----------------------------------------------------------------------------

SNAP_DATA = "/var/snap/microk8s/current"
PROVIDER = f"{SNAP_DATA}/args/traefik/provider.yaml"
TOKENS = f"{SNAP_DATA}/credentials/cluster-tokens.txt"
LIB = "/usr/local/lib/hacc"


def host_of(server: str) -> str:
    return server.removeprefix("https://").rsplit(":", 1)[0]


def keepalived_of(text: str) -> dict:
    """What keepalived loads of a keepalived.conf: priority, VIP, unicast peers."""
    peers = re.search(r"unicast_peer \{([^}]*)\}", text)
    return {
        "priority": int(re.search(r"^\s*priority (\d+)", text, re.M).group(1)),
        "vip": re.search(r"virtual_ipaddress \{\s*([0-9.]+)/", text).group(1),
        "peers": peers.group(1).split() if peers else [],
        "running": True,
    }


def haproxy_of(text: str) -> dict:
    return {"port": int(re.search(r"^\s*bind \*:(\d+)$", text, re.M).group(1)), "running": True}


def provider_of(text: str) -> list[str]:
    # ca pkg/proxy: the servers of the Traefik-format provider file, dialled in turn.
    return re.findall(r'- address: "([^"]+)"', text)


def vrrp_holders(c: dict) -> list[str]:
    """Every node runs VRRP as BACKUP with its own priority and sends its adverts only to its
    unicast peers (keepalived.conf(5) unicast_peer); a node that hears no advert of a higher
    priority becomes MASTER and holds its own configured VIP (keepalived vrrp/vrrp.c). Two
    holders are two nodes answering ARP for the VIP."""
    running = {
        n: v["keepalived"]
        for n, v in c["nodes"].items()
        if v.get("keepalived", {}).get("running") and not v.get("lost")
    }
    holders = []
    for n, k in running.items():
        me = c["nodes"][n]["address"]
        heard = [
            o for o, ko in running.items()
            if o != n and ko["priority"] > k["priority"] and me in ko["peers"]
        ]  # fmt: skip
        if not heard:
            holders.append(n)
    return sorted(holders)


def served(c: dict) -> set[str]:
    """The ADDRESS:PORT pairs that answer: each VIP holder's VIP on its HAProxy's port."""
    out = set()
    for n in vrrp_holders(c):
        v = c["nodes"][n]
        if v.get("haproxy", {}).get("running"):
            out.add(f"{v['keepalived']['vip']}:{v['haproxy']['port']}")
    return out


def serves(c: dict, server: str) -> bool:
    return "vrrp" in c and server.removeprefix("https://") in served(c)


def san_lacking(c: dict, server: str) -> str:
    """HAProxy balances over every control-plane node's apiserver: one whose certificate lacks
    the name or address the client asked for fails its connections."""
    host = host_of(server)
    for _, v in sorted(c["nodes"].items()):
        if v["role"] == "control-plane" and v["ready"] and host not in v.get("sans", [host]):
            return ", ".join(v["sans"])
    return ""


def has_api(c: dict, v: dict) -> bool:
    if "vrrp" not in c or v["role"] != "worker" or "proxy" not in v:
        return True
    return bool(set(v["proxy"]) & served(c))


def workers_watch(c: dict) -> None:
    """Record each pinned worker that loses the API (its kubelet reaches the apiservers only
    through its apiserver-proxy) and each that gets it back."""
    for n, v in sorted(c["nodes"].items()):
        if v["role"] != "worker" or "proxy" not in v or v.get("left"):
            continue
        up = has_api(c, v)
        if not up and not v.get("stranded"):
            v["stranded"] = True
            c["events"].append({"event": "worker lost the API", "node": n, "proxy": v["proxy"]})
        elif up and v.get("stranded"):
            v["stranded"] = False
            c["events"].append({"event": "worker back", "node": n})
    holders = vrrp_holders(c)
    if len(holders) > 1 and holders != c.get("split"):
        c["events"].append({"event": "two VIP holders", "nodes": holders})
    c["split"] = holders if len(holders) > 1 else None


def adjust_roles(c: dict) -> None:
    """go-dqlite app/roles.go Adjust, run by the leader every 30 s: with fewer than three online
    voters it promotes a stand-by. Here: after `promote_polls` looks at `microk8s status`."""
    if c.get("promote_left") is None:
        return
    c["promote_left"] -= 1
    if c["promote_left"] > 0:
        return
    standby = [
        n for n, v in c["nodes"].items()
        if v["role"] == "control-plane" and n not in c["voters"] and not v.get("left")
    ]  # fmt: skip
    while len(c["voters"]) < 3 and standby:
        c["voters"].append(standby.pop(0))
        c["events"].append({"event": "promoted", "node": c["voters"][-1]})
    if len(c["voters"]) >= 3:
        c["promote_left"] = None


def d_install(c: dict, me: str, cmd: list[str]) -> int:
    # install -m MODE [-g GROUP] /dev/stdin DEST
    mode = cmd[cmd.index("-m") + 1]
    group = cmd[cmd.index("-g") + 1] if "-g" in cmd else "root"
    assert cmd[-2] == "/dev/stdin", cmd
    v = c["nodes"][me]
    v.setdefault("files", {})[cmd[-1]] = {"content": sys.stdin.read(), "mode": mode, "group": group}
    c["events"].append({"event": "installed", "node": me, "path": cmd[-1]})
    return 0


def d_bash(c: dict, me: str, cmd: list[str]) -> int:
    """`bash apply-day2.sh`: it adds each missing SAN to csr.conf.template and runs
    `microk8s refresh-certs --cert server.crt`, which re-renders csr.conf and issues a new
    server.crt (scripts/wrappers/refresh_certs.py); flags are not modelled."""
    v = c["nodes"][me]
    assert cmd[1] == f"{LIB}/apply-day2.sh", cmd
    text = v["files"][cmd[1]]["content"]
    wanted = [
        x for _, line in re.findall(r"^SAN_(DNS|IP)='([^']*)'", text, re.M) for x in line.split()
    ]
    added = [x for x in wanted if x not in v["sans"]]
    v["sans"] += added
    c["events"].append({"event": "apply-day2", "node": me, "added": added})
    return 0


def d_systemctl(c: dict, me: str, cmd: list[str]) -> int:
    v = c["nodes"][me]
    verb, units = cmd[1], cmd[2:]
    for unit in units:
        if verb == "reload" and unit == "keepalived":
            v["keepalived"] = keepalived_of(
                v["files"]["/etc/keepalived/keepalived.conf"]["content"]
            )
        elif verb == "reload" and unit == "haproxy":
            v["haproxy"] = haproxy_of(v["files"]["/etc/haproxy/haproxy.cfg"]["content"])
        elif verb == "stop" and unit in ("keepalived", "haproxy"):
            v.setdefault(unit, {})["running"] = False
        else:
            print(f"fake systemctl: unsupported: {cmd}", file=sys.stderr)
            return 2
        c["events"].append({"event": f"{unit} {verb}", "node": me})
    return 0


def d_snap(c: dict, me: str, cmd: list[str]) -> int:
    v = c["nodes"][me]
    if cmd[1:] == ["restart", "microk8s.daemon-apiserver-proxy"] and v["role"] == "worker":
        # ca cmd/apiserver-proxy.go: the proxy reads its provider file when it starts.
        v["proxy"] = provider_of(v["files"][PROVIDER]["content"])
        c["events"].append({"event": "apiserver-proxy restarted", "node": me, "proxy": v["proxy"]})
        return 0
    if cmd[1:] == ["restart", "microk8s.daemon-kubelite"]:
        kubelite_restarted(c, me)
        return 0
    if cmd[1:] in (["stop", "--disable", "microk8s"], ["start", "--enable", "microk8s"]):
        # snapd: every service of the snap, disabled at boot or enabled again (reference 5.4).
        return d_stop_start(c, me, cmd[1], snap=True)
    print(f"fake snap: unsupported: {cmd}", file=sys.stderr)
    return 2


def d_microk8s(c: dict, me: str, cmd: list[str]) -> int:
    v = c["nodes"][me]
    verb = cmd[1]
    if verb == "leave":
        # scripts/wrappers/leave.py: a control-plane node removes itself from dqlite; the
        # Node object stays (NotReady) until remove-node.
        if v["role"] == "control-plane":
            if c["voters"] == [me] and len(c["nodes"]) > 1:
                print("This node currently holds the only copy of the Kubernetes database so "
                      "it cannot leave the cluster.", file=sys.stderr)  # fmt: skip
                return 3
            if me in c["voters"]:
                c["voters"].remove(me)
                c["promote_left"] = c.get("promote_polls", 2)
        v.update(left=True, ready=False)
        c["events"].append({"event": "left", "node": me})
        return 0
    if verb == "remove-node":
        if v["role"] == "worker":
            print("This MicroK8s deployment is acting as a node in a cluster. Please use "
                  "microk8s leave.", file=sys.stderr)  # fmt: skip
            return 1
        name, force = cmd[2], "--force" in cmd
        if name not in c["nodes"]:
            print(f"Node {name} does not exist in Kubernetes.", file=sys.stderr)
            return 1
        o = c["nodes"][name]
        member = o["role"] == "control-plane" and not o.get("left")
        member = member and name in c.get("members", [name])
        if member and not force:
            # scripts/wrappers/remove_node.py: a node still registered with dqlite.
            print(f"Removal failed. Node {name} is registered with dqlite. Please, run first "
                  "'microk8s leave' on the departing node.", file=sys.stderr)  # fmt: skip
            return 1
        if name in c["voters"]:
            c["voters"].remove(name)
            c["promote_left"] = c.get("promote_polls", 2)
        del c["nodes"][name]
        c["events"].append({"event": "removed", "node": name, "by": me})
        return 0
    if verb == "add-node":
        # scripts/wrappers/add_token.py: one line per token in cluster-tokens.txt, no TTL.
        token = cmd[cmd.index("--token") + 1]
        f = v.setdefault("files", {}).setdefault(
            TOKENS, {"content": "", "mode": "0660", "group": "microk8s"}
        )
        f["content"] += token + "\n"
        c["events"].append({"event": "token registered", "node": me})
        return 0
    if verb == "refresh-certs":
        return d_refresh_certs(c, me, cmd)
    if verb in ("stop", "start") and "datastore" in c:
        return d_stop_start(c, me, verb)
    print(f"fake microk8s: unsupported: {cmd}", file=sys.stderr)
    return 2


def d_grep(c: dict, me: str, cmd: list[str]) -> int:
    assert cmd[1] == "-qxF", cmd
    f = c["nodes"][me].get("files", {}).get(cmd[3])
    return 0 if f and cmd[2] in f["content"].splitlines() else 1


def d_test(c: dict, me: str, cmd: list[str]) -> int:
    assert cmd[1] == "-f", cmd
    return 0 if cmd[2] in c["nodes"][me].get("files", {}) else 1


def d_sed(c: dict, me: str, cmd: list[str]) -> int:
    """The real sed, on the node's file."""
    import subprocess
    import tempfile

    f = c["nodes"][me].get("files", {}).get(cmd[-1])
    if f is None:
        print(f"sed: can't read {cmd[-1]}: No such file or directory", file=sys.stderr)
        return 2
    with tempfile.NamedTemporaryFile("w+", suffix=".txt") as tmp:
        tmp.write(f["content"])
        tmp.flush()
        r = subprocess.run(["sed", *cmd[1:-1], tmp.name], check=False)
        with open(tmp.name) as back:
            f["content"] = back.read()
    c["events"].append({"event": "sed", "node": me, "path": cmd[-1]})
    return r.returncode


# -- the datastore: dqlite's files, quorum, stop and start ("datastore" in the file) --------------

BACKEND = f"{SNAP_DATA}/var/kubernetes/backend"
DQLITE = "/snap/microk8s/current/bin/dqlite"
BOOTSTRAP_ID = 3297041220608546238  # go-dqlite's ID of a cluster's first node (app/app.go)
SEGMENT = re.compile(r"^(\d{16})-(\d{16})$")


def node_id(c: dict, name: str) -> int:
    """info.yaml's ID: the first node's is BootstrapID; a joiner's comes from GenerateID (its
    address and the time, so any number: here a fixed one per address)."""
    import hashlib

    if name == next(n for n, v in c["nodes"].items() if v["role"] == "control-plane"):
        return BOOTSTRAP_ID
    return int(hashlib.sha256(c["nodes"][name]["address"].encode()).hexdigest()[:15], 16)


def yaml_entries(text: str) -> list[dict]:
    """cluster.yaml or info.yaml as go-dqlite writes them (yaml.v2 of client.NodeInfo: ID,
    Address, Role)."""
    entries: list[dict] = []
    for line in text.splitlines():
        if line.startswith("- ") or not entries:
            entries.append({})
        key, _, value = line.lstrip("- ").partition(": ")
        if key:
            entries[-1][key] = value
    return [e for e in entries if e]


def cluster_yaml(entries: list[tuple[int, str, int]]) -> str:
    return "".join(f"- ID: {i}\n  Address: {a}\n  Role: {r}\n" for i, a, r in entries)


def seed_backend(c: dict) -> None:
    """Every control-plane node's backend as a running cluster has it (reference 1.4): its own
    info.yaml, cluster.yaml (the membership, voters Role 0, stand-bys Role 1), the dqlite pair,
    raft's metadata, a snapshot and closed segments whose entries (here: JSON) end with the
    configuration in force."""
    cps = [n for n, v in c["nodes"].items() if v["role"] == "control-plane"]
    c["members"] = cps
    members = [(node_id(c, n), c["nodes"][n]["address"] + ":19001", 0 if n in c["voters"] else 1)
               for n in cps]  # fmt: skip
    last = c.get("log_index", {})
    for n in cps:
        files = c["nodes"][n].setdefault("files", {})
        i, a, _ = members[cps.index(n)]
        end = last.get(n, 100)
        for name, content in (
            ("info.yaml", f"ID: {i}\nAddress: {a}\nRole: 0\n"),
            ("cluster.yaml", cluster_yaml(members)),
            ("cluster.crt", "CERT"),
            ("cluster.key", "KEY"),
            ("metadata1", "term 3"),
            ("metadata2", "term 3"),
            ("snapshot-3-64-1700000000", "rows"),
            ("snapshot-3-64-1700000000.meta", "meta"),
            (f"{1:016d}-{64:016d}", json.dumps({"voters": [m[1] for m in members if m[2] == 0]})),
            (f"{65:016d}-{end:016d}", json.dumps({"voters": [m[1] for m in members if m[2] == 0]})),
        ):
            files[f"{BACKEND}/{name}"] = {"content": content, "mode": "0660", "group": "microk8s"}


def quorum(c: dict) -> bool:
    """raft: a leader needs a majority of the voters online (reference 8.3)."""
    up = [n for n in c["voters"] if n in c["nodes"] and up_cp(c["nodes"][n])]
    return len(up) * 2 > len(c["voters"])


def up_cp(v: dict) -> bool:
    return v.get("running", True) and not v.get("lost")


def leader(c: dict) -> str | None:
    """The dqlite leader: none without quorum; a leader that stops hands leadership over to a
    voter still running (go-dqlite app.go Handover, reference 4.3)."""
    if not quorum(c):
        c["leader"] = None
        return None
    current = c.get("leader")
    if current not in c["voters"] or not up_cp(c["nodes"][current]):
        c["leader"] = next(n for n in c["voters"] if up_cp(c["nodes"][n]))
    return c["leader"]


def settle_datastore(c: dict) -> None:
    """A node is Ready while its services run and the apiserver has its datastore."""
    ok = quorum(c)
    for v in c["nodes"].values():
        v["ready"] = up_cp(v) and ok
    leader(c)


def datastore_kubectl(c: dict, me: str, args: list[str]) -> int | None:
    # microk8s-kubectl.wrapper exit_if_stopped (actions/common/utils.sh).
    if not c["nodes"][me].get("running", True):
        print("microk8s is not running, try microk8s start", file=sys.stderr)
        return 1
    if not quorum(c):
        # The apiserver without its datastore (kine over dqlite with no leader): requests time
        # out and /readyz fails its etcd check (k8s.io/apiserver healthz); the wording is ours.
        print("Error from server: the server was unable to return a response in the time "
              "allotted (readyz: [-]etcd failed)", file=sys.stderr)  # fmt: skip
        return 1
    if args[:2] == ["get", "--raw"] and args[2] == "/readyz":
        print("ok")
        return 0
    if args[0] == "cordon":
        c["nodes"][args[1]]["cordoned"] = True
        c["events"].append({"event": "cordoned", "node": args[1], "by": me})
        print(f"node/{args[1]} cordoned")
        return 0
    return None


def d_stop_start(c: dict, me: str, verb: str, snap: bool = False) -> int:
    v = c["nodes"][me]
    if v["role"] == "worker" and not snap:
        # microk8s-stop.wrapper / -start.wrapper on a worker (clustered.lock): a message, exit 0,
        # nothing stopped (reference 4.5).
        print("This MicroK8s deployment is acting as a node in a cluster. Use 'snap stop "
              "microk8s' instead.")  # fmt: skip
        return 0
    if verb == "start" and v["role"] == "control-plane":
        adopt_log(c, me)
    v["running"] = verb == "start"
    settle_datastore(c)
    c["events"].append({"event": "started" if v["running"] else "stopped", "node": me,
                        "role": v["role"], "was_leader": verb == "stop" and c.get("was") == me,
                        "quorum": quorum(c)})  # fmt: skip
    c["was"] = leader(c)
    return 0


def log_config(v: dict) -> tuple[int, list[str]]:
    """The last index of a node's log and the voters of the configuration it ends with."""
    best = (0, [])
    for path, f in v.get("files", {}).items():
        m = SEGMENT.match(path.rsplit("/", 1)[-1])
        if path.startswith(BACKEND + "/") and m and int(m.group(2)) > best[0]:
            best = (int(m.group(2)), json.loads(f["content"])["voters"])
    return best


def adopt_log(c: dict, me: str) -> None:
    """A node starting with a configuration newer than the cluster's (a .reconfigure): raft
    takes the configuration its log ends with, so its voters are the cluster's."""
    index, voters = log_config(c["nodes"][me])
    if index > c.get("log_end", 100):
        names = [n for n, o in c["nodes"].items() if o["address"] + ":19001" in voters]
        c.update(log_end=index, voters=names, members=names, leader=None)
        c["events"].append({"event": "new configuration", "node": me, "voters": names})


def d_dqlite(c: dict, me: str, cmd: list[str]) -> int:
    """The go-dqlite shell (cmd/dqlite, internal/shell/shell.go). ssh hands the remote shell
    one line, so a quoted command is split as that shell splits it."""
    import shlex

    words = shlex.split(" ".join(cmd))
    # The command is one argument, split at blanks by the shell's process* functions.
    line = " ".join(words[words.index("k8s") + 1 :]).split(" ")
    v = c["nodes"][me]
    if line == [".leader"]:
        # processLeader: client.FindLeader over the store's nodes (-s file://cluster.yaml).
        lead = leader(c)
        if lead is None or not v.get("running", True):
            print("Error: no available dqlite leader server found", file=sys.stderr)
            return 1
        print(c["nodes"][lead]["address"] + ":19001")
        return 0
    if line[:1] == [".reconfigure"] and len(line) == 3:
        # processReconfigure: ReconfigureMembershipExt(dir, servers of the YAML), offline; go-
        # dqlite's help asks for every node stopped and IDs in line with info.yaml.
        if v.get("running", True):
            c["events"].append({"event": "reconfigure while running", "node": me})
            print("NOK: the fake refuses a .reconfigure under a running dqlite")
            return 1
        entries = yaml_entries(v["files"][line[2]]["content"])
        me_info = yaml_entries(v["files"][f"{BACKEND}/info.yaml"]["content"])[0]
        if not any(
            e["ID"] == me_info["ID"] and e["Address"] == me_info["Address"] for e in entries
        ):
            c["events"].append({"event": "ids mismatch", "node": me})
        index = log_config(v)[0] + 1
        v["files"][f"{BACKEND}/{index:016d}-{index:016d}"] = {
            "content": json.dumps({"voters": [e["Address"] for e in entries if e["Role"] == "0"]}),
            "mode": "0600", "group": "root",
        }  # fmt: skip
        c["events"].append({"event": "reconfigured", "node": me,
                            "voters": [e["Address"] for e in entries]})  # fmt: skip
        print("OK")
        return 0
    print(f"fake dqlite: unsupported: {line}", file=sys.stderr)
    return 2


def d_cat(c: dict, me: str, cmd: list[str]) -> int:
    f = c["nodes"][me].get("files", {}).get(cmd[1])
    if f is None:
        print(f"cat: {cmd[1]}: No such file or directory", file=sys.stderr)
        return 1
    print(f["content"], end="")
    return 0


def d_ls(c: dict, me: str, cmd: list[str]) -> int:
    d = cmd[-1].rstrip("/") + "/"
    names = sorted({p[len(d) :] for p in c["nodes"][me].get("files", {}) if p.startswith(d)})
    print("\n".join(n for n in names if "/" not in n))
    return 0


def d_rm(c: dict, me: str, cmd: list[str]) -> int:
    files = c["nodes"][me].get("files", {})
    for path in cmd[cmd.index("--") + 1 :]:
        files.pop(path, None)
    c["events"].append({"event": "removed files", "node": me, "paths": cmd[cmd.index("--") + 1 :]})
    return 0


def d_tar(c: dict, me: str, cmd: list[str]) -> int:
    """tar as the procedures use it; an archive is the JSON of the files it holds."""
    files = c["nodes"][me].setdefault("files", {})
    if cmd[1] == "-tzf":
        if cmd[2] not in files:
            print(f"tar: {cmd[2]}: Cannot open: No such file or directory", file=sys.stderr)
            return 2
        print("\n".join(json.loads(files[cmd[2]]["content"])))
        return 0
    base, op, target, names = cmd[2], cmd[3], cmd[4], cmd[5:]
    assert cmd[1] == "-C", cmd
    if op == "-czf":  # tar -C PARENT -czf FILE backend
        held = {
            p[len(base) + 1 :]: f for p, f in files.items() if p.startswith(f"{base}/{names[0]}/")
        }
        files[target] = {"content": json.dumps(held), "mode": "0600", "group": "root"}
        c["events"].append({"event": "archived", "node": me, "path": target})
        return 0
    if op == "-cf":
        print(json.dumps({n: files[f"{base}/{n}"] for n in names}))
        return 0
    if op == "-xf":
        got = json.loads(PIPED["stdin"])
        for n, f in got.items():
            files[f"{base}/{n}"] = f
        c["events"].append({"event": "extracted", "node": me, "names": sorted(got)})
        return 0
    print(f"fake tar: unsupported: {cmd}", file=sys.stderr)
    return 2


# -- certificates ------------------------------------------------------------------------------

CERTS = f"{SNAP_DATA}/certs"
PEM = "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----"


def d_refresh_certs(c: dict, me: str, cmd: list[str]) -> int:
    """scripts/wrappers/refresh_certs.py: on a worker a message and exit 0; --cert server.crt
    re-issues it for 365 days and restarts kubelite and the cluster-agent, front-proxy-client.crt
    restarts kubelite (reference 6.2)."""
    v = c["nodes"][me]
    if v["role"] == "worker":
        print("This MicroK8s deployment is acting as a node in a cluster. Please use "
              "refresh-certs on the master.")  # fmt: skip
        return 0
    cert = cmd[cmd.index("--cert") + 1]
    if cert not in ("ca.crt", "server.crt", "front-proxy-client.crt"):
        print(f"Error: Invalid value for '-e' / '--cert': '{cert}'", file=sys.stderr)
        return 2
    v.setdefault("certs", {})[cert] = {"days": 365}
    restart(c, me)
    c["events"].append({"event": "refresh-certs", "node": me, "cert": cert})
    return 0


def restart(c: dict, me: str) -> None:
    """kubelite restarting: NotReady for `restart_polls` looks."""
    v = c["nodes"][me]
    v.update(ready=False, restart_left=c.get("restart_polls", 2))


def d_openssl(c: dict, me: str, cmd: list[str]) -> int:
    """openssl req -new ... -subj S -addext subjectAltName=...: a CSR (here: its JSON); openssl
    x509 -req -CA ca.crt -CAkey ca.key ... -copy_extensions copy: the certificate, issued by the
    cluster CA on a control-plane node; a worker's certs/ca.key is its own from install, not the
    cluster's (it trusts ca.remote.crt: reference 5.2, 4.1)."""
    v = c["nodes"][me]
    if cmd[1] == "req":
        subject = cmd[cmd.index("-subj") + 1]
        san = cmd[cmd.index("-addext") + 1].removeprefix("subjectAltName=")
        print(json.dumps({"subject": subject, "san": san.split(",")}))
        return 0
    if cmd[1] == "x509":
        csr = json.loads(PIPED["stdin"])
        csr["issuer"] = "cluster CA" if v["role"] == "control-plane" else f"{me}'s own CA"
        if "-copy_extensions" not in cmd:
            csr["san"] = []  # x509 -req drops the request's extensions unless told to copy them
        print(PEM.format(json.dumps({**csr, "days": int(cmd[cmd.index("-days") + 1])})))
        c["events"].append({"event": "signed", "node": me, "subject": csr["subject"]})
        return 0
    print(f"fake openssl: unsupported: {cmd}", file=sys.stderr)
    return 2


def d_cp(c: dict, me: str, cmd: list[str]) -> int:
    files = c["nodes"][me].setdefault("files", {})
    src, dst = cmd[-2], cmd[-1]
    if src not in files:
        print(f"cp: cannot stat '{src}': No such file or directory", file=sys.stderr)
        return 1
    kept = files.get(dst, files[src]) if "-p" not in cmd else files[src]
    files[dst] = {**files[src], "mode": kept["mode"], "group": kept["group"]}
    return 0


def kubelite_restarted(c: dict, me: str) -> None:
    """The kubelet reads its serving certificate when it starts (reference 6.3)."""
    v = c["nodes"][me]
    f = v.get("files", {}).get(f"{CERTS}/kubelet.crt")
    if f is not None:
        v.setdefault("certs", {})["kubelet.crt"] = json.loads(f["content"].split("\n")[1])
    restart(c, me)
    c["events"].append({"event": "kubelite restarted", "node": me})


DAY2 = {
    ("install",): d_install,
    ("bash",): d_bash,
    ("systemctl",): d_systemctl,
    ("snap",): d_snap,
    ("microk8s",): d_microk8s,
    ("grep",): d_grep,
    ("test",): d_test,
    ("sed",): d_sed,
    ("true",): lambda c, me, cmd: 0,
    ("cat",): d_cat,
    ("ls",): d_ls,
    ("tar",): d_tar,
    ("mkdir",): lambda c, me, cmd: 0,
    ("rm",): d_rm,
    ("openssl",): d_openssl,
    ("cp",): d_cp,
    ("hostname",): lambda c, me, cmd: print(me) or 0,
    (DQLITE,): d_dqlite,
}


def boot(name: str, address: str, role: str, folder: str, token: str = "") -> int:
    """A node's first boot from its build folder: its staged files, keepalived and HAProxy
    from them, its certificate's SANs; a worker joins through the first control-plane node
    with its token, which the join spends first (ca pkg/snap/snap.go ConsumeClusterToken)."""
    from pathlib import Path

    with open(STATE, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        c = json.load(f)
        d = Path(folder)
        v = {"address": address, "role": role, "channel": "1.32/stable", "version": "v1.32.9",
             "ready": True, "cordoned": False, "restart_left": 0, "files": {}}  # fmt: skip
        if role == "control-plane":
            for lb, dest in (("keepalived.conf", "/etc/keepalived/keepalived.conf"),
                             ("haproxy.cfg", "/etc/haproxy/haproxy.cfg")):  # fmt: skip
                if (d / lb).exists():
                    text = (d / lb).read_text()
                    for path in (dest, f"{LIB}/{lb}"):
                        v["files"][path] = {"content": text, "mode": "0644", "group": "root"}
            if (d / "keepalived.conf").exists():
                v["keepalived"] = keepalived_of((d / "keepalived.conf").read_text())
                v["haproxy"] = haproxy_of((d / "haproxy.cfg").read_text())
            day2 = (d / "apply-day2.sh").read_text()
            sans = [
                x
                for _, line in re.findall(r"^SAN_(DNS|IP)='([^']*)'", day2, re.M)
                for x in line.split()
            ]
            v["sans"] = [*sans, address, "127.0.0.1"]
        else:
            ud = (d / "user-data.yaml").read_text()
            m = re.search(r'- address: "([^"]+)"', ud)
            if m:
                v["proxy"] = [m.group(1)]
                v["files"][PROVIDER] = {
                    "content": f'- address: "{m.group(1)}"\n',
                    "mode": "0644",
                    "group": "root",
                }
            if token:  # a worker that joins now; the bench's first workers joined long ago
                first = next(n for n, o in c["nodes"].items() if o["role"] == "control-plane")
                tokens = c["nodes"][first].get("files", {}).get(TOKENS, {"content": ""})
                lines = tokens["content"].splitlines()
                if token not in lines:
                    c["events"].append(
                        {"event": "join refused", "node": name, "why": "invalid token"}
                    )
                    f.seek(0)
                    f.truncate()
                    json.dump(c, f, indent=1)
                    print("Connection failed. Invalid token (500).", file=sys.stderr)
                    return 6
                lines.remove(token)
                tokens["content"] = "".join(x + "\n" for x in lines)
        c["nodes"][name] = v
        if "datastore" in c and "members" in c and role == "control-plane":
            # A join: go-dqlite adds the node as a spare and the leader's Adjust promotes it.
            c["members"].append(name)
            c["promote_left"] = c.get("promote_polls", 2)
            v["files"][f"{BACKEND}/info.yaml"] = {"content": f"ID: {node_id(c, name)}\nAddress: "
                                                  f"{address}:19001\nRole: 0\n", "mode": "0600",
                                                  "group": "root"}  # fmt: skip
        c["events"].append({"event": "booted", "node": name})
        if role == "control-plane" and name not in c["voters"] and len(c["voters"]) < 3:
            # go-dqlite app/app.go maybePromoteOurselves (Assume): a node that starts while
            # fewer than three voters are online becomes one.
            c["voters"].append(name)
            c["events"].append({"event": "promoted", "node": name})
        workers_watch(c)
        f.seek(0)
        f.truncate()
        json.dump(c, f, indent=1)
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--boot"]:
        return boot(*sys.argv[2:])
    # ssh ADDRESS sudo COMMAND...
    address, sudo, *command = sys.argv[1:]
    assert sudo == "sudo", sys.argv
    piped = (command[:1] == ["tar"] and "-xf" in command) or command[:2] == ["openssl", "x509"]
    if piped:  # the other end of a pipe: read it unlocked
        PIPED["stdin"] = sys.stdin.read()
    with open(STATE, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        c = json.load(f)
        found = node_by_address(c, address)
        if found is None:
            print(f"ssh: connect to host {address} port 22: No route to host", file=sys.stderr)
            return 255
        me, _ = found
        if "datastore" in c:
            if "members" not in c:
                seed_backend(c)
            settle_datastore(c)
        if command[:2] == ["microk8s", "kubectl"]:
            rc = kubectl(c, me, command[2:])
        elif command[:2] == ["microk8s", "status"]:
            rc = status(c, me)
        elif command[:3] == ["snap", "refresh", "microk8s"]:
            rc = refresh(c, me, command[3:])
        elif "vrrp" in c and tuple(command[:1]) in DAY2:
            rc = DAY2[tuple(command[:1])](c, me, command)
            workers_watch(c)
        else:
            print(f"fake: unsupported: {command}", file=sys.stderr)
            rc = 2
        f.seek(0)
        f.truncate()
        json.dump(c, f, indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
