"""`nodes/<node>/microk8s-launch.yaml`: the MicroK8s launch configuration, read at snap install.

A launch configuration replaces MicroK8s's bundled default, so hacc restates what the default
did (dns and its kubelet flags) unless the spec disables it. The first document is applied at
install (pre-init: args, SANs, token, files) and again by the cluster-agent (addons, join). A
join replaces the kubelet arguments with the contacted node's, so kubelet flags go in a second
document too, applied after the join.

Each node's launch configuration carries its own address as the apiserver's advertise address
and the kubelet's node IP: MicroK8s otherwise takes both from the interface of the default route
(microk8s-resources/wrappers/run-kubelite-with-args waits for one unless --advertise-address or
--bind-address is set), which on a node with a management interface is not the spec's address.
Pre-init writes them to args/ before kubelite first starts (microk8s-cluster-agent
pkg/k8sinit/apply.go applyPart; pkg/snap/services.go UpdateServiceArguments replaces a flag's line
in place), so the node registers with the spec's address from its first start. Calico's own
interface choice is left to MicroK8s: each join turns its IP_AUTODETECTION_METHOD from
first-found into can-reach=<the peer's address> (microk8s-cluster-agent
pkg/snap/util/calico.go), which picks the interface that reaches the spec's addresses.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from hacc.compiler.model import CLUSTER_AGENT_PORT, Cluster, Node
from hacc.targets import extensions
from hacc.targets.artifact import LAUNCH_CONFIG, Artifact
from hacc.targets.base import (
    JOIN_TOKEN_PLACEHOLDER,
    dump_yaml,
    header,
    node_dir,
    worker_token_placeholder,
)

PATH_ON_NODE = "/var/snap/microk8s/common/.microk8s.yaml"
DNS_KUBELET_ARGS = {"--cluster-domain": "cluster.local", "--cluster-dns": "10.152.183.10"}


def applies(cluster: Cluster) -> bool:
    return True


# hacc needs MicroK8s 1.28 or newer (HACC209), whose cluster-agent accepts 0.1.0 to 0.2.0
# (microk8s-cluster-agent pkg/k8sinit/schema.go).
SCHEMA_VERSION = "0.2.0"


def join_token(node: Node) -> str:
    """The placeholder of the token `node` joins with: the cluster's token for the control
    plane, its own single-use token for a worker (registered on the first node at boot)."""
    return JOIN_TOKEN_PLACEHOLDER if node.is_control_plane else worker_token_placeholder(node)


def join_url(cluster: Cluster, node: Node, via: Node | None = None) -> str:
    # The join string takes an IPv4 literal: a control-plane node's real address (node 1's
    # unless `via` says another), never the VIP or a name.
    return f"{(via or cluster.first).address}:{CLUSTER_AGENT_PORT}/{join_token(node)}"


def join_alternatives(cluster: Cluster, node: Node) -> tuple[Node, ...]:
    """The control-plane nodes `node` may join through instead of its default (node 1, or for
    node 1 itself, founding the cluster), in spec order: every control-plane node but itself
    and node 1. The bootstrap takes the first that already runs a cluster."""
    return tuple(n for n in cluster.control_plane[1:] if n != node)


def addons(cluster: Cluster) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not any(a.name == "dns" for a in cluster.addons):
        out.append({"name": "dns"})
    for a in cluster.addons:
        entry: dict[str, Any] = {"name": a.name}
        if a.args:
            entry["args"] = list(a.args)
        if a.disable:
            entry["disable"] = True
        out.append(entry)
    return out


def dns_enabled(cluster: Cluster) -> bool:
    return not any(a.name == "dns" and a.disable for a in cluster.addons)


def documents(cluster: Cluster, node: Node, via: Node | None = None) -> list[dict[str, Any]]:
    """The launch configuration of `node`: node 1 founds the cluster and every other node
    joins node 1, unless `via` names the control-plane node to join through."""
    version = SCHEMA_VERSION
    first: dict[str, Any] = {"version": version}
    if node.is_control_plane:
        # The same persistent token on every control-plane node, so any of them accepts joins.
        first["persistentClusterToken"] = JOIN_TOKEN_PLACEHOLDER
        # The node's own address too: the node takes the no-cert-reissue lock right after
        # install (bootstrap.sh), so its certificate must not depend on `hostname -I` then.
        first["extraSANs"] = list(dict.fromkeys((*cluster.sans, node.address)))
        # With --advertise-address the apiservice-kicker only repairs CA mismatches
        # (ensure_server_ca) and never re-issues for new addresses (produce_certs): see
        # bootstrap.sh on the certificate lock (microk8s-resources/wrappers/apiservice-kicker).
        first["extraKubeAPIServerArgs"] = {
            **dict(cluster.apiserver_args),
            "--advertise-address": node.address,
        }
        first["extraConfigFiles"] = {"ha-conf": f"failure-domain={node.failure_domain}\n"}
    proxy_env = extensions.containerd_env(cluster)
    if proxy_env:
        # Pre-init writes args/containerd-env before containerd first starts: images pull
        # through the proxy from the start (microk8s-cluster-agent pkg/k8sinit/apply.go).
        first["extraContainerdEnv"] = proxy_env
    node_ip = {"--node-ip": node.address}
    if node == cluster.first and via is None:
        first["addons"] = addons(cluster)
        first["extraKubeletArgs"] = {
            **(DNS_KUBELET_ARGS if dns_enabled(cluster) else {}),
            **node_ip,
        }
    else:
        first["extraKubeletArgs"] = dict(node_ip)
        first["join"] = {"url": join_url(cluster, node, via), "worker": not node.is_control_plane}
    docs = [first]
    after: dict[str, Any] = {}
    if cluster.kubelet_args or node != cluster.first:
        # The join wrote the contacted node's kubelet arguments, its --node-ip replaced by the
        # address the contacted node saw (scripts/wrappers/join.py update_kubelet_node_ip).
        after["extraKubeletArgs"] = {
            **dict(cluster.kubelet_args),
            **(node_ip if node != cluster.first else {}),
        }
    if not node.is_control_plane and cluster.worker_endpoint == "vip":
        # Stop the apiserver-proxy from replacing the VIP with the node list (user-data writes it).
        after["extraMicroK8sAPIServerProxyArgs"] = {"--refresh-interval": "0s"}
    if after:
        docs.append({"version": version, **after})
    return docs


@lru_cache(maxsize=256)  # user-data embeds the same text
def text(cluster: Cluster, node: Node, via: Node | None = None) -> str:
    return header(cluster) + dump_yaml(*documents(cluster, node, via), explicit_start=True)


def render(cluster: Cluster) -> list[Artifact]:
    return [
        Artifact(f"{node_dir(n)}/microk8s-launch.yaml", text(cluster, n), LAUNCH_CONFIG, n.name)
        for n in cluster.nodes
    ]
