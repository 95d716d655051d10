"""The monitoring drill: real Prometheus, blackbox exporter and node exporters watch the failover
drill's lab with hacc's generated rules, scrape and blackbox configurations, and each fault must
raise its alert in Prometheus's `/api/v1/alerts` within a bound, then resolve after recovery.

Placement: a node exporter (textfile collector only, reading the directory keepalived's notify
script writes) on each control-plane node's address; Prometheus and the blackbox exporter in the
client namespace, where a workstation or monitoring host would be. The blackbox exporter runs in
a private mount namespace whose /etc/hosts names the endpoint, so nothing is ever resolved
through DNS. The generated files are used as they are; only Prometheus's intervals are short and
the spec's `for:` durations are the drill's own (spec.monitoring.alerts).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hacc.compiler.model import Cluster, duration_ms
from hacc.drill.configs import remap
from hacc.drill.lab import LabError
from hacc.drill.runner import Drill
from hacc.targets import monitoring, render_cluster

PROMETHEUS = "127.0.0.1:9090"
INTERVAL = "1s"  # Prometheus's scrape and evaluation interval in the lab

# Series the rules read that only kube-state-metrics has: it needs a Kubernetes API, which the
# lab does not run; promtool's unit tests cover them.
FLAPPING = "HaccVIPFlapping"
KSM_ONLY = {"kube_node_status_condition", "kube_lease_renew_time", "kube_lease_owner"}
# Series backup.sh writes after a datastore backup (microk8s dbctl), which the lab's nodes cannot
# run: tests/test_backup.py runs backup.sh and reads its textfile; promtool's tests cover the rules.
BACKUP_ONLY = {"hacc_backup_last_run_success", "hacc_backup_last_success_timestamp_seconds"}
# Alerts a steady lab raises: the drill's own VIP moves flap it, and it has no kube-state-metrics.
LAB_RAISES = {FLAPPING, "HaccKubeStateMetricsMissing"}
SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})")


@dataclass
class Alerted:
    fault: str
    alert: str
    labels: dict[str, str]
    fired_s: float | None  # fault -> firing in /api/v1/alerts
    resolved_s: float | None  # recovery -> gone from /api/v1/alerts
    notes: list[str] = field(default_factory=list)


def selectors(cluster: Cluster) -> list[str]:
    """Every `metric{labels}` selector the cluster's rules read."""
    out = []
    for rule in monitoring.alert_rules(cluster):
        for name, labels in SELECTOR.findall(rule["expr"]):
            out.append(name + labels)
    return sorted(set(out))


