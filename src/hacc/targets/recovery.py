"""Recovery of a cluster whose datastore lost quorum, as a procedure of live-node steps.

It follows MicroK8s's "Recover from lost quorum" page (microk8s.io/docs/restore-quorum) and the
help of go-dqlite's `.reconfigure` (internal/shell/shell.go), with what the spec knows of every
node:

1. refuse while a majority of the voters answers or any node finds a dqlite leader;
2. stop MicroK8s on every control-plane node that answers (lost ones too: `microk8s stop`
   disables the services, so a lost node that comes back does not start a second cluster);
3. save every survivor's backend folder (tar, as the page does) before anything changes;
4. on the survivor with the most recent raft log: cluster.yaml made of the survivors, with the
   IDs of their info.yaml, and dqlite's offline `.reconfigure`;
5. the other survivors get its snapshots, segments and cluster.yaml;
6. MicroK8s started on the survivors; /readyz waited for through the endpoint;
7. the lost nodes' Node objects removed (`remove-node`: dqlite no longer lists them);
8. the survivors' load-balancer files pushed from the build (the VIP holder last);
9. the lost nodes, reinstalled, boot with their user-data and join again.
"""

from __future__ import annotations

from hacc.compiler.model import KEEPALIVED_HAPROXY, Cluster, Node
from hacc.errors import HaccError
from hacc.targets import keepalived
from hacc.targets.artifact import LB_PATHS
from hacc.targets.procedure import Phase, Procedure, Step
from hacc.targets.quoting import sh
from hacc.targets.user_data import LIB, lb_file_list

RELOAD = {"haproxy.cfg": "haproxy", "keepalived.conf": "keepalived"}
PAGE = "microk8s.io/docs/restore-quorum"


def server(c: Cluster) -> str:
    """The endpoint the gates use: its address when it has one (no DNS needed on the nodes)."""
    ep = c.endpoint
    return f"https://{ep.address or ep.dns_name}:{ep.port}"


def pairs(nodes: list[Node]) -> str:
    return " ".join(sh(f"{n.name}={n.address}") for n in nodes)


def lost_nodes(c: Cluster, names: list[str], source: str | None) -> tuple[list[Node], list[Node]]:
    """(the lost control-plane nodes, the survivors, the source first)."""
    cps = {n.name: n for n in c.control_plane}
    unknown = [n for n in names if n not in cps]
    if unknown:
        raise HaccError(
            f"{c.name}: --lost names {', '.join(unknown)}, not control-plane nodes of the spec "
            f"({', '.join(cps)}); workers run no datastore"
        )
    lost = [cps[n] for n in dict.fromkeys(names)]
    survivors = [n for n in c.control_plane if n not in lost]
    if not survivors:
        raise HaccError(
            f"{c.name}: every control-plane node is lost: there is no datastore to recover; "
            "restore one from a backup (RUNBOOK: Restore from a backup archive)"
        )
    if source is not None:
        if source not in {n.name for n in survivors}:
            raise HaccError(f"{c.name}: --source {source} is not a surviving control-plane node")
        survivors.sort(key=lambda n: n.name != source)
    return lost, survivors


