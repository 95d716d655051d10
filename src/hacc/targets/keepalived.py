"""`nodes/<node>/keepalived.conf` and `check-apiserver.sh` (keepalived-haproxy mode).

Failover semantics follow reference/load-balancers.md section 0: every node BACKUP with a
distinct priority (no ties), preemption on, and a weight-0 check that sends a failing node to
FAULT (never `nopreempt` with a negative weight, which can leave the VIP stuck).
"""

from __future__ import annotations

from hacc.compiler.model import KEEPALIVED_HAPROXY, Cluster, Node
from hacc.targets import haproxy
from hacc.targets.artifact import LOAD_BALANCER, Artifact
from hacc.targets.base import node_dir, render_template

CHECK_SCRIPT_PATH = "/etc/keepalived/check-apiserver.sh"
NOTIFY_SCRIPT_PATH = "/etc/keepalived/keepalived-notify.sh"
CONF_PATH = "/etc/keepalived/keepalived.conf"
TOP_PRIORITY = 150


def applies(cluster: Cluster) -> bool:
    return cluster.mode == KEEPALIVED_HAPROXY


def priorities(cluster: Cluster) -> dict[str, int]:
    """Distinct priorities in spec order: 150, 140, ... (a smaller step for large control planes)."""
    step = min(10, (TOP_PRIORITY - 1) // max(1, len(cluster.control_plane) - 1))
    return {n.name: TOP_PRIORITY - i * step for i, n in enumerate(cluster.control_plane)}


def advert_int(cluster: Cluster) -> str:
    value = cluster.keepalived.advert_interval
    return str(int(value)) if value.is_integer() else f"{value:g}"


def conf(cluster: Cluster, node: Node) -> str:
    return render_template(
        "keepalived.conf.j2",
        cluster,
        "!",
        node=node,
        ka=cluster.keepalived,
        vip=cluster.endpoint.address,
        instance=f"VI_{cluster.name.upper().replace('-', '_')}",
        priority=priorities(cluster)[node.name],
        advert_int=advert_int(cluster),
        peers=[p for p in cluster.control_plane if p != node],
        check_script=CHECK_SCRIPT_PATH,
        notify_script=NOTIFY_SCRIPT_PATH if cluster.monitoring.enabled else None,
    )


def check_script(cluster: Cluster, node: Node) -> str:
    return render_template(
        "check-apiserver.sh.j2",
        cluster,
        node=node,
        hp=cluster.haproxy,
        ka=cluster.keepalived,
        # two tries and a pause must end within keepalived's timeout (the interval, whole seconds)
        max_time=f"{(cluster.keepalived.check_interval * 0.8 - 0.1) / 2:g}",
        pid_file=haproxy.PID_FILE,
        # the watch ends 0.15 s before keepalived's timeout: time to exit, and a slow fork
        watch_cs=cluster.keepalived.check_interval * 100 - 15,
    )


def notify_script(cluster: Cluster, node: Node) -> str:
    from hacc.targets import monitoring

    return render_template(
        "keepalived-notify.sh.j2",
        cluster,
        node=node,
        textfile_dir=monitoring.TEXTFILE_DIR,
        metric=monitoring.STATE_METRIC,
    )


def render(cluster: Cluster) -> list[Artifact]:
    out = []
    for node in cluster.control_plane:
        d = node_dir(node)
        out.append(Artifact(f"{d}/keepalived.conf", conf(cluster, node), LOAD_BALANCER, node.name))
        scripts = {"check-apiserver.sh": check_script}
        if cluster.monitoring.enabled:
            scripts["keepalived-notify.sh"] = notify_script
        for name, make in scripts.items():
            out.append(
                Artifact(
                    f"{d}/{name}", make(cluster, node), LOAD_BALANCER, node.name, executable=True
                )
            )
    return out
