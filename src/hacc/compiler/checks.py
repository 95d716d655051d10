"""Semantic checks on a schema-valid spec. Each rule yields located diagnostics with a stable code."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from hacc.compiler.loader import Document, Path_
from hacc.compiler.model import (
    APISERVER_PORT,
    EXTERNAL,
    KEEPALIVED_HAPROXY,
    KUBE_VIP,
    VIP_MODES,
    Cluster,
    duration_ms,
)
from hacc.compiler.rules import APISERVER_ARGS, CP, ENDPOINT, LB, RULES, rule
from hacc.compiler.rules import err as _err
from hacc.compiler.rules import warn as _warn
from hacc.diagnostics import Diagnostic

# Ports MicroK8s holds on every control-plane node (reference/microk8s.md section 1).
MICROK8S_PORTS = {
    16443: "the kube-apiserver (bound to 0.0.0.0)",
    25000: "the cluster-agent",
    19001: "dqlite",
    12379: "the datastore (etcd mode)",
    10250: "the kubelet",
    10248: "the kubelet health endpoint",
    10249: "kube-proxy metrics",
    10256: "kube-proxy health",
    10257: "the controller-manager",
    10259: "the scheduler",
}

# Ports the node's own services hold: HAProxy binds `*:port`.
HOST_PORTS = {22: "sshd (the bootstrap's HAProxy restart would fail)"}
NODE_EXPORTER = "the node exporter that hacc's monitoring scrapes"

# Flags whose removal stops the apiserver on MicroK8s.
ESSENTIAL_FLAGS = {
    "--cert-dir",
    "--client-ca-file",
    "--tls-cert-file",
    "--tls-private-key-file",
    "--secure-port",
    "--etcd-servers",
    "--service-account-key-file",
    "--service-account-signing-key-file",
    "--service-account-issuer",
    "--kubelet-client-certificate",
    "--kubelet-client-key",
}


def check(cluster: Cluster, doc: Document) -> list[Diagnostic]:
    from hacc.compiler import flag_checks, network_checks  # noqa: F401  (they register rules)

    return [d for r in RULES for d in r(cluster, doc)]


@rule
def control_plane_size(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    n = len(c.control_plane)
    path = (*CP, "nodes")
    if n == 1:
        yield _warn(
            doc,
            path,
            "HACC201",
            "one control-plane node is not highly available: MicroK8s "
            "turns on HA with three; the VIP has nothing to fail over to. To grow to HA, add "
            "two control-plane nodes in one change (two nodes are refused, HACC202)",
            key=True,
        )
    elif n == 2:
        yield _err(
            doc,
            path,
            "HACC202",
            "two control-plane nodes lose dqlite quorum when either fails; use three or more",
            key=True,
        )


@rule
def unique_nodes(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    names: dict[str, Path_] = {}
    addresses: dict[str, Path_] = {}
    for node in c.nodes:
        if node.name in names:
            yield _err(
                doc,
                (*node.path, "name"),
                "HACC203",
                f"node name {node.name!r} is already used at line {doc.locate(names[node.name])[0]}",
            )
        else:
            names[node.name] = (*node.path, "name")
        if node.address in addresses:
            yield _err(
                doc,
                (*node.path, "address"),
                "HACC204",
                f"address {node.address} is already used by the node at line "
                f"{doc.locate(addresses[node.address])[0]}",
            )
        else:
            addresses[node.address] = (*node.path, "address")
    vip = c.endpoint.address
    if vip and vip in addresses:
        what = "VIP" if c.mode in VIP_MODES else "load balancer address"
        yield _err(
            doc,
            (*ENDPOINT, "address"),
            "HACC205",
            f"the {what} {vip} is also the address of the node at line {doc.locate(addresses[vip])[0]}",
        )


@rule
def endpoint_complete(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    if c.mode in VIP_MODES and not c.endpoint.address:
        yield _err(
            doc,
            ENDPOINT,
            "HACC215",
            f"mode {c.mode!r} needs the VIP in spec.controlPlane.endpoint.address",
            key=True,
        )
    if c.mode == EXTERNAL and not (c.endpoint.address or c.endpoint.dns_name):
        yield _err(
            doc,
            ENDPOINT,
            "HACC215",
            "mode 'external' needs the load balancer's address or "
            "dnsName in spec.controlPlane.endpoint",
            key=True,
        )


@rule
def layer2_subnet(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    if c.subnet is None:
        if c.mode in VIP_MODES:
            yield _err(
                doc,
                ("spec", "network", "subnet"),
                "HACC216",
                f"mode {c.mode!r} announces the VIP on layer 2; set spec.network.subnet",
                key=True,
            )
        return
    net = ipaddress.IPv4Network(c.subnet, strict=False)
    subnet_path = ("spec", "network", "subnet")
    if str(net) != c.subnet:
        yield _err(
            doc,
            subnet_path,
            "HACC104",
            f"spec.network.subnet: {c.subnet} has host bits set; did you mean {net}?",
        )
    checked: list[tuple[str, Path_, str]] = [
        (n.address, (*n.path, "address"), f"node {n.name}") for n in c.control_plane
    ]
    if c.endpoint.address and c.mode in VIP_MODES:
        checked.insert(0, (c.endpoint.address, (*ENDPOINT, "address"), "the VIP"))
    for address, path, what in checked:
        ip = ipaddress.IPv4Address(address)
        if c.mode in VIP_MODES and ip not in net:
            yield _err(
                doc,
                path,
                "HACC206",
                f"{what} ({address}) is outside spec.network.subnet "
                f"{net}; the VIP and the control-plane nodes must share one layer-2 subnet",
            )
        elif net.prefixlen < 31 and ip in (net.network_address, net.broadcast_address):
            kind = "network" if ip == net.network_address else "broadcast"
            yield _err(doc, path, "HACC219", f"{what} ({address}) is the {kind} address of {net}")


@rule
def client_port(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    path = (*ENDPOINT, "port")
    port = c.endpoint.port
    if c.mode == KUBE_VIP and port != APISERVER_PORT:
        yield _err(
            doc,
            path,
            "HACC217",
            f"kube-vip only moves the VIP; clients reach the apiserver "
            f"on {APISERVER_PORT}, so port {port} would have nothing listening",
        )
    if c.mode != KEEPALIVED_HAPROXY:
        return
    held = {
        **MICROK8S_PORTS,
        **HOST_PORTS,
        **({c.monitoring.node_exporter_port: NODE_EXPORTER} if c.monitoring.enabled else {}),
    }
    if port in held:
        yield _err(
            doc,
            path,
            "HACC207",
            f"HAProxy cannot listen on {port} on the control-plane "
            f"nodes: {held[port]} holds it; use another port such as 8443",
        )
    stats = c.haproxy.stats_port
    stats_path = (*LB, "haproxy", "statsPort")
    if stats in MICROK8S_PORTS:
        yield _err(
            doc,
            stats_path,
            "HACC207",
            f"the HAProxy stats port {stats} is held by {MICROK8S_PORTS[stats]}",
        )
    elif stats == port:
        yield _err(
            doc, stats_path, "HACC207", f"the HAProxy stats port {stats} is also the client port"
        )
    m = c.monitoring
    if not m.enabled:
        return
    metrics = m.haproxy_metrics_port
    metrics_path = ("spec", "monitoring", "haproxyMetricsPort")
    taken = {
        **{p: f"{what} holds it" for p, what in MICROK8S_PORTS.items()},
        port: "it is the client port",
        stats: "it is the HAProxy stats port",
        m.node_exporter_port: "it is the node exporter's port",
    }
    if metrics in taken:
        yield _err(
            doc,
            metrics_path,
            "HACC207",
            f"HAProxy's metrics cannot listen on {metrics}: {taken[metrics]}",
        )


@rule
def certificate_alert_days(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    a = c.monitoring.alerts
    if c.monitoring.enabled and a.cert_critical_days >= a.cert_warning_days:
        yield _err(
            doc,
            ("spec", "monitoring", "alerts", "certCriticalDays"),
            "HACC229",
            f"certCriticalDays ({a.cert_critical_days}) must be less than certWarningDays "
            f"({a.cert_warning_days}): the warning would never come first",
        )


HAPROXY_MAX_MS = 2**31 - 1  # HAProxy's timers overflow past about 24.8 days


@rule
def haproxy_durations(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    if c.mode != KEEPALIVED_HAPROXY:
        return
    hp = c.haproxy
    durations = {
        (*LB, "haproxy", "healthCheck", "interval"): hp.check_interval,
        (*LB, "haproxy", "timeouts", "connect"): hp.timeout_connect,
        (*LB, "haproxy", "timeouts", "client"): hp.timeout_client,
        (*LB, "haproxy", "timeouts", "server"): hp.timeout_server,
        (*LB, "haproxy", "timeouts", "tunnel"): hp.timeout_tunnel,
    }
    for path, value in durations.items():
        if duration_ms(value) > HAPROXY_MAX_MS:
            yield _err(
                doc,
                path,
                "HACC105",
                f"{value} is longer than HAProxy's timers can count (about 596h); use 24h or less",
            )


PROMETHEUS_MAX_MS = (2**63 - 1) // 1_000_000  # Prometheus durations are int64 nanoseconds


@rule
def alert_durations(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    if not c.monitoring.enabled:
        return
    alerts = doc.data.get("spec", {}).get("monitoring", {}).get("alerts", {})
    for key, value in alerts.items():
        if isinstance(value, str) and duration_ms(value) > PROMETHEUS_MAX_MS:
            yield _err(
                doc,
                ("spec", "monitoring", "alerts", key),
                "HACC105",
                f"{value} is longer than Prometheus can count (about 292 years)",
            )


@rule
def profile_overridden(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    """A profile whose every value the spec sets by hand changes nothing: say so."""
    if c.mode != KEEPALIVED_HAPROXY:
        return
    lb = doc.data.get("spec", {}).get("controlPlane", {}).get("loadBalancer", {})
    if "profile" not in lb:
        return
    ka, hc = lb.get("keepalived", {}), lb.get("haproxy", {}).get("healthCheck", {})
    explicit = [
        name
        for name, present in (
            ("keepalived.advertInterval", "advertInterval" in ka),
            ("haproxy.healthCheck.interval", "interval" in hc),
            ("haproxy.healthCheck.fall", "fall" in hc),
        )
        if present
    ]
    if explicit:
        what = "changes nothing" if len(explicit) == 3 else "is partly overridden"
        yield _warn(
            doc,
            (*LB, "profile"),
            "HACC228",
            f"profile {c.profile!r} {what}: {', '.join(explicit)} set here win over it; "
            "remove them to let the profile choose",
        )


@rule
def vrrp_version(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    ka = c.keepalived
    if (
        c.mode == KEEPALIVED_HAPROXY
        and ka.vrrp_version == 2
        and not ka.advert_interval.is_integer()
    ):
        yield _err(
            doc,
            (*LB, "keepalived", "advertInterval"),
            "HACC208",
            f"advertInterval {ka.advert_interval:g} is not a whole number of seconds, which "
            "VRRPv2 cannot carry; remove vrrpVersion (hacc then uses 3) or set it to 3",
        )


@rule
def channel(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    path = ("spec", "microk8s", "channel")
    track = c.track
    if track is None:
        risk = c.channel.rpartition("/")[2]
        build = " (edge is a development build of the next release)" if risk == "edge" else ""
        yield _warn(
            doc,
            path,
            "HACC210",
            f"{c.channel} is unpinned{build}: nodes installed on different days may run "
            "different Kubernetes versions, and `hacc upgrade` refuses `latest` tracks; pin a "
            "track such as 1.32/stable",
        )
    elif track < (1, 28):
        why = (
            "its cluster-agent refuses joins whose hostname does not resolve"
            if track == (1, 27)
            else "it predates launch configurations"
        )
        yield _err(
            doc,
            path,
            "HACC209",
            f"{c.channel} is too old for hacc: {why}; use a track of 1.28 or newer",
        )


@rule
def apiserver_args(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    for flag, value in c.apiserver_args:
        path = (*APISERVER_ARGS, flag)
        if flag == "--tls-san":
            yield _err(
                doc,
                path,
                "HACC211",
                "kube-apiserver has no --tls-san flag (that is k3s/RKE2) "
                "and kubelite would not start; list SANs in spec.controlPlane.extraSANs",
                key=True,
            )
        elif value is None and flag in ESSENTIAL_FLAGS:
            yield _err(
                doc,
                path,
                "HACC212",
                f"removing {flag} stops the apiserver: MicroK8s needs it",
                key=True,
            )
        elif flag == "--secure-port":
            yield _err(
                doc,
                path,
                "HACC212",
                "--secure-port moves the apiserver off 16443, where the "
                "load balancer, the health checks and the worker proxies expect it",
                key=True,
            )
        elif flag == "--advertise-address":
            yield _err(
                doc,
                path,
                "HACC212",
                "one --advertise-address for every control-plane node "
                "makes them all advertise the same address; hacc sets each node's own",
                key=True,
            )
        elif flag == "--kubelet-preferred-address-types" and not prefers_internal_ip(value):
            yield _err(
                doc,
                path,
                "HACC226",
                "list InternalIP before Hostname (or remove the flag): otherwise the "
                "cluster-agent refuses every join whose hostname does not resolve to the node",
                key=True,
            )
        elif flag == "--feature-gates" and value is not None:
            yield _warn(
                doc,
                path,
                "HACC224",
                "at install this value replaces MicroK8s's own "
                "--feature-gates (for example ListFromCacheSnapshot=false on 1.34+); "
                "repeat the ones to keep (apply-day2.sh merges gate by gate)",
                key=True,
            )
        elif flag == "--bind-address":
            if value in ("0.0.0.0", "::"):
                yield _warn(
                    doc,
                    path,
                    "HACC221",
                    "--bind-address stops MicroK8s from regenerating "
                    "the server certificate when addresses change; it is already 0.0.0.0 "
                    "by default",
                    key=True,
                )
            else:
                yield _err(
                    doc,
                    path,
                    "HACC212",
                    f"--bind-address {value} exists on one node at most; "
                    "the other apiservers could not start",
                    key=True,
                )


def prefers_internal_ip(types: str | None) -> bool:
    """Whether the cluster-agent skips its join hostname check for this flag value: `None`
    (removed) brings back the apiserver's default order, which lists Hostname first
    (microk8s-cluster-agent pkg/api/v2/api_util.go kubeAPIServerPrefersInternalIPForKubelet)."""
    order = (types or "").split(",")
    if "InternalIP" not in order:
        return False
    return "Hostname" not in order or order.index("InternalIP") < order.index("Hostname")


# kubelet flags hacc refuses, with their code and why: registration-time flags that MicroK8s's
# own labels and the join (which copies the contacted node's kubelet arguments) defeat.
KUBELET_FLAGS = {
    "--node-labels": (
        "HACC225",
        "--node-labels replaces MicroK8s's own labels (microk8s.io/cluster, "
        "node.kubernetes.io/microk8s-controlplane): the control plane would no longer be "
        "selectable; use spec.extensions.labels (or a node's extensions.labels)",
    ),
    "--register-with-taints": (
        "HACC236",
        "--register-with-taints acts only when a node first registers, and a joining node "
        "registers with the kubelet arguments it copied from the node it joined; use "
        "spec.extensions.taints (or a node's extensions.taints)",
    ),
}


@rule
def kubelet_args(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    for flag, _ in c.kubelet_args:
        if flag in KUBELET_FLAGS:
            code, message = KUBELET_FLAGS[flag]
            yield _err(doc, ("spec", "microk8s", "kubeletArgs", flag), code, message, key=True)


@rule
def worker_endpoint(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    if c.worker_endpoint == "vip" and c.mode not in VIP_MODES:
        yield _err(
            doc,
            ("spec", "workers", "apiserverEndpoint"),
            "HACC214",
            "apiserverEndpoint 'vip' needs a VIP mode (keepalived-haproxy or kube-vip); in "
            "'external' mode use 'local-proxy'",
        )


@rule
def kube_vip_interface(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    if c.mode != KUBE_VIP:
        return
    first = c.control_plane[0].interface
    for node in c.control_plane[1:]:
        if node.interface != first:
            yield _err(
                doc,
                (*node.path, "interface"),
                "HACC220",
                f"node {node.name} uses interface {node.interface}, but kube-vip's one "
                f"DaemonSet announces the VIP on {first} (the first control-plane node's)",
            )


@rule
def anonymous_access(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    modes = dict(c.apiserver_args).get("--authorization-mode")
    rbac_addon = any(a.name == "rbac" and not a.disable for a in c.addons)
    if modes is not None:
        if "AlwaysAllow" in modes.split(","):
            yield _warn(
                doc,
                (*APISERVER_ARGS, "--authorization-mode"),
                "HACC218",
                "AlwaysAllow lets anyone who reaches the API endpoint control the cluster",
            )
        return
    if not rbac_addon:
        yield _warn(
            doc,
            ("spec", "microk8s"),
            "HACC218",
            "MicroK8s authorizes every request by default (AlwaysAllow) and the endpoint "
            "exposes it; add the 'rbac' addon or set --authorization-mode: RBAC,Node",
            key=True,
        )


# Paths hacc's user-data writes or installs, and MicroK8s's own (a file there before the install
# would be replaced by snapd, or would replace hacc's launch configuration: snap/hooks/install
# reads /etc/microk8s.yaml and ~root/snap/microk8s/common/.microk8s.yaml first). A test checks
# that every path in the generated user-data falls under one of them.
RESERVED_PATHS = (
    "/usr/local/lib/hacc/",
    "/var/log/hacc-bootstrap.log",
    "/var/lib/hacc/",
    "/etc/systemd/system/hacc-",
    "/var/snap/microk8s/",
    "/snap/",
    "/root/snap/microk8s/",
    "/etc/microk8s.yaml",
    "/etc/haproxy/haproxy.cfg",
    "/etc/keepalived/",
    "/var/lib/prometheus/node-exporter/hacc_",
)
SECRET_SHAPES = (
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"__HACC_"), "a hacc placeholder (materialize would put a join token there)"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"\b(ghp|gho|ghs|github_pat)_[A-Za-z0-9_]{20,}"), "a GitHub token"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), "a GitLab token"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"), "a password in a URL"),
    # `password=hunter2`, `DB_PASSWORD: hunter2`, `--password hunter2`; not a value fetched on the
    # node (`password=$(cat /run/secrets/db)`, `"$PASS"`) nor `--password-stdin`.
    (
        re.compile(
            r"(?i)(?:\b|_)password[ \t]*[=:][ \t]*['\"]?(?![$'\"\s])\S"
            r"|--password[ \t]+['\"]?(?![$'\"\s-])\S"
        ),
        "a password",
    ),
)
MICROK8S_LABELS = (
    "microk8s.io/cluster",
    "node.kubernetes.io/microk8s-controlplane",
    "node.kubernetes.io/microk8s-worker",
)


def _extension_entries(doc: Document) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """(spec path, mapping) of spec.extensions and of every node's `extensions`."""
    spec = doc.data.get("spec", {})
    if isinstance(spec.get("extensions"), dict):
        yield ("spec", "extensions"), spec["extensions"]
    for group, key in ((spec.get("controlPlane", {}), "controlPlane"), (spec.get("workers", {}), "workers")):  # fmt: skip
        for i, n in enumerate(group.get("nodes", []) if isinstance(group, dict) else []):
            if isinstance(n, dict) and isinstance(n.get("extensions"), dict):
                yield ("spec", key, "nodes", i, "extensions"), n["extensions"]


