"""The cluster model: frozen, with every default resolved. Targets read only this.

Its records are NamedTuples, not dataclasses: `hacc validate` of one spec runs on every commit,
and creating these classes as dataclasses (with the dataclasses import) cost about 15 ms of it."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from hacc.compiler.loader import Path_
from hacc.schemas import load_schema, resolve

CONTROL_PLANE = "control-plane"
WORKER = "worker"

KEEPALIVED_HAPROXY = "keepalived-haproxy"
KUBE_VIP = "kube-vip"
EXTERNAL = "external"
VIP_MODES = (KEEPALIVED_HAPROXY, KUBE_VIP)

APISERVER_PORT = 16443
# MicroK8s's own SANs on every apiserver certificate (microk8s-resources/certs/csr.conf.template)
MICROK8S_SANS = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster",
    "kubernetes.default.svc.cluster.local",
    "127.0.0.1",
    "10.152.183.1",
)
CLUSTER_AGENT_PORT = 25000
DEFAULT_PORTS = {KEEPALIVED_HAPROXY: 8443, KUBE_VIP: APISERVER_PORT, EXTERNAL: APISERVER_PORT}

# Failover profiles: defaults for what the spec leaves unset (the drill measured both).
PROFILES: dict[str, dict[str, Any]] = {
    "default": {"advertInterval": 1, "checkInterval": "2s", "checkFall": 3, "connect": "200ms"},
    # fast: a request that dials a cut-off node's apiserver is redispatched after 100 ms, well
    # inside a client's patience, until the health checks mark that server down
    "fast": {"advertInterval": 0.1, "checkInterval": "500ms", "checkFall": 1, "connect": "100ms"},
}

# Alert timing per profile: a cluster tuned to fail over fast is watched as closely.
ALERT_PROFILES: dict[str, dict[str, Any]] = {
    "default": {
        "endpointDownFor": "1m",
        "apiserverDownFor": "2m",
        "loadBalancerDownFor": "1m",
        "vipFor": "30s",
        "quorumFor": "2m",
        "flapWindow": "15m",
        "flapChanges": 4,
    },
    "fast": {
        "endpointDownFor": "30s",
        "apiserverDownFor": "1m",
        "loadBalancerDownFor": "30s",
        "vipFor": "10s",
        "quorumFor": "1m",
        "flapWindow": "10m",
        "flapChanges": 4,
    },
}
# A snap channel of MicroK8s, `<track>/<risk>` (the schema's spec.microk8s.channel pattern):
# groups 2 and 3 are the major and minor version, 4 the strict suffix, 5 the risk.
# Snap tracks are spelled without leading zeros (`snap refresh --channel=01.33/stable` names
# no track MicroK8s publishes); the schema's pattern says the same.
CHANNEL = re.compile(
    r"(latest|(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})(-strict)?)/(stable|candidate|beta|edge)"
)
# MicroK8s's default pod network (Calico), where an in-cluster Prometheus scrapes from:
# microk8s-resources/default-args/kube-proxy `--cluster-cidr=10.1.0.0/16`.
POD_NETWORK = "10.1.0.0/16"


def duration_ms(text: str) -> int:
    number = int(re.match(r"\d+", text).group())  # type: ignore[union-attr]
    return number * {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}[text.lstrip("0123456789")]


class ExtraFile(NamedTuple):
    path: str
    content: str
    permissions: str
    owner: str
    where: Path_  # the spec path of its entry, for diagnostics


class Extensions(NamedTuple):
    """A node's extension points: spec.extensions merged with the node's own."""

    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[str, ...] = ()
    files: tuple[ExtraFile, ...] = ()
    pre_commands: tuple[str, ...] = ()
    post_commands: tuple[str, ...] = ()


class Proxy(NamedTuple):
    http: str | None
    https: str | None
    no_proxy: tuple[str, ...]


class Node(NamedTuple):
    name: str
    address: str
    interface: str
    role: str
    failure_domain: int
    path: Path_
    extensions: Extensions = Extensions()

    @property
    def is_control_plane(self) -> bool:
        return self.role == CONTROL_PLANE


class Addon(NamedTuple):
    name: str
    args: tuple[str, ...]
    disable: bool


class Keepalived(NamedTuple):
    virtual_router_id: int
    advert_interval: float
    vrrp_version: int
    check_interval: int
    check_fall: int
    check_rise: int


class HAProxy(NamedTuple):
    balance: str
    check_path: str
    check_interval: str
    check_fastinter: str  # re-check interval of a failing server: the interval, at most 1s
    check_fall: int
    check_rise: int
    timeout_connect: str
    timeout_client: str
    timeout_server: str
    timeout_tunnel: str
    retries: int
    stats_port: int


class KubeVip(NamedTuple):
    version: str
    image: str
    lease_duration: int
    renew_deadline: int
    retry_period: int
    follow_local_apiserver: bool


class Alerts(NamedTuple):
    endpoint_down_for: str
    apiserver_down_for: str
    load_balancer_down_for: str
    vip_for: str
    quorum_for: str
    flap_window: str
    flap_changes: int
    cert_warning_days: int
    cert_critical_days: int


class Monitoring(NamedTuple):
    enabled: bool
    scrape_from: tuple[str, ...]
    haproxy_metrics_port: int
    node_exporter_port: int
    blackbox_exporter: str  # for monitoring/ (a Prometheus of your own)
    cluster_blackbox_exporter: str  # for the Probe objects (the cluster's Prometheus)
    namespace: str
    rule_labels: tuple[tuple[str, str], ...]
    cluster_matchers: tuple[tuple[str, str], ...]  # for kube-state-metrics' series
    runbook_url: str | None
    alerts: Alerts


class Backups(NamedTuple):
    enabled: bool
    hour: int
    stagger_minutes: int
    keep: int
    directory: str
    timeout: int
    copy_command: str | None
    max_age_hours: int

    def time_of(self, index: int) -> tuple[int, int]:
        """(hour, minute) at which the control-plane node at `index` backs up, each day."""
        minutes = (self.hour * 60 + index * self.stagger_minutes) % (24 * 60)
        return divmod(minutes, 60)


class Endpoint(NamedTuple):
    address: str | None
    dns_name: str | None
    port: int


class SecretRef(NamedTuple):
    kind: str  # env | file | sops
    ref: str
    key: str | None = None


class GitOps(NamedTuple):
    repo_url: str
    branch: str
    path: str  # without `.` segments: "" is the repository's root
    secret: str | None = None  # the credentials Secret of a private repository (Flux secretRef)

    def under(self, *parts: str) -> str:
        """A path in the repository below `path`, as Argo CD and Flux name it (no `./`)."""
        return "/".join(p for p in (self.path, *parts) if p)


Flags = tuple[tuple[str, str | None], ...]


class Cluster(NamedTuple):
    name: str
    source: str
    channel: str
    addons: tuple[Addon, ...]
    apiserver_args: Flags
    kubelet_args: Flags
    interface: str
    subnet: str | None
    endpoint: Endpoint
    extra_sans: tuple[str, ...]
    mode: str
    profile: str
    keepalived: Keepalived
    haproxy: HAProxy
    kube_vip: KubeVip
    external_health_check: str
    control_plane: tuple[Node, ...]
    workers: tuple[Node, ...]
    worker_endpoint: str
    upgrade_batch: int
    join_token: SecretRef
    gitops: GitOps | None
    monitoring: Monitoring
    proxy: Proxy | None = None
    backups: Backups | None = None  # None: no backups generated

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.control_plane + self.workers

    @property
    def first(self) -> Node:
        return self.control_plane[0]

    @property
    def track(self) -> tuple[int, int] | None:
        """(major, minor) of the channel's track, or None for `latest`."""
        m = CHANNEL.fullmatch(self.channel)
        return (int(m.group(2)), int(m.group(3))) if m and m.group(2) else None

    @property
    def sans(self) -> tuple[str, ...]:
        """Every extra SAN for the apiserver certificate, endpoint first, without repeats."""
        names = [self.endpoint.address, self.endpoint.dns_name, *self.extra_sans]
        return tuple(dict.fromkeys(n for n in names if n))


