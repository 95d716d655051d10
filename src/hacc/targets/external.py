"""`loadbalancer-targets.yaml` (external mode): what to configure on the load balancer you run."""

from __future__ import annotations

from typing import Any

from hacc.compiler.model import APISERVER_PORT, EXTERNAL, Cluster
from hacc.targets.artifact import EXTERNAL_LB, Artifact
from hacc.targets.base import dump_yaml, header


def applies(cluster: Cluster) -> bool:
    return cluster.mode == EXTERNAL


def health_check(cluster: Cluster) -> dict[str, Any]:
    if cluster.external_health_check == "https":
        # /readyz answers 200 without credentials under MicroK8s's defaults.
        return {
            "protocol": "HTTPS",
            "port": APISERVER_PORT,
            "path": "/readyz",
            "expectStatus": 200,
            "tlsVerify": False,
            "intervalSeconds": 5,
            "timeoutSeconds": 3,
            "healthyThreshold": 2,
            "unhealthyThreshold": 3,
        }
    return {
        "protocol": "TCP",
        "port": APISERVER_PORT,
        "intervalSeconds": 5,
        "timeoutSeconds": 3,
        "healthyThreshold": 2,
        "unhealthyThreshold": 3,
    }


def targets(cluster: Cluster) -> dict[str, Any]:
    ep = cluster.endpoint
    listener: dict[str, Any] = {"protocol": "TCP", "port": ep.port, "tlsPassthrough": True}
    if ep.address:
        listener["address"] = ep.address
    if ep.dns_name:
        listener["dnsName"] = ep.dns_name
    return {
        "cluster": cluster.name,
        "listener": listener,
        "healthCheck": health_check(cluster),
        "idleTimeoutSeconds": 3600,
        "targets": [
            {
                "name": n.name,
                "address": n.address,
                "port": APISERVER_PORT,
                "failureDomain": n.failure_domain,
            }
            for n in cluster.control_plane
        ],
    }


def render(cluster: Cluster) -> list[Artifact]:
    intro = (
        "# Configure your load balancer with these values: a TCP listener (TLS passes through to\n"
        "# the apiservers, whose certificates carry the listener's address and name) in front of\n"
        "# every control-plane node on 16443. Do not send cluster-agent joins (25000) through it.\n"
    )
    return [
        Artifact(
            "loadbalancer-targets.yaml",
            header(cluster) + intro + dump_yaml(targets(cluster)),
            EXTERNAL_LB,
        )
    ]
