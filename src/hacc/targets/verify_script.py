"""`nodes/<node>/verify.sh`: a read-only check of one node against what hacc generated for it.

POSIX sh, so it runs on any node image; each failed check names the RUNBOOK.md section that
fixes it. `hacc verify` checks the same cluster from outside.
"""

from __future__ import annotations

from hacc.compiler.model import KEEPALIVED_HAPROXY, VIP_MODES, Cluster, Node
from hacc.targets.artifact import VERIFY, Artifact
from hacc.targets.base import is_ip, node_dir, render_template


def applies(cluster: Cluster) -> bool:
    return True


def script(cluster: Cluster, node: Node) -> str:
    sans = list(dict.fromkeys((*cluster.sans, node.address)))
    return render_template(
        "verify.sh.j2",
        cluster,
        node=node,
        role="control plane" if node.is_control_plane else "worker",
        sans=sans,
        ips={s for s in sans if is_ip(s)},
        load_balancer=node.is_control_plane and cluster.mode == KEEPALIVED_HAPROXY,
        pinned=cluster.worker_endpoint == "vip" and cluster.mode in VIP_MODES,
    )


def render(cluster: Cluster) -> list[Artifact]:
    return [
        Artifact(f"{node_dir(n)}/verify.sh", script(cluster, n), VERIFY, n.name, executable=True)
        for n in cluster.nodes
    ]
