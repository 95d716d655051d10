"""A rolling renewal of a cluster's certificates, one node at a time, gated and resumable.

On each control-plane node, what `microk8s refresh-certs` renews (scripts/wrappers/
refresh_certs.py in canonical/microk8s: `--cert server.crt` re-renders csr.conf with the node's
addresses and restarts kubelite and the cluster-agent; `--cert front-proxy-client.crt`
restarts kubelite), then its kubelet serving certificate, which refresh-certs does not renew
(reference 6.3). On each worker, the kubelet serving certificate only, signed on a
control-plane node (a worker's certs/ca.key is its own from install, not the cluster's:
reference 5.2). The CA (`--cert ca.crt`) is left alone: renewing it means re-joining the
workers, which is no rolling step.
"""

from __future__ import annotations

from hacc.compiler.model import Cluster, Node
from hacc.targets.procedure import Phase, Procedure, Step
from hacc.targets.recovery import server

REFRESH = "scripts/wrappers/refresh_certs.py in canonical/microk8s"


def _kubelet(n: Node, signer: Node, via: str) -> Step:
    return Step(
        f"{n.name}:kubelet.crt",
        n.name,
        f"kubelet.crt with its hostname and {n.address}, signed on {signer.name}; wait until Ready",
        (f"renew_kubelet {signer.address} {n.address} {n.name}", f"await_node {via} {n.name}"),
        why="the kubelet serves certs/kubelet.crt, which refresh-certs does not renew and which "
        "keeps the addresses it was issued with; the apiserver reaches kubelets by InternalIP "
        "(reference 6.3)",
        back=f"sudo cp -p {'/var/snap/microk8s/current/certs'}/kubelet.crt.hacc-old "
        f"/var/snap/microk8s/current/certs/kubelet.crt on {n.name}, then sudo snap restart "
        "microk8s.daemon-kubelite",
    )


def procedure(c: Cluster) -> Procedure:
    srv = server(c)
    via = c.first.address
    every = " ".join(n.name for n in c.control_plane)
    steps: list[Step] = []
    for n in c.control_plane:
        for cert, restarts in (
            ("server.crt", "kubelite and the cluster-agent"),
            ("front-proxy-client.crt", "kubelite"),
        ):
            steps.append(
                Step(
                    f"{n.name}:{cert}",
                    n.name,
                    f"microk8s refresh-certs --cert {cert}; wait until Ready",
                    (
                        f"run {n.address} microk8s refresh-certs --cert {cert}",
                        f"await_node {via} {n.name}",
                    ),
                    why=f"refresh-certs re-issues it for 365 days and restarts {restarts} "
                    f"({REFRESH})"
                    + (
                        "; csr.conf is re-rendered from csr.conf.template, which holds the "
                        "spec's SANs (apply-day2.sh)"
                        if cert == "server.crt"
                        else ""
                    ),
                    back=f"sudo microk8s refresh-certs --undo on {n.name} (the copy it took "
                    "in certs-backup/)",
                )
            )
        steps.append(_kubelet(n, n, via))
    phases = [Phase("Control-plane nodes, one at a time", srv, tuple(steps), True, via, every, srv)]
    if c.workers:
        phases.append(
            Phase(
                "Workers, one at a time",
                srv,
                tuple(_kubelet(w, c.first, via) for w in c.workers),
                True,
                via,
                every,
                srv,
            )
        )
    return Procedure(
        c,
        f"certs-{c.name}",
        f"Rolling certificate renewal of cluster {c.name}",
        tuple(phases),
        min(3, len(c.control_plane)),
        command="hacc certs",
        about="one node at a time",
        partials=("datastore.sh.j2", "certs.sh.j2"),
    )