def procedure(c: Cluster, names: list[str], out: str, source: str | None = None) -> Procedure:
    lost, survivors = lost_nodes(c, names, source)
    src = survivors[0]
    others = survivors[1:]
    srv = server(c)
    every = pairs(list(c.control_plane))
    alive = pairs(survivors)
    kept = " ".join(n.name for n in survivors)
    phases: list[Phase] = []

    def phase(title: str, steps: list[Step], *, gated: bool = False, cp: str = "") -> None:
        if steps:
            why = "" if gated else "the datastore has no quorum until the survivors start"
            phases.append(Phase(title, srv, tuple(steps), gated, src.address, cp, srv, why))

    phase(
        "Quorum lost: nothing changes while a majority answers",
        [
            Step(
                "quorum-lost",
                "workstation",
                "check that no node finds a dqlite leader and most voters are unreachable",
                (f"quorum_lost {src.address} {every}",),
                why="rewriting the membership of a datastore that still has quorum throws away "
                "what its majority holds; go-dqlite's `.leader` asks every node of "
                "cluster.yaml (internal/shell/shell.go processLeader)",
            )
        ],
    )
    phase(
        "Stop MicroK8s on every control-plane node that answers",
        [
            Step(
                f"{n.name}:stop",
                n.name,
                "microk8s stop"
                + (" (a lost node that answers must not come back)" if n in lost else ""),
                (f"stop_services {n.address} {n.name}",),
                why=f"the page's step 1 ({PAGE}): dqlite stopped everywhere; workers run none "
                "and `microk8s stop` does nothing there (clustered.lock)",
                back=f"sudo microk8s start on {n.name}",
            )
            for n in [*survivors, *lost]
        ],
    )
    phase(
        "Save each survivor's datastore before anything changes",
        [
            Step(
                f"{n.name}:save-backend",
                n.name,
                "tar of var/kubernetes/backend into /var/snap/microk8s/common/hacc-saved",
                (f"save_backend {n.address} {n.name}",),
                why="the page's step 2 and `.reconfigure`'s help step 0 (back up every data "
                "directory); taken with dqlite stopped, so the copy is consistent",
            )
            for n in survivors
        ],
    )
    restore = (
        "stop MicroK8s on the survivors, extract each one's archive from "
        "/var/snap/microk8s/common/hacc-saved over var/kubernetes (after moving backend "
        "aside), start MicroK8s"
    )
    steps = [
        Step(
            f"{src.name}:most-recent",
            src.name,
            "check that its raft log is the most recent of the survivors'",
            (f"most_recent {src.address} {pairs(others)}".rstrip(),),
            why="`.reconfigure` keeps the data of the node it runs on; its help asks for the "
            "node with the most up-to-date term and log (write the procedure again with "
            "--source to pick another)",
        ),
        Step(
            f"{src.name}:reconfigure",
            src.name,
            f"cluster.yaml of {', '.join(n.name for n in survivors)} (IDs from their "
            "info.yaml), then dqlite .reconfigure",
            (f"reconfigure {src.address} {alive}",),
            why=f"the page's steps 3 and 4 ({PAGE}); go-dqlite internal/shell/shell.go "
            "processReconfigure runs ReconfigureMembershipExt on the stopped node's folder",
            back=restore,
        ),
    ]
    steps += [
        Step(
            f"{n.name}:copy-backend",
            n.name,
            f"{src.name}'s snapshots, segments and cluster.yaml in place of its own",
            (f"copy_backend {src.address} {n.address}",),
            why="`.reconfigure`'s help step 5 and the page's step 5: every survivor starts "
            "from the same log and configuration; its own info.yaml stays",
            back=restore,
        )
        for n in others
    ]
    phase("Rewrite the membership: the survivors only", steps)
    phase(
        "Start the survivors",
        [
            *(
                Step(
                    f"{n.name}:start",
                    n.name,
                    "microk8s start",
                    (f"run {n.address} microk8s start",),
                    why="the page's step 6; `microk8s start` waits up to 60 s for a Ready "
                    "node and succeeds either way (actions/common/utils.sh wait_for_node), so "
                    "the next step waits for the apiserver itself",
                    back=restore,
                )
                for n in survivors
            ),
            Step(
                "readyz",
                "workstation",
                "wait until /readyz answers ok through the endpoint",
                (f"await_readyz {src.address}",),
                why="the apiserver is ready only once its datastore answers",
            ),
        ],
    )
    phase(
        "Remove the lost nodes' Node objects",
        [
            Step(
                f"{n.name}:remove-node",
                src.name,
                f"microk8s remove-node {n.name}",
                (f"run {src.address} microk8s remove-node {n.name}",),
                why=f"the page's step 7: dqlite no longer lists {n.name}, so no --force "
                "(scripts/wrappers/remove_node.py)",
            )
            for n in lost
        ],
        gated=True,
        cp=kept,
    )
    steps = []
    if c.mode == KEEPALIVED_HAPROXY:
        priority = keepalived.priorities(c)
        files = [(name, mode) for name, _, mode in lb_file_list(c)]
        holder = max(survivors, key=lambda n: priority[n.name])
        for n in sorted(survivors, key=lambda n: priority[n.name]):
            lines = []
            for name, mode in files:
                lines.append(
                    f'push {n.address} "$OUT"/nodes/{n.name}/{name} {LB_PATHS[name]} {mode}'
                )
                lines.append(f'push {n.address} "$OUT"/nodes/{n.name}/{name} {LIB}/{name} {mode}')
            lines += [
                f"run {n.address} systemctl reload {RELOAD[name]}"
                for name, _ in files
                if name in RELOAD
            ]
            steps.append(
                Step(
                    f"{n.name}:load-balancer",
                    n.name,
                    f"install {', '.join(name for name, _ in files)} from the build "
                    f"(and the staged copies in {LIB}), reload",
                    tuple(lines),
                    why="the build of the spec as it is now (a spec without the lost nodes "
                    f"drops them from the peers and backends); keepalived elects by priority, "
                    f"so the VIP holder ({holder.name}) goes last",
                    back=f"the last build's files for {n.name} (Git), installed the same way",
                )
            )
    phase(
        "Load-balancer configurations of the survivors, the VIP holder last",
        steps,
        gated=True,
        cp=kept,
    )
    if c.first in lost:
        rejoin: list[Step] = []
    else:
        rejoin = [
            Step(
                f"{n.name}:joined",
                n.name,
                f"reinstall {n.name} (or sudo snap remove --purge microk8s on it), boot it "
                "with its user-data; wait until dqlite lists it",
                (f"await_datastore {src.address} {n.address} {n.name}",),
                why=f"the page: a lost node that comes back joins again with add-node and join; "
                f"its user-data joins {c.first.name}, which survived",
                back=f"sudo microk8s leave on {n.name}, then sudo microk8s remove-node "
                f"{n.name} on {src.name}",
            )
            for n in lost
        ]
    phase("Re-join the lost nodes", rejoin, gated=True, cp=kept)
    return Procedure(
        c,
        f"recover-{c.name}",
        f"Recovery of cluster {c.name} after losing {', '.join(n.name for n in lost)}",
        tuple(phases),
        1 if len(survivors) < 3 else 3,
        out=out,
        command="hacc recover",
        about=f"with {', '.join(n.name for n in survivors)} surviving",
        partials=("datastore.sh.j2",),
    )
