#!/usr/bin/python3
"""The upgrade bench's stand-in for a running cluster as `hacc upgrade`'s script sees it: `ssh`
to a node's address, then `sudo microk8s ...` or `sudo snap ...` there. One JSON file
(BENCH_CLUSTER) holds every node; each call locks it, acts, and appends to its event log.

A fake, not a consumer: it reproduces only behaviour read in the sources, each cited where it
is modelled. Faults come from the same file: never_ready (nodes that stay NotReady after their
refresh), pdb (nodes whose drain a PodDisruptionBudget blocks), voters (dqlite's voters);
channel_revisions (the store's newest revision per channel) and each node's revision.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys

STATE = os.environ["BENCH_CLUSTER"]
# scripts/wrappers/microk8s-kubectl.wrapper (canonical/microk8s): on a worker (clustered.lock).
WORKER_KUBECTL = (
    "This MicroK8s deployment is acting as a node in a cluster. "
    "Please use the microk8s kubectl on the master."
)


def node_by_address(c: dict, address: str) -> tuple[str, dict] | None:
    return next(((n, v) for n, v in c["nodes"].items() if v["address"] == address), None)


def status_column(v: dict) -> str:
    ready = "Ready" if v["ready"] else "NotReady"
    return ready + (",SchedulingDisabled" if v["cordoned"] else "")


def settle(c: dict, name: str) -> None:
    """Time passes for a refreshed node each time it is looked at: kubelite restarts and the
    node reports Ready again after `restart_polls` looks, unless it never comes back."""
    v = c["nodes"][name]
    if v["ready"] or name in c.get("never_ready", []):
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
    if server is not None and server != c["endpoint"]:
        print(f"Unable to connect to the server: dial tcp {server}: i/o timeout", file=sys.stderr)
        return 1
    c["events"].append({"event": "kubectl", "on": me, "via_endpoint": server is not None,
                        "args": args})  # fmt: skip
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
            print(f"{name}   {status_column(v)}   <none>   12d   {v['version']}")
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
    voters = c["voters"]
    standby = [
        c["nodes"][n]["address"] + ":19001"
        for n, v in c["nodes"].items()
        if v["role"] == "control-plane" and n not in voters
    ]
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
    v.update(channel=channel, version=f"v{m.group(1)}.4", ready=False,
             restart_left=c.get("restart_polls", 2))  # fmt: skip
    c["events"].append({"event": "refreshed", "node": me, "channel": channel,
                        "cordoned": cordoned})  # fmt: skip
    print(f"microk8s ({channel}) v{m.group(1)}.4 from Canonical** refreshed")
    return 0


def main() -> int:
    # ssh ADDRESS sudo COMMAND...
    address, sudo, *command = sys.argv[1:]
    assert sudo == "sudo", sys.argv
    with open(STATE, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        c = json.load(f)
        found = node_by_address(c, address)
        if found is None:
            print(f"ssh: connect to host {address} port 22: No route to host", file=sys.stderr)
            return 255
        me, _ = found
        if command[:2] == ["microk8s", "kubectl"]:
            rc = kubectl(c, me, command[2:])
        elif command[:2] == ["microk8s", "status"]:
            rc = status(c, me)
        elif command[:3] == ["snap", "refresh", "microk8s"]:
            rc = refresh(c, me, command[3:])
        else:
            print(f"fake: unsupported: {command}", file=sys.stderr)
            rc = 2
        f.seek(0)
        f.truncate()
        json.dump(c, f, indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
