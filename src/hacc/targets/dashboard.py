"""A Grafana dashboard of the cluster's endpoint: `manifests/monitoring/grafana-dashboard.yaml`
(a ConfigMap the kube-prometheus-stack Grafana sidecar loads: label `grafana_dashboard: "1"`) and
`monitoring/grafana-dashboard.json` for a Grafana of your own (Dashboards > Import).

Every panel reads the series the alert rules read (hacc.targets.monitoring), with the same
selectors, through a `datasource` variable so any Prometheus data source fits. The dashboard
JSON follows Grafana's dashboard model (grafana/grafana kinds/dashboard/dashboard_kind.cue:
schemaVersion, panels with gridPos and targets). MicroK8s exports no dqlite voter metric, so the
datastore panel counts the Ready control-plane nodes, where the voters run.
"""

from __future__ import annotations

import json
from typing import Any

from hacc.compiler.model import KEEPALIVED_HAPROXY, KUBE_VIP, Cluster
from hacc.targets import monitoring as m
from hacc.targets.artifact import MANIFEST, MONITORING, Artifact
from hacc.targets.base import dump_yaml, header

SCHEMA_VERSION = 39  # Grafana 10.x/11.x dashboards
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
CONFIGMAP = m.DASHBOARD_FILE
JSON_FILE = "grafana-dashboard.json"


def applies(cluster: Cluster) -> bool:
    return cluster.monitoring.enabled


def _target(expr: str, legend: str) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": "A"}


def _panel(kind: str, title: str, expr: str, legend: str, **field: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"color": {"mode": "palette-classic"}}
    defaults.update(field)
    return {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "targets": [_target(expr, legend)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {},
    }


UP_DOWN = [
    {"type": "value", "options": {"0": {"text": "down", "color": "red", "index": 0}}},
    {"type": "value", "options": {"1": {"text": "up", "color": "green", "index": 1}}},
]


def panels(c: Cluster) -> list[dict[str, Any]]:
    """The panels, in reading order (placed two to a row)."""
    a = c.monitoring.alerts
    probes = f'{{job=~"{m.ENDPOINT_JOB}|{m.APISERVER_JOB}",hacc_cluster="{c.name}"}}'
    out = []
    if c.mode == KEEPALIVED_HAPROXY:
        state = m._sel(c, m.NODE_JOB, state="MASTER")
        holder = {"type": "value", "options": {"1": {"text": "holds the VIP", "color": "blue"}}}
        out.append(
            _panel(
                "state-timeline",
                f"VIP {c.endpoint.address}: holder over time",
                f"max by (node) ({m.STATE_METRIC}{state})",
                "{{node}}",
                mappings=[holder, {"type": "value", "options": {"0": {"text": "-"}}}],
            )
        )
        backend = m._sel(c, m.HAPROXY_JOB, proxy="kube_apiserver", state="UP")
        out.append(
            _panel(
                "state-timeline",
                "HAProxy backend states (each node's HAProxy -> each apiserver)",
                f"max by (node, server) (haproxy_server_status{backend})",
                "{{node}} -> {{server}}",
                mappings=UP_DOWN,
            )
        )
    elif c.mode == KUBE_VIP:
        owner = "kube_lease_owner" + m._ksm(c, lease=m.LEASE)
        out.append(
            _panel(
                "state-timeline",
                f"VIP {c.endpoint.address}: Lease {m.LEASE} holder over time",
                f"max by (lease_holder) ({owner})",
                "{{lease_holder}}",
            )
        )
    out += [
        _panel(
            "state-timeline",
            "Apiserver /readyz per node",
            f"max by (node) (probe_success{m._sel(c, m.APISERVER_JOB)})",
            "{{node}}",
            mappings=UP_DOWN,
        ),
        _panel(
            "timeseries",
            "Probe success (endpoint and apiservers)",
            f"probe_success{probes}",
            "{{target}}",
            min=0,
            max=1,
        ),
        _panel(
            "timeseries",
            "Probe latency",
            f"probe_duration_seconds{probes}",
            "{{target}}",
            unit="s",
        ),
        _panel(
            "bargauge",
            "Days to each served certificate's expiry",
            f"(probe_ssl_earliest_cert_expiry{probes} - time()) / 86400",
            "{{target}}",
            unit="d",
            decimals=0,
            thresholds={
                "mode": "absolute",
                "steps": [
                    {"color": "red", "value": None},
                    {"color": "orange", "value": a.cert_critical_days},
                    {"color": "green", "value": a.cert_warning_days},
                ],
            },
        ),
        _panel(
            "stat",
            f"Datastore: control-plane nodes Ready (of {len(c.control_plane)}; "
            f"quorum needs {m.majority(c)})",
            "sum(kube_node_status_condition"
            + m._ksm(c, f'node=~"{m._node_regex(c)}"', condition="Ready", status="true")
            + ")",
            "Ready",
            thresholds={
                "mode": "absolute",
                "steps": [
                    {"color": "red", "value": None},
                    {"color": "green", "value": m.majority(c)},
                ],
            },
        ),
    ]
    for i, p in enumerate(out):
        p["id"] = i + 1
        p["gridPos"] = {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)}
    return out


def dashboard(c: Cluster) -> dict[str, Any]:
    return {  # the description first: it is the file's "do not edit" line
        "description": f"Generated by hacc from the spec of cluster {c.name}; do not edit.",
        "uid": f"hacc-{c.name}"[:40],
        "title": f"hacc: {c.name} endpoint and control plane",
        "tags": ["hacc", c.name],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "style": "dark",
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "links": [],
        "panels": panels(c),
    }


def text(c: Cluster) -> str:
    return json.dumps(dashboard(c), indent=2) + "\n"


def render(c: Cluster) -> list[Artifact]:
    body = text(c)
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"hacc-{c.name}-dashboard",
            "namespace": c.monitoring.namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "hacc",
                "hacc.dev/cluster": c.name,
                "grafana_dashboard": "1",  # what the kube-prometheus-stack sidecar loads
            },
        },
        "data": {JSON_FILE: body},
    }
    return [
        Artifact(f"manifests/monitoring/{CONFIGMAP}", header(c) + dump_yaml(configmap), MANIFEST),
        Artifact(f"monitoring/{JSON_FILE}", body, MONITORING),
    ]
