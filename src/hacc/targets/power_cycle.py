"""Whole-cluster power maintenance: a shutdown and a startup procedure, in a safe order.

Shutdown: the workers cordoned, then stopped (`snap stop --disable microk8s`: `microk8s stop`
does nothing on a worker, and --disable keeps the services down when the machine boots), then
the control-plane nodes one at a time with the dqlite leader last: its log is the most recent
once the others are down (reference 5.4; go-dqlite's Handover on each stop, app/app.go).

Startup, the reverse: the node that stopped last first, then the other control-plane nodes;
the datastore's voters and /readyz through the endpoint waited for; then the workers started,
waited for, and uncordoned.
"""

from __future__ import annotations

from typing import Any

from hacc.compiler.model import Cluster
from hacc.targets.procedure import Phase, Procedure, Step
from hacc.targets.recovery import pairs, server

STOP_PAGE = "microk8s-resources/wrappers/microk8s-stop.wrapper in canonical/microk8s"


def slugs(c: Cluster) -> tuple[str, str]:
    return f"power-off-{c.name}", f"power-on-{c.name}"


def _procedure(
    c: Cluster, which: int, what: str, phases: list[Phase], out: str, **kw: Any
) -> Procedure:
    return Procedure(
        c,
        slugs(c)[which],
        f"Whole-cluster {what} of {c.name}",
        tuple(phases),
        min(3, len(c.control_plane)),
        out=out,
        command="hacc power",
        partials=("datastore.sh.j2",),
        **kw,
    )


def shutdown(c: Cluster, out: str) -> Procedure:
    srv = server(c)
    via = c.first.address
    cps = list(c.control_plane)
    every = " ".join(n.name for n in cps)
    kubectl = 'microk8s kubectl --server="$SERVER"'
    phases = []
    if c.workers:
        phases.append(
            Phase(
                "Workers: cordoned, then stopped",
                srv,
                (
                    *(
                        Step(
                            f"{w.name}:cordon",
                            w.name,
                            "cordon (nothing new is scheduled there)",
                            (f"run {via} {kubectl} cordon {w.name}",),
                            back=f"microk8s kubectl uncordon {w.name}",
                        )
                        for w in c.workers
                    ),
                    *(
                        Step(
                            f"{w.name}:stop",
                            w.name,
                            "snap stop --disable microk8s",
                            (f"run {w.address} snap stop --disable microk8s",),
                            why="`microk8s stop` prints a message and stops nothing on a worker "
                            "(clustered.lock, " + STOP_PAGE + "); --disable keeps the services "
                            "down when the machine boots again",
                            back=f"sudo snap start --enable microk8s on {w.name}",
                        )
                        for w in c.workers
                    ),
                ),
                True,
                via,
                every,
                srv,
            )
        )
    phases.append(
        Phase(
            "Control-plane nodes, the dqlite leader last",
            srv,
            (
                Step(
                    "leader",
                    "workstation",
                    "find the dqlite leader (it stops last)",
                    (f"note_leader {via} {pairs(cps)}",),
                    why="go-dqlite's `.leader` (internal/shell/shell.go processLeader); the "
                    "startup procedure reads it from this procedure's progress file",
                ),
                *(
                    Step(
                        f"{n.name}:stop",
                        n.name,
                        "microk8s stop, unless it is the dqlite leader",
                        (f"stop_unless_leader {n.address} {n.name}",),
                        why="microk8s stop disables the services, so they stay down at boot "
                        f"({STOP_PAGE}); a stopping voter hands its role to a running "
                        "stand-by (go-dqlite app/app.go Handover)",
                        back=f"sudo microk8s start on {n.name}",
                    )
                    for n in cps
                ),
                Step(
                    "leader:stop",
                    "the dqlite leader",
                    "microk8s stop",
                    (f"stop_leader {pairs(cps)}",),
                    why="the last node holds the most recent log; raft lost its majority "
                    "with the node before it, so nothing is written from here on",
                ),
            ),
            False,
            via,
            every,
            srv,
            "the control plane goes down here, one node at a time",
        )
    )
    return _procedure(c, 0, "shutdown", phases, out, about="before the machines are powered off")


def startup(c: Cluster, out: str) -> Procedure:
    srv = server(c)
    via = c.first.address
    cps = list(c.control_plane)
    every = " ".join(n.name for n in cps)
    kubectl = 'microk8s kubectl --server="$SERVER"'
    phases = [
        Phase(
            "Control-plane nodes, the last one stopped first",
            srv,
            (
                Step(
                    "first:start",
                    "the last one stopped",
                    "microk8s start on the node the shutdown stopped last",
                    ('start_first "$SHUTDOWN" ' + pairs(cps),),
                    why="its log is the most recent: it brings the others up to date",
                ),
                *(
                    Step(
                        f"{n.name}:start",
                        n.name,
                        "microk8s start",
                        (f"run {n.address} microk8s start",),
                        why="`microk8s start` enables the services again and waits up to 60 s "
                        "for a Ready node, succeeding either way (actions/common/utils.sh "
                        "wait_for_node): the next step waits for the datastore itself",
                    )
                    for n in cps
                ),
                Step(
                    "quorum",
                    "workstation",
                    "wait for the datastore's voters and /readyz through the endpoint",
                    (f"await_voters {via}", f"await_readyz {via}"),
                    why="raft elects a leader once a majority of the voters runs (reference "
                    "8.3); the apiserver is ready only with its datastore",
                ),
            ),
            False,
            via,
            every,
            srv,
            "the datastore has no quorum until enough of these nodes run",
        )
    ]
    if c.workers:
        phases.append(
            Phase(
                "Workers: started, then uncordoned",
                srv,
                (
                    *(
                        Step(
                            f"{w.name}:start",
                            w.name,
                            "snap start --enable microk8s; wait until it is Ready",
                            (
                                f"run {w.address} snap start --enable microk8s",
                                f"await_node {via} {w.name}",
                            ),
                            back=f"sudo snap stop --disable microk8s on {w.name}",
                        )
                        for w in c.workers
                    ),
                    *(
                        Step(
                            f"{w.name}:uncordon",
                            w.name,
                            "uncordon",
                            (f"run {via} {kubectl} uncordon {w.name}",),
                        )
                        for w in c.workers
                    ),
                ),
                True,
                via,
                every,
                srv,
            )
        )
    shutdown_progress = f"{slugs(c)[0]}.progress"
    return _procedure(
        c,
        1,
        "startup",
        phases,
        out,
        about="once the machines are powered on again",
        texts=(("SHUTDOWN", f'"${{HACC_SHUTDOWN_PROGRESS:-$HERE/{shutdown_progress}}}"'),),
        settings=(
            (
                "HACC_SHUTDOWN_PROGRESS",
                f"the shutdown's progress file, which names the node stopped last (default: "
                f"{shutdown_progress} beside this script)",
            ),
        ),
    )