@rule
def extension_labels(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    for where, ext in _extension_entries(doc):
        for key in ext.get("labels", {}):
            if key in MICROK8S_LABELS:
                yield _err(
                    doc,
                    (*where, "labels", key),
                    "HACC232",
                    f"{key} is a label MicroK8s sets itself (kube-vip and MicroK8s's tools select "
                    "nodes by it): choose another key",
                    key=True,
                )


@rule
def extension_files(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    for where, ext in _extension_entries(doc):
        seen: set[str] = set()
        for i, f in enumerate(ext.get("files", [])):
            path = f.get("path", "")
            at = (*where, "files", i, "path")
            segments = path.split("/")[1:]
            if "." in segments or ".." in segments:
                yield _err(doc, at, "HACC233", f"{path}: `.` and `..` segments are not allowed")
            elif path in seen:
                yield _err(doc, at, "HACC233", f"{path} is listed twice in these files")
            else:
                clash = next(
                    (
                        r
                        for r in RESERVED_PATHS
                        if path == r.rstrip("/") or path.startswith(r) or r.startswith(path + "/")
                    ),
                    None,
                )
                if clash:
                    yield _err(
                        doc,
                        at,
                        "HACC233",
                        (
                            f"{path} is where hacc or MicroK8s keeps a file of its own"
                            if path == clash.rstrip("/")
                            else f"{path} is a folder that holds {clash.rstrip('/')}: a file "
                            "there would stop the node's own files from being written"
                            if clash.startswith(path + "/")
                            else f"{path} is under {clash}, where hacc or MicroK8s keeps files"
                        )
                        + "; put the file elsewhere",
                    )
            seen.add(path)


@rule
def extension_secrets(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    for where, ext in _extension_entries(doc):
        texts: list[tuple[Path_, str]] = [
            ((*where, "files", i, "content"), f.get("content", ""))
            for i, f in enumerate(ext.get("files", []))
        ]
        for key in ("preCommands", "postCommands"):
            texts += [((*where, key, i), cmd) for i, cmd in enumerate(ext.get(key, []))]
        for path, text in texts:
            holder = (
                f"the content of {ext['files'][path[-2]].get('path', 'this file')}"
                if path[-1] == "content"
                else f"{str(path[-2]).removesuffix('s')} {int(path[-1]) + 1}"
            )
            for shape, what in SECRET_SHAPES:
                if isinstance(text, str) and shape.search(text):
                    yield _err(
                        doc,
                        path,
                        "HACC234",
                        f"{holder} holds {what}; hacc's output is committed: fetch secrets on the "
                        "node instead (a preCommand that reads them from your secret store)",
                    )
                    break


@rule
def every_node_tainted(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    def repels(taint: str) -> bool:
        return taint.endswith((":NoSchedule", ":NoExecute"))

    if c.nodes and all(any(repels(t) for t in n.extensions.taints) for n in c.nodes):
        first = c.nodes[0]
        where = (
            ("spec", "extensions", "taints")
            if doc.data.get("spec", {}).get("extensions", {}).get("taints")
            else (*first.path, "extensions", "taints")
        )
        yield _warn(
            doc,
            where,
            "HACC235",
            "every node carries a NoSchedule or NoExecute taint: CoreDNS and the addons' "
            "Deployments, which do not tolerate it, can run nowhere",
        )