def _copied(value: Any) -> Any:
    """A copy of JSON data (a schema's default): its dicts and lists anew."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def apply_defaults(
    data: Any, schema: dict[str, Any] | None = None, root: dict[str, Any] | None = None
) -> Any:
    """A copy of `data` with every schema `default` filled in, recursively."""
    root = root or load_schema()
    schema = resolve(schema if schema is not None else root, root)
    if isinstance(data, dict):
        out = {}
        props = schema.get("properties", {})
        for key, prop in props.items():
            sub = resolve(prop, root)
            if key not in data and "default" in sub:
                out[key] = apply_defaults(_copied(sub["default"]), sub, root)
        for key, value in data.items():
            out[key] = apply_defaults(value, props[key], root) if key in props else value
        return out
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(item, schema["items"], root) for item in data]
    return data


def _flag_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _flags(overlay: dict[str, Any]) -> Flags:
    return tuple((k, _flag_value(v)) for k, v in overlay.items())


def _addon(a: Any) -> Addon:
    if isinstance(a, str):
        return Addon(a, (), False)
    return Addon(a["name"], tuple(a.get("args", ())), bool(a.get("disable", False)))


def _secret(ref: dict[str, Any]) -> SecretRef:
    if "env" in ref:
        return SecretRef("env", ref["env"])
    if "file" in ref:
        return SecretRef("file", ref["file"])
    return SecretRef("sops", ref["sops"], ref["key"])


def build_model(raw: dict[str, Any], source: str) -> Cluster:
    """The model of a schema-valid spec."""
    d = apply_defaults(raw)
    spec = d["spec"]
    mk = spec["microk8s"]
    net = spec["network"]
    cp = spec["controlPlane"]
    lb = cp["loadBalancer"]
    mode = lb["mode"]
    ep = cp["endpoint"]
    ka = lb["keepalived"]
    hp = lb["haproxy"]
    hc = hp["healthCheck"]
    to = hp["timeouts"]
    kv = lb["kubeVip"]
    wk = spec["workers"]
    iface = net["interface"]

    profile = PROFILES[lb["profile"]]
    interval = hc.get("interval", profile["checkInterval"])
    advert = float(ka.get("advertInterval", profile["advertInterval"]))
    version = ka.get("vrrpVersion", 2 if advert.is_integer() else 3)

    common = spec["extensions"]

    def node(n: dict[str, Any], role: str, path: Path_) -> Node:
        return Node(
            n["name"],
            n["address"],
            n.get("interface", iface),
            role,
            int(n.get("failureDomain", 1)),
            path,
            _extensions(common, n.get("extensions", {}), path),
        )

    control = tuple(
        node(n, CONTROL_PLANE, ("spec", "controlPlane", "nodes", i))
        for i, n in enumerate(cp["nodes"])
    )
    workers = tuple(
        node(n, WORKER, ("spec", "workers", "nodes", i)) for i, n in enumerate(wk["nodes"])
    )
    gitops = spec.get("gitops")
    return Cluster(
        name=d["metadata"]["name"],
        source=source,
        channel=mk["channel"],
        addons=tuple(_addon(a) for a in mk["addons"]),
        apiserver_args=_flags(mk["apiserverArgs"]),
        kubelet_args=_flags(mk["kubeletArgs"]),
        interface=iface,
        subnet=net.get("subnet"),
        endpoint=Endpoint(
            ep.get("address"), ep.get("dnsName"), int(ep.get("port", DEFAULT_PORTS[mode]))
        ),
        extra_sans=tuple(cp["extraSANs"]),
        mode=mode,
        profile=lb["profile"],
        keepalived=Keepalived(
            int(ka["virtualRouterId"]),
            advert,
            int(version),
            int(ka["checkInterval"]),
            int(ka["checkFall"]),
            int(ka["checkRise"]),
        ),
        haproxy=HAProxy(
            hp["balance"],
            hc["path"],
            interval,
            interval if duration_ms(interval) < 1000 else "1s",
            int(hc.get("fall", profile["checkFall"])),
            int(hc["rise"]),
            to.get("connect", profile["connect"]),
            to["client"],
            to["server"],
            to["tunnel"],
            int(hp["retries"]),
            int(hp["statsPort"]),
        ),
        kube_vip=KubeVip(
            kv["version"],
            kv["image"],
            int(kv["leaseDuration"]),
            int(kv["renewDeadline"]),
            int(kv["retryPeriod"]),
            bool(kv["followLocalApiserver"]),
        ),
        external_health_check=lb["external"]["healthCheck"],
        control_plane=control,
        workers=workers,
        worker_endpoint=wk["apiserverEndpoint"],
        upgrade_batch=int(wk["upgradeBatchSize"]),
        join_token=_secret(spec["secrets"]["joinToken"]),
        gitops=gitops_from(gitops) if gitops else None,
        monitoring=_monitoring(spec["monitoring"], lb["profile"], net.get("subnet"), control),
        proxy=_proxy(common["proxy"]) if "proxy" in common else None,
        backups=_backups(spec["backups"]),
    )


def _backups(b: dict[str, Any]) -> Backups | None:
    if not b["enabled"]:
        return None
    return Backups(
        enabled=True,
        hour=int(b["hour"]),
        stagger_minutes=int(b["staggerMinutes"]),
        keep=int(b["keep"]),
        directory=b["directory"],
        timeout=int(b["timeout"]),
        copy_command=b.get("copyCommand"),
        max_age_hours=int(b["maxAgeHours"]),
    )


def _extensions(common: dict[str, Any], own: dict[str, Any], node: Path_) -> Extensions:
    """spec.extensions with the node's own added: its labels win by key, its files by path."""
    files: dict[str, ExtraFile] = {}
    for where, entries in ((("spec", "extensions"), common), ((*node, "extensions"), own)):
        for i, f in enumerate(entries.get("files", ())):
            files[f["path"]] = ExtraFile(
                f["path"],
                f["content"],
                f.get("permissions", "0644"),
                f.get("owner", "root:root"),
                (*where, "files", i),
            )
    labels = {**common.get("labels", {}), **own.get("labels", {})}
    taints = dict.fromkeys((*common.get("taints", ()), *own.get("taints", ())))
    return Extensions(
        tuple(sorted(labels.items())),
        tuple(taints),
        tuple(files.values()),
        (*common.get("preCommands", ()), *own.get("preCommands", ())),
        (*common.get("postCommands", ()), *own.get("postCommands", ())),
    )


