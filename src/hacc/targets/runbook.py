"""`RUNBOOK.md`: bootstrap, verification and day-2 operations with this cluster's real values."""

from __future__ import annotations

from hacc.artifact import RUNBOOK, Artifact
from hacc.compiler.model import CLUSTER_AGENT_PORT, VIP_MODES, Cluster
from hacc.targets import keepalived
from hacc.targets.base import is_ip, render_template


def applies(cluster: Cluster) -> bool:
    return True


def render(cluster: Cluster) -> list[Artifact]:
    ep = cluster.endpoint
    host = ep.dns_name or ep.address or ""
    text = render_template(
        "RUNBOOK.md.j2",
        cluster,
        "",
        c=cluster,
        api_url=f"https://{host}:{ep.port}",
        endpoint_host=host,
        vip_mode=cluster.mode in VIP_MODES,
        join_target=f"{cluster.first.address}:{CLUSTER_AGENT_PORT}/<token>",
        ips={s for s in cluster.sans if is_ip(s)},
        priorities=keepalived.priorities(cluster),
        advert_int=keepalived.advert_int(cluster),
    )
    return [Artifact("RUNBOOK.md", text, RUNBOOK)]