class Watch:
    """Prometheus and the exporters around one running drill."""

    def __init__(self, drill: Drill, cluster: Cluster, endpoint_hosts: str) -> None:
        self.drill = drill
        self.cluster = cluster
        self.dir = drill.labdir / "monitoring"
        self.hosts = endpoint_hosts  # /etc/hosts for the blackbox exporter
        self.first_firing: dict[str, float] = {}  # alert name -> when first seen firing
        self.targets = 0  # how many targets the scrape configurations name

    # -- start --------------------------------------------------------------------------------

    def start(self) -> None:
        files = {a.path: a.content for a in render_cluster(self.cluster)}
        self.dir.mkdir(mode=0o755)
        rules = self.dir / "rules.yaml"
        rules.write_text(_lab_only(files["monitoring/rules.yaml"]))
        blackbox = self.dir / "blackbox.yaml"
        blackbox.write_text(_lab_only(files["monitoring/blackbox.yaml"]))
        scrape = yaml.safe_load(_lab_only(files["monitoring/scrape-configs.yaml"]))
        config = {
            "global": {
                "scrape_interval": INTERVAL,
                "scrape_timeout": INTERVAL,
                "evaluation_interval": INTERVAL,
            },
            "rule_files": [str(rules)],
            **scrape,
        }
        self.targets = sum(
            len(group["targets"])
            for job in scrape["scrape_configs"]
            for group in job["static_configs"]
        )
        prom = self.dir / "prometheus.yml"
        prom.write_text(yaml.safe_dump(config, sort_keys=False))
        hosts = self.dir / "hosts"
        hosts.write_text(self.hosts)
        m = self.cluster.monitoring
        sup = self.drill.supervisor
        self.start_node_exporters([node.name for node in self.drill.lab.nodes])
        client = self.drill.lab.client
        mount = 'mount --bind "$0" /etc/hosts && exec "$@"'
        argv = [
            "unshare", "--mount", "--propagation", "private", "sh", "-c", mount, str(hosts),
            "prometheus-blackbox-exporter", f"--config.file={blackbox}",
            f"--web.listen-address={m.blackbox_exporter}",
        ]  # fmt: skip
        sup.start("blackbox-exporter", client, argv)
        argv = [
            "prometheus",
            f"--config.file={prom}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address={PROMETHEUS}",
            "--storage.tsdb.retention.time=1h",
        ]
        sup.start("prometheus", client, argv)

    def start_node_exporters(self, names: list[str]) -> None:
        """A node exporter on each named node's address, reading only the textfile directory
        keepalived's notify script writes."""
        port = self.cluster.monitoring.node_exporter_port
        for name in names:
            node = self.drill.lab.node(name)
            textfile = self.drill.labdir / node.name / "textfile"
            textfile.mkdir(exist_ok=True)
            argv = [
                "prometheus-node-exporter",
                f"--web.listen-address={node.address}:{port}",
                "--collector.disable-defaults",
                "--collector.textfile",
                f"--collector.textfile.directory={textfile}",
            ]
            self.drill.supervisor.start(f"node-exporter-{node.name}", node.netns, argv)

    # -- observe ------------------------------------------------------------------------------

    def _get(self, path: str) -> Any:
        argv = ["ip", "netns", "exec", self.drill.lab.client, "curl", "-sf", "--max-time", "2"]
        r = subprocess.run(
            [*argv, f"http://{PROMETHEUS}{path}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)["data"]

    def query(self, expr: str) -> list[dict[str, Any]] | None:
        from urllib.parse import quote

        data = self._get(f"/api/v1/query?query={quote(expr)}")
        return None if data is None else list(data["result"])

    def alerts(self) -> list[dict[str, Any]]:
        data = self._get("/api/v1/alerts")
        alerts = [] if data is None else list(data["alerts"])
        for a in alerts:
            if a["state"] == "firing":
                self.first_firing.setdefault(a["labels"]["alertname"], time.monotonic())
        return alerts

    def firing(self, name: str, labels: dict[str, str] | None = None) -> bool:
        return any(
            a["labels"].get("alertname") == name
            and a["state"] == "firing"
            and all(a["labels"].get(k) == v for k, v in (labels or {}).items())
            for a in self.alerts()
        )

    def active(self) -> list[str]:
        """Alerts pending or firing, as `name{node or target}`."""
        out = []
        for a in self.alerts():
            where = a["labels"].get("node") or a["labels"].get("target") or ""
            out.append(f"{a['labels']['alertname']}{{{where}}}:{a['state']}")
        return sorted(out)

    def masters(self) -> list[str]:
        """The nodes whose keepalived reports MASTER, as Prometheus last scraped them."""
        found = self.query(f'{monitoring.STATE_METRIC}{{state="MASTER"}} == 1') or []
        return sorted(r["metric"].get("node", "?") for r in found)

    def ready(self, timeout: float) -> bool:
        """Prometheus answers, has scraped every target and found it up (a probe: succeeding),
        and no alert is pending or firing (but those in LAB_RAISES)."""

        def ok() -> bool:
            up = self.query("up == 1 unless on (instance, job) probe_success == 0")
            alerts = [a for a in self.alerts() if a["labels"]["alertname"] not in LAB_RAISES]
            return up is not None and len(up) == self.targets and not alerts

        return _wait(ok, timeout) is not None

    def missing_series(self) -> list[str]:
        """Selectors of the rules that match no series the real exporters produced."""
        out = []
        for sel in selectors(self.cluster):
            if sel.split("{")[0] in KSM_ONLY | BACKUP_ONLY:
                continue
            if not self.query(f"count({sel})"):
                out.append(sel)
        return out

    def dashboard_gaps(self) -> list[str]:
        """The dashboard's panel queries that return nothing from the real exporters' series."""
        from hacc.targets.dashboard import panels

        out = []
        for p in panels(self.cluster):
            for t in p["targets"]:
                if any(name in t["expr"] for name in KSM_ONLY):
                    continue
                if not self.query(t["expr"]):
                    out.append(f"{p['title']}: {t['expr']}")
        return out

    # -- one fault ----------------------------------------------------------------------------

    def fault(
        self,
        name: str,
        act: Callable[[], None],
        recover: Callable[[], None],
        expect: list[tuple[str, dict[str, str]]],
        bound: float,
    ) -> list[Alerted]:
        """Cause a fault; time each expected alert's firing, then its resolution."""
        t0 = time.monotonic()
        act()
        fired: dict[int, float | None] = {}
        deadline = t0 + bound
        while time.monotonic() < deadline and len(fired) < len(expect):
            for i, (alert, labels) in enumerate(expect):
                if i not in fired and self.firing(alert, labels):
                    fired[i] = time.monotonic() - t0
            time.sleep(0.2)
        t1 = time.monotonic()
        recover()
        resolved: dict[int, float | None] = {}
        deadline = t1 + bound
        while time.monotonic() < deadline and len(resolved) < len(expect):
            for i, (alert, labels) in enumerate(expect):
                if i not in resolved and not self.firing(alert, labels):
                    resolved[i] = time.monotonic() - t1
            time.sleep(0.2)
        return [
            Alerted(
                name,
                alert,
                labels,
                _round(fired.get(i)),
                _round(resolved.get(i)),
            )
            for i, (alert, labels) in enumerate(expect)
        ]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _wait(predicate: Callable[[], bool], timeout: float, step: float = 0.5) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    return None


def _lab_only(text: str) -> str:
    """The text unchanged, once every IPv4 literal in it is known to be in the lab or loopback."""
    try:
        return remap(text, {}, {})
    except Exception as e:  # UnsafeConfig
        raise LabError(f"a monitoring file would leave the lab: {e}") from e


def vrrp_blocked(drill: Drill, blocked: bool) -> None:
    """Drop (or stop dropping) VRRP on the lab's bridge: every node stops hearing the others'
    adverts while clients still reach them all, a real split brain."""
    ns = ["ip", "netns", "exec", drill.lab.lan, "nft"]
    if blocked:
        script = (
            "add table bridge hacc_drill\n"
            "add chain bridge hacc_drill forward_vrrp { type filter hook forward priority 0; }\n"
            "add rule bridge hacc_drill forward_vrrp ip protocol vrrp drop\n"
        )
    else:
        script = "delete table bridge hacc_drill\n"
    r = subprocess.run(
        [*ns, "-f", "-"], input=script, capture_output=True, text=True, timeout=10, check=False
    )
    if r.returncode != 0:
        raise LabError(f"nft: {r.stderr.strip()}")


def table(results: list[Alerted]) -> str:
    lines = [
        "| fault | alert | labels | fired after | resolved after |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        labels = ",".join(f"{k}={v}" for k, v in sorted(r.labels.items())) or "-"
        fired = "not within the bound" if r.fired_s is None else f"{r.fired_s:.1f} s"
        gone = "not within the bound" if r.resolved_s is None else f"{r.resolved_s:.1f} s"
        lines.append(f"| {r.fault} | {r.alert} | {labels} | {fired} | {gone} |")
    return "\n".join(lines) + "\n"


def write_table(path: Path, results: list[Alerted]) -> None:
    path.write_text(table(results))


def run_faults(drill: Drill, watch: Watch, bound: float = 20.0) -> list[Alerted]:
    """The drill's faults, one after another, each from a quiet, steady lab."""
    from hacc.drill.configs import issue_leaf, node_sans

    names = [n for n, _ in drill.config.nodes]
    results: list[Alerted] = []

    def settle(before: str) -> None:
        drill.steady()
        if not watch.ready(60):
            raise LabError(f"the lab did not settle before {before}: {watch.active()}")

    def reissue(node: str, days: int) -> None:
        issue_leaf(drill.labdir, node, node_sans(drill.config, names.index(node)), days=days)
        drill.supervisor.stop(f"apiserver-{node}")
        drill.start("apiserver", node)

    def restart(kind: str, nodes: list[str]) -> Callable[[], None]:
        def act() -> None:
            for n in nodes:
                drill.start(kind, n)

        return act

    def stop(kind: str, nodes: list[str]) -> Callable[[], None]:
        def act() -> None:
            for n in nodes:
                drill.supervisor.stop(f"{kind}-{n}")

        return act

    settle("the first fault")
    last = names[-1]
    results += watch.fault(
        f"apiserver killed on {last}",
        stop("apiserver", [last]),
        restart("apiserver", [last]),
        [("HaccApiserverDown", {"node": last})],
        bound,
    )
    settle("the next fault")
    moves_from = time.monotonic()  # the VIP moves from here on: the flapping alert must fire
    holder = drill.lab.holders()[0]
    seen: list[str] = []

    def kill_haproxy() -> None:
        stop("haproxy", [holder])()
        # keepalived's state metric must follow the VIP to its new holder
        _wait(lambda: drill.lab.holders() not in ([], [holder]), 10, 0.1)
        holders = drill.lab.holders()
        _wait(lambda: watch.masters() == holders, 10, 0.2)
        seen.append(f"VIP on {holders}, {monitoring.STATE_METRIC} MASTER on {watch.masters()}")

    faults = watch.fault(
        f"HAProxy killed on the VIP holder {holder}",
        kill_haproxy,
        restart("haproxy", [holder]),
        [("HaccHAProxyDown", {"node": holder}), ("HaccKeepalivedFault", {"node": holder})],
        bound,
    )
    faults[0].notes += seen
    results += faults
    settle("the next fault")
    holder = drill.lab.holders()[0]
    node = drill.lab.node(holder)
    results += watch.fault(
        f"VIP holder {holder} cut off",
        lambda: drill.lab.cut(node),
        lambda: drill.lab.heal(node),
        [("HaccApiserverDown", {"node": holder}), ("HaccHAProxyDown", {"node": holder})],
        bound,
    )
    settle("the next fault")
    second = names[1]
    results += watch.fault(
        f"certificate of {second} expiring in 5 days",
        lambda: reissue(second, 5),
        lambda: reissue(second, 365),
        [
            ("HaccCertificateExpiresSoon", {"target": second}),
            ("HaccCertificateExpiryCritical", {"target": second}),
        ],
        bound,
    )
    settle("the next fault")
    results += watch.fault(
        "keepalived stopped on every node",
        stop("keepalived", names),
        restart("keepalived", names),
        [("HaccVIPNotHeld", {}), ("HaccEndpointDown", {})],
        bound,
    )
    settle("the next fault")
    results += watch.fault(
        "node exporters stopped on every node",
        stop("node-exporter", names),
        lambda: watch.start_node_exporters(names),
        [("HaccKeepalivedStateMissing", {"node": n}) for n in names],
        bound,
    )
    settle("the next fault")
    results += watch.fault(
        "apiservers killed on every node",
        stop("apiserver", names),
        restart("apiserver", names),
        [("HaccAllApiserversDown", {}), ("HaccEndpointDown", {})],
        bound,
    )
    settle("the next fault")
    results += watch.fault(
        "VRRP dropped between the nodes",
        lambda: vrrp_blocked(drill, True),
        lambda: vrrp_blocked(drill, False),
        [("HaccVIPSplitBrain", {})],
        bound,
    )
    settle("the next fault")
    down = names[1:]
    results += watch.fault(
        f"apiservers killed on {', '.join(down)}",
        stop("apiserver", down),
        restart("apiserver", down),
        [("HaccControlPlaneQuorumAtRisk", {})] + [("HaccApiserverDown", {"node": n}) for n in down],
        bound,
    )
    # The faults above moved the VIP several times: flapping, which ends once the window passes.
    window = duration_ms(watch.cluster.monitoring.alerts.flap_window) / 1000
    first = watch.first_firing.get(FLAPPING)
    gone = _wait(lambda: not watch.firing(FLAPPING), window + bound)
    results.append(
        Alerted(
            "the VIP moves of the faults above",
            FLAPPING,
            {},
            _round(first - moves_from) if first else None,
            _round(gone),
            ["fired after: from the first VIP-moving fault; resolved after: from the last fault"],
        )
    )
    return results