def _proxy(p: dict[str, Any]) -> Proxy:
    return Proxy(p.get("http"), p.get("https"), tuple(p.get("noProxy", ())))


def gitops_from(g: dict[str, Any]) -> GitOps:
    """The spec's (or a state file's) `gitops` mapping as the model holds it."""
    path = "/".join(s for s in g["path"].split("/") if s != ".")
    return GitOps(g["repoURL"], g["branch"], path, g.get("secretRef"))


def _monitoring(
    m: dict[str, Any], profile: str, subnet: str | None, control: tuple[Node, ...]
) -> Monitoring:
    a = {**ALERT_PROFILES[profile], **m["alerts"]}
    own = [subnet] if subnet else [f"{n.address}/32" for n in control]
    return Monitoring(
        enabled=bool(m["enabled"]),
        scrape_from=tuple(m.get("scrapeFrom", [*own, POD_NETWORK])),
        haproxy_metrics_port=int(m["haproxyMetricsPort"]),
        node_exporter_port=int(m["nodeExporterPort"]),
        blackbox_exporter=m["blackboxExporter"],
        cluster_blackbox_exporter=m.get(
            "clusterBlackboxExporter", f"prometheus-blackbox-exporter.{m['namespace']}.svc:9115"
        ),
        namespace=m["namespace"],
        rule_labels=tuple(sorted(m["ruleLabels"].items())),
        cluster_matchers=tuple(sorted(m.get("clusterMatchers", {}).items())),
        runbook_url=m.get("runbookURL"),
        alerts=Alerts(
            a["endpointDownFor"],
            a["apiserverDownFor"],
            a["loadBalancerDownFor"],
            a["vipFor"],
            a["quorumFor"],
            a["flapWindow"],
            int(a["flapChanges"]),
            int(a["certWarningDays"]),
            int(a["certCriticalDays"]),
        ),
    )
