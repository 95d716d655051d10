"""Checks of the addresses and ports a spec gives against the networks and ports a MicroK8s
node already uses."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from hacc.compiler.loader import Document, Path_
from hacc.compiler.model import KEEPALIVED_HAPROXY, POD_NETWORK, VIP_MODES, Cluster
from hacc.compiler.rules import ENDPOINT, err, rule
from hacc.diagnostics import Diagnostic

# MicroK8s's service network: default-args/kube-apiserver `--service-cluster-ip-range`.
SERVICE_NETWORK = "10.152.183.0/24"
CLUSTER_NETWORKS = (
    (ipaddress.IPv4Network(POD_NETWORK), "MicroK8s's pod network (Calico; pod routes would shadow it)"),
    (ipaddress.IPv4Network(SERVICE_NETWORK), "MicroK8s's service network (ClusterIPs would collide with it)"),
)  # fmt: skip


def _addresses(c: Cluster) -> Iterator[tuple[str, Path_, str]]:
    """(address, spec path, what) of every node and of the endpoint."""
    if c.endpoint.address:
        what = "the VIP" if c.mode in VIP_MODES else "the load balancer address"
        yield c.endpoint.address, (*ENDPOINT, "address"), what
    for n in c.nodes:
        yield n.address, (*n.path, "address"), f"node {n.name}"


def _special(ip: ipaddress.IPv4Address) -> str | None:
    if ip.is_multicast:
        return "a multicast address (224.0.0.0/4)"
    if ip.is_link_local:
        return "a link-local address (169.254.0.0/16), which routers do not forward"
    if ip.is_loopback:
        return "a loopback address (127.0.0.0/8)"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip == ipaddress.IPv4Address("255.255.255.255") or ip in ipaddress.IPv4Network("240.0.0.0/4"):
        return "a reserved address (240.0.0.0/4)"
    return None


@rule
def usable_addresses(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    for address, path, what in _addresses(c):
        ip = ipaddress.IPv4Address(address)
        special = _special(ip)
        if special:
            yield err(doc, path, "HACC249", f"{what} ({address}) is {special}: no host can use it")
            continue
        for net, name in CLUSTER_NETWORKS:
            if ip in net:
                yield err(
                    doc,
                    path,
                    "HACC237",
                    f"{what} ({address}) is inside {net}, {name}; use addresses outside "
                    f"{POD_NETWORK} and {SERVICE_NETWORK}",
                )
    if c.subnet is not None:
        subnet = ipaddress.IPv4Network(c.subnet, strict=False)
        for net, name in CLUSTER_NETWORKS:
            if subnet.overlaps(net) and not any(
                ipaddress.IPv4Address(a) in net for a, _, _ in _addresses(c)
            ):
                yield err(
                    doc,
                    ("spec", "network", "subnet"),
                    "HACC237",
                    f"spec.network.subnet {subnet} overlaps {net}, {name}",
                )


@rule
def dns_name_is_a_name(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    name = c.endpoint.dns_name
    if name and all(part.isdigit() for part in name.split(".")):
        yield err(
            doc,
            (*ENDPOINT, "dnsName"),
            "HACC248",
            f"dnsName {name} is an address, not a DNS name: put addresses in "
            "spec.controlPlane.endpoint.address, or remove dnsName",
        )


# The ingress addon's DaemonSet takes these hostPorts on every node; their DNAT rules catch
# every local address, the VIP included (microk8s-core-addons addons/ingress/values.yaml).
INGRESS_PORTS = (80, 443)


@rule
def ingress_ports(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    port = c.endpoint.port
    ingress = any(a.name.rpartition("/")[2] == "ingress" and not a.disable for a in c.addons)
    if c.mode == KEEPALIVED_HAPROXY and ingress and port in INGRESS_PORTS:
        yield err(
            doc,
            (*ENDPOINT, "port"),
            "HACC244",
            f"the ingress addon's hostPort {port} catches traffic to every address of the "
            "node, the VIP included: API clients would reach the ingress, not HAProxy; "
            "use another port such as 8443",
        )
