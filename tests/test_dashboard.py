"""The Grafana dashboard: Grafana's dashboard model, PromQL that promtool parses, and a ConfigMap
the kube-prometheus-stack Grafana sidecar loads. No JSON Schema of Grafana's dashboard exists
in a form that runs here (grafana/grafana defines it in CUE, kinds/dashboard/dashboard_kind.cue),
so DASHBOARD below transcribes the fields that model requires; the monitoring lab
(tests/test_monitoring_drill.py) runs every panel's query against a real Prometheus."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from artifacts import compiled
from conftest import EXAMPLES
from hacc.targets import dashboard
from realtools import run, tool

NAMES = [p.stem for p in EXAMPLES]

# kinds/dashboard/dashboard_kind.cue: the required fields of the dashboard, #GridPos, #Threshold,
# #ThresholdsConfig, #ValueMap and a panel's targets (refId), with their types and bounds.
GRID = {
    "type": "object",
    "required": ["h", "w", "x", "y"],
    "properties": {
        "h": {"type": "integer", "minimum": 1},
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
        "y": {"type": "integer", "minimum": 0},
    },
}
THRESHOLDS = {
    "type": "object",
    "required": ["mode", "steps"],
    "properties": {
        "mode": {"enum": ["absolute", "percentage"]},
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["color"],
                "properties": {"color": {"type": "string"}, "value": {"type": ["number", "null"]}},
            },
        },
    },
}
MAPPING = {
    "type": "object",
    "required": ["type", "options"],
    "properties": {"type": {"const": "value"}, "options": {"type": "object"}},
}
PANEL = {
    "type": "object",
    "required": ["type", "id", "gridPos", "targets", "datasource"],
    "properties": {
        "type": {"enum": ["timeseries", "state-timeline", "stat", "bargauge"]},
        "id": {"type": "integer", "minimum": 1},
        "gridPos": GRID,
        "targets": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "required": ["refId", "expr", "datasource"]},
        },
        "fieldConfig": {
            "type": "object",
            "required": ["defaults", "overrides"],
            "properties": {
                "defaults": {
                    "type": "object",
                    "properties": {
                        "thresholds": THRESHOLDS,
                        "mappings": {"type": "array", "items": MAPPING},
                    },
                }
            },
        },
    },
}
DASHBOARD = {
    "type": "object",
    "required": ["editable", "graphTooltip", "schemaVersion", "style", "title", "uid", "panels"],
    "properties": {
        "editable": {"type": "boolean"},
        "graphTooltip": {"enum": [0, 1, 2]},
        "schemaVersion": {"type": "integer", "minimum": 0, "maximum": 65535},
        "style": {"enum": ["light", "dark"]},
        "uid": {"type": "string", "minLength": 1, "maxLength": 40},
        "time": {"type": "object", "required": ["from", "to"]},
        "templating": {
            "type": "object",
            "properties": {
                "list": {"type": "array", "items": {"type": "object", "required": ["name", "type"]}}
            },
        },
        "panels": {"type": "array", "minItems": 1, "items": PANEL},
    },
}


def board(name: str) -> dict:
    files = {a.path: a.content for a in compiled(name)[1]}
    return json.loads(files["monitoring/grafana-dashboard.json"])


@pytest.mark.parametrize("name", NAMES)
def test_the_dashboard_follows_grafanas_model(name) -> None:
    doc = board(name)
    errors = [e.message for e in jsonschema.Draft7Validator(DASHBOARD).iter_errors(doc)]
    assert errors == []
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in doc["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, p["title"]  # no panel drawn over another
                cells.add((x, y))
        for t in p["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert doc["templating"]["list"][0] == {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "hide": 0,
    }


def test_the_model_check_rejects_a_broken_dashboard() -> None:
    doc = board("keepalived-haproxy")
    doc["panels"][0]["gridPos"]["w"] = 30
    doc["graphTooltip"] = 5
    assert len(list(jsonschema.Draft7Validator(DASHBOARD).iter_errors(doc))) == 2


@pytest.mark.parametrize("name", NAMES)
def test_every_panel_query_parses_in_promtool(name, tmp_path) -> None:
    doc = board(name)
    rules = [
        {"record": f"hacc:dashboard:panel{p['id']}", "expr": t["expr"]}
        for p in doc["panels"]
        for t in p["targets"]
    ]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    r = run(tool("promtool"), "check", "rules", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b", "expr": "sum("}]}]})
    )
    assert run(tool("promtool"), "check", "rules", str(path)).returncode != 0


@pytest.mark.parametrize("name", NAMES)
def test_the_sidecar_configmap_carries_the_same_dashboard(name) -> None:
    cluster, artifacts = compiled(name)
    files = {a.path: a.content for a in artifacts}
    cm = yaml.safe_load(files["manifests/monitoring/grafana-dashboard.yaml"])
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == cluster.monitoring.namespace
    assert cm["data"] == {"grafana-dashboard.json": files["monitoring/grafana-dashboard.json"]}
    kustomization = yaml.safe_load(files["manifests/monitoring/kustomization.yaml"])
    assert "grafana-dashboard.yaml" in kustomization["resources"]


def test_each_mode_shows_its_own_vip() -> None:
    titles = {n: [p["title"] for p in board(n)["panels"]] for n in NAMES}
    assert any("HAProxy backend states" in t for t in titles["keepalived-haproxy"])
    assert any("holder over time" in t for t in titles["keepalived-haproxy"])
    assert any("Lease plndr-cp-lock holder" in t for t in titles["kube-vip"])
    assert not any("VIP" in t or "HAProxy" in t for t in titles["external-lb"])
    for t in titles.values():
        assert any("Days to each served certificate" in x for x in t)
        assert any(x.startswith("Datastore: control-plane nodes Ready") for x in t)
    assert dashboard.SCHEMA_VERSION >= 36
