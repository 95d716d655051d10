"""`nodes/<node>/haproxy.cfg` (keepalived-haproxy mode): TCP load balancing of every apiserver."""

from __future__ import annotations

from hacc.compiler.model import APISERVER_PORT, KEEPALIVED_HAPROXY, Cluster, Node
from hacc.targets.artifact import LOAD_BALANCER, Artifact
from hacc.targets.base import node_dir, render_template

CONF_PATH = "/etc/haproxy/haproxy.cfg"
# Debian's and Ubuntu's haproxy.service: `ExecStart=/usr/sbin/haproxy -Ws -f $CONFIG -p $PIDFILE`
# with PIDFILE=/run/haproxy.pid, the master's PID (keepalived's check script watches it).
PID_FILE = "/run/haproxy.pid"


def applies(cluster: Cluster) -> bool:
    return cluster.mode == KEEPALIVED_HAPROXY


def conf(cluster: Cluster, node: Node) -> str:
    ep = cluster.endpoint
    endpoint = f"{ep.dns_name or ep.address}:{ep.port}"
    return render_template(
        "haproxy.cfg.j2",
        cluster,
        node=node,
        hp=cluster.haproxy,
        endpoint=endpoint,
        apiserver_port=APISERVER_PORT,
        servers=cluster.control_plane,
        metrics=cluster.monitoring if cluster.monitoring.enabled else None,
    )


def render(cluster: Cluster) -> list[Artifact]:
    return [
        Artifact(f"{node_dir(n)}/haproxy.cfg", conf(cluster, n), LOAD_BALANCER, n.name)
        for n in cluster.control_plane
    ]
