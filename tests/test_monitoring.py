"""Monitoring artifacts, checked by their real consumers: promtool (rules, configuration and a unit
test per alert that makes it fire and one that keeps it quiet), the blackbox exporter, and the
Prometheus Operator's CRD schemas (tests/fixtures/prometheus-operator, operator v0.77.1)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import yaml

from artifacts import compiled
from conftest import DNS1123_SUBDOMAIN, EXAMPLES, REPO
from hacc.compiler.model import APISERVER_PORT, KEEPALIVED_HAPROXY, KUBE_VIP, Cluster
from hacc.targets import monitoring
from realtools import run, tool

CRDS = REPO / "tests" / "fixtures" / "prometheus-operator"
NAMES = [p.stem for p in EXAMPLES]


def files(name: str) -> dict[str, str]:
    return {a.path: a.content for a in compiled(name)[1]}


def crd_schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for path in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        version = next(v for v in crd["spec"]["versions"] if v["name"] in ("v1", "v1alpha1"))
        out[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return out


def operator_objects(name: str) -> list[dict[str, Any]]:
    """The Prometheus Operator's objects in manifests/monitoring/ (not the dashboard's ConfigMap)."""
    docs = []
    for path, text in files(name).items():
        if path.startswith("manifests/monitoring/") and not path.endswith("kustomization.yaml"):
            docs += [d for d in yaml.safe_load_all(text) if d and d["kind"] != "ConfigMap"]
    return docs


def crd_problems(doc: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> list[str]:
    schema = schemas[doc["kind"]]
    validator = jsonschema.Draft4Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


# -- Prometheus Operator objects -------------------------------------------------------------


def test_the_crd_schemas_are_the_operators() -> None:
    assert set(crd_schemas()) == {"PrometheusRule", "ServiceMonitor", "Probe", "ScrapeConfig"}


@pytest.mark.parametrize("name", NAMES)
def test_operator_objects_match_the_crds(name) -> None:
    schemas = crd_schemas()
    docs = operator_objects(name)
    kinds = {d["kind"] for d in docs}
    assert {"PrometheusRule", "Probe"} <= kinds
    cluster = compiled(name)[0]
    # external mode scrapes only the node exporter (the backups' metrics), and only with backups
    assert ("ScrapeConfig" in kinds) == (cluster.mode != "external" or bool(cluster.backups))
    for doc in docs:
        assert doc["apiVersion"].startswith("monitoring.coreos.com/"), doc["kind"]
        assert crd_problems(doc, schemas) == [], doc["metadata"]["name"]


# What Argo CD 3.x leaves out of every Application's desired state (argo-cd
# manifests/base/config/argocd-cm.yaml, `resource.exclusions`, v3.0.0 and later).
ARGOCD_EXCLUDED = {
    ("", "Endpoints"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("coordination.k8s.io", "Lease"),
}


@pytest.mark.parametrize("name", NAMES)
def test_nothing_argo_cd_excludes_is_in_the_manifests(name) -> None:
    """Every scrape target reaches Prometheus through objects Argo CD applies: a kind on its
    default exclusion list would silently never exist."""
    for path, text in files(name).items():
        if not path.startswith("manifests/"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                group = doc["apiVersion"].rpartition("/")[0]
                assert (group, doc["kind"]) not in ARGOCD_EXCLUDED, (path, doc["kind"])


def test_scrape_configs_reach_every_node_with_its_name() -> None:
    cluster = compiled("keepalived-haproxy")[0]
    scrape = [d for d in operator_objects("keepalived-haproxy") if d["kind"] == "ScrapeConfig"]
    assert [d["spec"]["jobName"] for d in scrape] == [monitoring.HAPROXY_JOB, monitoring.NODE_JOB]
    plain = {j["job_name"]: j for j in monitoring.scrape_configs(cluster)}
    for d in scrape:
        own = plain[f"{d['spec']['jobName']}-{cluster.name}"]
        assert d["spec"]["staticConfigs"] == own["static_configs"]  # one set of targets
    node = next(d for d in scrape if d["spec"]["jobName"] == monitoring.NODE_JOB)
    assert node["spec"]["metricRelabelings"] == [
        {"sourceLabels": ["__name__"], "regex": "hacc_.*", "action": "keep"}
    ]


@pytest.mark.parametrize("name", NAMES)
def test_every_object_name_and_label_is_valid(name) -> None:
    for doc in operator_objects(name):
        meta = doc["metadata"]
        assert DNS1123_SUBDOMAIN.match(meta["name"]) and len(meta["name"]) <= 253
        assert meta["namespace"] == "observability"
        assert meta["labels"]["release"] == "kube-prom-stack"  # the addon's Prometheus selects it


def test_the_crd_harness_rejects_a_broken_object() -> None:
    schemas = crd_schemas()
    rule = next(d for d in operator_objects("keepalived-haproxy") if d["kind"] == "PrometheusRule")
    broken = {**rule, "spec": {"groups": [{"name": "x", "rules": [{"alert": 1, "expr": []}]}]}}
    assert crd_problems(broken, schemas)
    probe = next(d for d in operator_objects("keepalived-haproxy") if d["kind"] == "Probe")
    assert crd_problems({**probe, "spec": {**probe["spec"], "jobName": 7}}, schemas)


@pytest.mark.parametrize("name", NAMES)
def test_plain_rules_and_prometheusrule_agree(name) -> None:
    rule = next(d for d in operator_objects(name) if d["kind"] == "PrometheusRule")
    plain = yaml.safe_load(files(name)["monitoring/rules.yaml"])
    assert rule["spec"] == plain


# -- promtool and the blackbox exporter --------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_promtool_accepts_rules_and_scrape_configs(name, tmp_path) -> None:
    out = files(name)
    rules = tmp_path / "rules.yaml"
    rules.write_text(out["monitoring/rules.yaml"])
    r = run(tool("promtool"), "check", "rules", str(rules))
    assert r.returncode == 0, r.stdout + r.stderr
    config = {
        "rule_files": [str(rules)],
        **yaml.safe_load(out["monitoring/scrape-configs.yaml"]),
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    r = run(tool("promtool"), "check", "config", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    blackbox = tmp_path / "blackbox.yml"
    blackbox.write_text(out["monitoring/blackbox.yaml"])
    r = run(tool("prometheus-blackbox-exporter"), f"--config.file={blackbox}", "--config.check")
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_rejects_a_broken_rule(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("groups:\n- name: x\n  rules:\n  - alert: X\n    expr: sum(\n")
    assert run(tool("promtool"), "check", "rules", str(path)).returncode != 0


# -- promtool unit tests: every alert fires on its fault and stays quiet without it -----------

STEP = 15  # seconds between samples
SAMPLES = 81  # 20 minutes
EVAL = "20m"
NOW = (SAMPLES - 1) * STEP


def _series(labels: dict[str, str], name: str) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def healthy(c: Cluster) -> dict[str, list[float | None]]:
    """Every series hacc's rules read, as a healthy cluster reports them."""
    base = {"hacc_cluster": c.name}
    flat = lambda v: [float(v)] * SAMPLES  # noqa: E731
    out: dict[str, list[float | None]] = {}
    for job, url, labels in monitoring.probe_targets(c):
        lab = {**base, "job": job, "instance": url, **labels}
        out[_series(lab, "probe_success")] = flat(1)
        out[_series(lab, "up")] = flat(1)
        out[_series(lab, "probe_ssl_earliest_cert_expiry")] = flat(NOW + 365 * 86400)
    for n in c.control_plane:
        lab = {"condition": "Ready", "status": "true", "node": n.name}
        out[_series(lab, "kube_node_status_condition")] = flat(1)
    if c.mode == KEEPALIVED_HAPROXY:
        for n in c.control_plane:
            hp = {**base, "job": monitoring.HAPROXY_JOB, "node": n.name}
            out[_series(hp, "up")] = flat(1)
            be = {**hp, "proxy": "kube_apiserver"}
            out[_series(be, "haproxy_backend_active_servers")] = flat(len(c.control_plane))
            for s in c.control_plane:
                for state in ("UP", "DOWN"):
                    lab = {**be, "server": s.name, "state": state}
                    out[_series(lab, "haproxy_server_status")] = flat(state == "UP")
            out[_series({**base, "job": monitoring.NODE_JOB, "node": n.name}, "up")] = flat(1)
            ka = {**base, "job": monitoring.NODE_JOB, "node": n.name, "vrrp_instance": "VI_X"}
            for state in ("MASTER", "BACKUP", "FAULT", "STOP"):
                holder = n == c.first
                value = holder if state == "MASTER" else (not holder and state == "BACKUP")
                out[_series({**ka, "state": state}, monitoring.STATE_METRIC)] = flat(value)
    if c.backups is not None:  # each control-plane node backed up an hour ago
        for n in c.control_plane:
            lab = {**base, "job": monitoring.NODE_JOB, "node": n.name}
            out[_series(lab, "hacc_backup_last_run_success")] = flat(1)
            out.setdefault(_series(lab, "up"), flat(1))  # the node exporter answers
            out[_series(lab, "hacc_backup_last_success_timestamp_seconds")] = flat(NOW - 3600)
    if c.mode == KUBE_VIP:
        for n in c.control_plane:
            out[_series({**base, "job": monitoring.KUBE_VIP_JOB, "node": n.name}, "up")] = flat(1)
        out[_series({"lease": monitoring.LEASE}, "kube_lease_renew_time")] = [
            float(i * STEP) for i in range(SAMPLES)
        ]
    return out


def _set(series: dict[str, list[float | None]], name: str, value: Any, **match: str) -> None:
    hits = [
        k
        for k in series
        if k.startswith(name + "{") and all(f'{m}="{v}"' in k for m, v in match.items())
    ]
    assert hits, (name, match)
    for k in hits:
        series[k] = list(value) if isinstance(value, list) else [float(value)] * SAMPLES


def _flips(count: int) -> tuple[list[float], list[float]]:
    """cp1 and cp2 trading MASTER `count` times, 30 s apart, in the last five minutes."""
    a = [1.0] * SAMPLES
    holder = 1.0
    for i in range(SAMPLES - 20, SAMPLES):
        if (i - (SAMPLES - 20)) % 2 == 0 and (i - (SAMPLES - 20)) // 2 < count:
            holder = 1.0 - holder
        a[i] = holder
    return a, [1.0 - x for x in a]


def fault(c: Cluster, alert: str, fire: bool) -> tuple[dict[str, list[float | None]], list[dict]]:
    """The series with the alert's fault (or a near miss when `fire` is false), and the alerts
    promtool must then see: (labels, annotation values) of each."""
    s = healthy(c)
    a = c.monitoring.alerts
    second = c.control_plane[1].name
    first = c.first.name
    expected: list[dict[str, str]] = []
    if alert == "HaccEndpointDown":
        _set(s, "probe_success", 0 if fire else 1, target="endpoint")
        if not fire:  # a single failed probe is not an outage
            s[next(k for k in s if k.startswith("probe_success") and "endpoint" in k)][-2] = 0.0
        expected = [{"job": monitoring.ENDPOINT_JOB, "target": "endpoint"}]
    elif alert == "HaccApiserverDown":
        _set(s, "probe_success", 0 if fire else 1, target=second)
        if c.mode == KEEPALIVED_HAPROXY and fire:
            _set(s, "haproxy_server_status", 0, server=second, state="UP")
            _set(s, "haproxy_server_status", 1, server=second, state="DOWN")
        expected = [{"job": monitoring.APISERVER_JOB, "target": second, "node": second}]
    elif alert == "HaccAllApiserversDown":
        for n in c.control_plane if fire else c.control_plane[1:]:
            _set(s, "probe_success", 0, target=n.name)
        expected = [{}]
    elif alert == "HaccProbesFailing":
        # the exporter stops answering: the scrape fails and probe_success is gone
        _set(s, "up", 0 if fire else 1, target=second)
        if fire:
            _set(s, "probe_success", [None] * SAMPLES, target=second)
        else:  # one failed scrape is not an outage
            s[next(k for k in s if k.startswith("up{") and f'target="{second}"' in k)][-2] = 0.0
        expected = [{"job": monitoring.APISERVER_JOB, "target": second, "node": second}]
    elif alert == "HaccHAProxyDown":
        _set(s, "up", 0 if fire else 1, job=monitoring.HAPROXY_JOB, node=second)
        expected = [{"job": monitoring.HAPROXY_JOB, "node": second}]
    elif alert == "HaccKubeVipDown":
        _set(s, "up", 0 if fire else 1, job=monitoring.KUBE_VIP_JOB, node=second)
        expected = [{"job": monitoring.KUBE_VIP_JOB, "node": second}]
    elif alert == "HaccVIPNotHeld":
        if c.mode == KEEPALIVED_HAPROXY:
            _set(s, monitoring.STATE_METRIC, 0 if fire else 1, node=first, state="MASTER")
        else:  # renewals stop 5 minutes before the end, or continue
            renew = [float(min(i, SAMPLES - 21 if fire else i) * STEP) for i in range(SAMPLES)]
            _set(s, "kube_lease_renew_time", renew)
        expected = [{}]
    elif alert == "HaccVIPSplitBrain":
        _set(s, monitoring.STATE_METRIC, 1 if fire else 0, node=second, state="MASTER")
        expected = [{}]
    elif alert == "HaccVIPFlapping":
        moves = a.flap_changes if fire else a.flap_changes - 1
        one, two = _flips(moves)
        _set(s, monitoring.STATE_METRIC, one, node=first, state="MASTER")
        _set(s, monitoring.STATE_METRIC, two, node=second, state="MASTER")
        expected = [{}]
    elif alert.startswith("HaccCertificate"):
        days = a.cert_warning_days if alert.endswith("Soon") else a.cert_critical_days
        left = days - 1 if fire else days + 1
        _set(s, "probe_ssl_earliest_cert_expiry", NOW + left * 86400, target=second)
        expected = [{"job": monitoring.APISERVER_JOB, "target": second, "node": second}]
    elif alert == "HaccControlPlaneQuorumAtRisk":
        down = len(c.control_plane) - monitoring.majority(c) + (1 if fire else 0)
        for n in c.control_plane[:down]:
            _set(s, "kube_node_status_condition", 0, node=n.name)
        expected = [{}]
    elif alert == "HaccBackupFailed":
        _set(s, "hacc_backup_last_run_success", 0 if fire else 1, node=second)
        expected = [{"job": monitoring.NODE_JOB, "node": second}]
    elif alert == "HaccBackupTooOld":
        assert c.backups is not None
        hours = c.backups.max_age_hours + (1 if fire else -1)
        _set(s, "hacc_backup_last_success_timestamp_seconds", NOW - hours * 3600, node=second)
        expected = [{"job": monitoring.NODE_JOB, "node": second}]
    elif alert == "HaccTargetsMissing":
        # the Probe is not applied: no target of the job at all (a near miss: one target left)
        gone = c.control_plane if fire else c.control_plane[1:]
        for n in gone:
            for name in ("up", "probe_success", "probe_ssl_earliest_cert_expiry"):
                _set(s, name, [None] * SAMPLES, job=monitoring.APISERVER_JOB, target=n.name)
        expected = [{EXACT: "", "job": monitoring.APISERVER_JOB, "hacc_cluster": c.name}]
    elif alert == "HaccKubeStateMetricsMissing":
        gone = c.control_plane if fire else c.control_plane[1:]
        for n in gone:
            _set(s, "kube_node_status_condition", [None] * SAMPLES, node=n.name)
        expected = [{EXACT: "", "condition": "Ready", "status": "true"}]
    elif alert == "HaccKeepalivedStateMissing":
        # the node exporter on cp2 is gone (a near miss: one of its four series is)
        _set(
            s,
            monitoring.STATE_METRIC,
            [None] * SAMPLES,
            node=second,
            **({} if fire else {"state": "STOP"}),
        )
        expected = [{EXACT: "", "job": monitoring.NODE_JOB, "hacc_cluster": c.name, "node": second}]
    elif alert == "HaccKeepalivedFault":
        # cp2's HAProxy check fails: BACKUP -> FAULT (a near miss: for one sample only)
        at = 0 if fire else SAMPLES - 1
        fault_ = [float(i >= at) for i in range(SAMPLES)]
        _set(s, monitoring.STATE_METRIC, fault_, node=second, state="FAULT")
        _set(s, monitoring.STATE_METRIC, [1.0 - x for x in fault_], node=second, state="BACKUP")
        expected = [{EXACT: "", "node": second, "state": "FAULT"}]
    else:
        raise AssertionError(f"no unit test for {alert}")
    return s, expected if fire else []


EXACT = "__exact__"


def _values(values: list[float | None]) -> str:
    return " ".join("_" if v is None else f"{v:g}" for v in values)


def _expected_alert(rule: dict[str, Any], labels: dict[str, str], c: Cluster, s) -> dict:
    """The alert promtool must report: series labels after the rule's aggregation, the rule's
    labels, and its annotations with the templates filled in as Prometheus would."""
    full = {**labels}
    if EXACT in labels:  # an absent() or an aggregation: these labels and no others
        full.pop(EXACT)
    elif labels:
        full["hacc_cluster"] = c.name
        key = next(
            k
            for k in s
            if all(f'{m}="{v}"' in k for m, v in labels.items()) and k.split("{")[0] in rule["expr"]
        )
        full = dict(re.findall(r'(\w+)="([^"]*)"', key.split("{", 1)[1]))
    out_labels = {**full, **rule["labels"]}
    value = _alert_value(rule["alert"], c, s)

    def fill(text: str) -> str:
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: full.get(m.group(1), ""), text)
        text = text.replace("{{ $value | humanizeDuration }}", _humanize_duration(value))
        return text.replace("{{ $value }}", f"{value:g}")

    return {
        "exp_labels": out_labels,
        "exp_annotations": {k: fill(v) for k, v in rule["annotations"].items()},
    }


def _alert_value(alert: str, c: Cluster, s) -> float:
    if alert == "HaccVIPSplitBrain":
        return 2.0
    if alert == "HaccVIPFlapping":
        return float(c.monitoring.alerts.flap_changes)
    if alert.startswith("HaccCertificate"):
        days = c.monitoring.alerts
        d = days.cert_warning_days if alert.endswith("Soon") else days.cert_critical_days
        return float((d - 1) * 86400)
    if alert == "HaccBackupTooOld":
        assert c.backups is not None
        return float((c.backups.max_age_hours + 1) * 3600)
    return 0.0


def _humanize_duration(seconds: float) -> str:
    """Prometheus's humanizeDuration for whole seconds of a day or more."""
    s = int(seconds)
    return f"{s // 86400}d {s % 86400 // 3600}h {s % 3600 // 60}m {s % 60}s"


def unit_test(c: Cluster, rule: dict[str, Any], fire: bool) -> dict[str, Any]:
    series, expected = fault(c, rule["alert"], fire)
    return {
        "interval": f"{STEP}s",
        "input_series": [{"series": k, "values": _values(v)} for k, v in sorted(series.items())],
        "alert_rule_test": [
            {
                "eval_time": EVAL,
                "alertname": rule["alert"],
                "exp_alerts": [_expected_alert(rule, e, c, series) for e in expected],
            }
        ],
    }


def cases() -> list[tuple[str, str]]:
    out = []
    for name in NAMES:
        for rule in monitoring.alert_rules(compiled(name)[0]):
            out.append((name, rule["alert"]))
    return out


@pytest.mark.parametrize(("name", "alert"), cases(), ids=[f"{n}:{a}" for n, a in cases()])
def test_each_alert_fires_on_its_fault_and_only_then(name, alert, tmp_path) -> None:
    cluster = compiled(name)[0]
    rules = tmp_path / "rules.yaml"
    rules.write_text(files(name)["monitoring/rules.yaml"])
    rule = next(r for r in monitoring.alert_rules(cluster) if r["alert"] == alert)
    for fire in (True, False):
        spec = {
            "rule_files": [str(rules)],
            "evaluation_interval": f"{STEP}s",
            "tests": [unit_test(cluster, rule, fire)],
        }
        path = tmp_path / f"test-{fire}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        r = run(tool("promtool"), "test", "rules", str(path))
        assert r.returncode == 0, f"fire={fire}\n{r.stdout}{r.stderr}"
        assert "SUCCESS" in r.stdout


def test_promtool_unit_tests_can_fail(tmp_path) -> None:
    """The harness is honest: expecting a quiet alert while its fault is present fails."""
    cluster = compiled("keepalived-haproxy")[0]
    rules = tmp_path / "rules.yaml"
    rules.write_text(files("keepalived-haproxy")["monitoring/rules.yaml"])
    rule = next(r for r in monitoring.alert_rules(cluster) if r["alert"] == "HaccApiserverDown")
    test = unit_test(cluster, rule, True)
    test["alert_rule_test"][0]["exp_alerts"] = []
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [str(rules)], "tests": [test]}))
    assert run(tool("promtool"), "test", "rules", str(path)).returncode != 0


def test_every_mode_has_the_alerts_the_runbook_explains() -> None:
    for name in NAMES:
        cluster, artifacts = compiled(name)
        runbook = next(a.content for a in artifacts if a.path == "RUNBOOK.md")
        for rule in monitoring.alert_rules(cluster):
            assert f"### {rule['alert']}" in runbook, (name, rule["alert"])
            anchor = rule["annotations"]["runbook_url"].split("#")[1]
            assert anchor == rule["alert"].lower()
            assert rule["labels"]["severity"] in ("warning", "critical")
        alerts = {r["alert"] for r in monitoring.alert_rules(cluster)}
        assert {"HaccEndpointDown", "HaccApiserverDown", "HaccAllApiserversDown"} <= alerts
        assert {"HaccCertificateExpiresSoon", "HaccCertificateExpiryCritical"} <= alerts
        explained = runbook.split("The alerts, what each means", 1)[1].split("\n## ", 1)[0]
        if cluster.mode != KEEPALIVED_HAPROXY:  # no HAProxy to blame
            assert "HAProxy" not in explained, name
        assert "HaccControlPlaneQuorumAtRisk" in alerts
        if cluster.mode == KEEPALIVED_HAPROXY:
            assert {"HaccVIPNotHeld", "HaccVIPSplitBrain", "HaccVIPFlapping"} <= alerts
        if cluster.mode == KUBE_VIP:
            assert {"HaccVIPNotHeld", "HaccKubeVipDown"} <= alerts


def test_haproxy_metrics_are_read_only_and_allow_listed() -> None:
    cluster = compiled("keepalived-haproxy")[0]
    cfg = files("keepalived-haproxy")["nodes/cp1/haproxy.cfg"]
    metrics = cfg.split("frontend metrics", 1)[1]
    assert f"bind {cluster.first.address}:{cluster.monitoring.haproxy_metrics_port}" in metrics
    assert "acl scraper src " + " ".join(cluster.monitoring.scrape_from) in metrics
    assert "stats enable" not in metrics and "level admin" not in metrics
    assert metrics.rstrip().endswith("http-request deny")
    assert cluster.monitoring.haproxy_metrics_port != APISERVER_PORT


def test_monitoring_can_be_turned_off(tmp_path) -> None:
    from hacc.compiler.frontend import analyze
    from hacc.targets import render_cluster

    spec = tmp_path / "spec.yaml"
    text = (REPO / "examples" / "keepalived-haproxy.yaml").read_text()
    spec.write_text(text + "  monitoring:\n    enabled: false\n")
    cluster = analyze(spec).cluster
    assert cluster is not None
    paths = {a.path: a.content for a in render_cluster(cluster)}
    assert not [p for p in paths if "monitoring" in p or p.endswith("keepalived-notify.sh")]
    assert "frontend metrics" not in paths["nodes/cp1/haproxy.cfg"]
    assert "notify" not in paths["nodes/cp1/keepalived.conf"]
    assert "monitoring" not in paths["manifests/kustomization.yaml"]


def test_alert_thresholds_follow_the_profile_and_the_spec(tmp_path) -> None:
    from hacc.compiler.frontend import analyze

    text = (REPO / "examples" / "keepalived-haproxy.yaml").read_text()
    spec = tmp_path / "spec.yaml"
    spec.write_text(text.replace("profile: default", "profile: fast"))
    fast = analyze(spec).cluster
    assert fast is not None and fast.monitoring.alerts.vip_for == "10s"
    spec.write_text(
        text
        + "  monitoring:\n    alerts: {vipFor: 5s, certWarningDays: 45}\n"
        + "    runbookURL: https://git.example.com/clusters/edge/RUNBOOK.md\n"
    )
    custom = analyze(spec).cluster
    assert custom is not None
    rules = {r["alert"]: r for r in monitoring.alert_rules(custom)}
    assert rules["HaccVIPNotHeld"]["for"] == "5s"
    assert "< 45 * 86400" in rules["HaccCertificateExpiresSoon"]["expr"]
    assert rules["HaccEndpointDown"]["for"] == "1m"  # the default profile's
    url = rules["HaccVIPSplitBrain"]["annotations"]["runbook_url"]
    assert url == "https://git.example.com/clusters/edge/RUNBOOK.md#haccvipsplitbrain"


def test_the_notify_script_writes_the_state_metric(tmp_path) -> None:
    """The notify script as keepalived runs it, in a scratch textfile directory."""
    script = files("keepalived-haproxy")["nodes/cp1/keepalived-notify.sh"]
    path = tmp_path / "notify.sh"
    path.write_text(script.replace(monitoring.TEXTFILE_DIR, str(tmp_path / "textfile")))
    for state in ("BACKUP", "MASTER"):
        r = run("sh", str(path), "INSTANCE", "VI_EDGE", state, "150")
        assert r.returncode == 0, r.stderr
    text = (tmp_path / "textfile" / f"{monitoring.STATE_METRIC}.prom").read_text()
    assert f'{monitoring.STATE_METRIC}{{vrrp_instance="VI_EDGE",state="MASTER"}} 1' in text
    assert f'{monitoring.STATE_METRIC}{{vrrp_instance="VI_EDGE",state="BACKUP"}} 0' in text
    assert list((tmp_path / "textfile").iterdir()) == [
        tmp_path / "textfile" / f"{monitoring.STATE_METRIC}.prom"
    ]
    r = run(tool("promtool"), "check", "metrics", input=text)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_haproxy_metrics_answer_only_the_allowed_networks(tmp_path) -> None:
    """The generated metrics frontend in a real HAProxy: /metrics to an allowed source, 403 to
    any other source and for any other path (the stats page never leaves loopback)."""
    import os
    import subprocess
    import time

    from hacc.compiler.frontend import analyze
    from hacc.targets.haproxy import conf
    from labspec import lab_spec
    from realtools import netns, require_root

    require_root()
    spec = lab_spec(tmp_path, {"scrapeFrom": ["198.18.0.99/32"]})
    cluster = analyze(spec).cluster
    assert cluster is not None
    node = cluster.first
    cfg = tmp_path / "haproxy.cfg"
    text = conf(cluster, node).replace("/run/haproxy/admin.sock", str(tmp_path / "admin.sock"))
    cfg.write_text(text)
    ip = tool("ip")
    with netns(f"hm{os.getpid()}", ["eth0"]) as ns:
        for address in (node.address, "198.18.0.99"):
            subprocess.run(
                [ip, "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0"], check=True
            )
        subprocess.run([ip, "-n", ns, "link", "set", "lo", "up"], check=True)
        proc = subprocess.Popen(
            [ip, "netns", "exec", ns, tool("haproxy"), "-db", "-f", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://{node.address}:{cluster.monitoring.haproxy_metrics_port}"

            def get(source: str, path: str) -> tuple[str, str]:
                r = run(
                    ip, "netns", "exec", ns, tool("curl"), "-s", "--max-time", "2",
                    "--interface", source, "-w", "\n%{http_code}", url + path,
                )  # fmt: skip
                body, _, code = r.stdout.rpartition("\n")
                return code, body

            for _ in range(50):  # HAProxy starting: at most 5 s
                if get("198.18.0.99", "/metrics")[0] == "200":
                    break
                time.sleep(0.1)
            code, body = get("198.18.0.99", "/metrics")
            assert (
                code == "200" and 'haproxy_backend_active_servers{proxy="kube_apiserver"}' in body
            )
            assert get(node.address, "/metrics")[0] == "403"  # not in scrapeFrom
            assert get("198.18.0.99", "/stats")[0] == "403"
            assert get("198.18.0.99", "/")[0] == "403"
        finally:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("name", "alert"),
    [("keepalived-haproxy", "HaccControlPlaneQuorumAtRisk"), ("kube-vip", "HaccVIPNotHeld")],
)
def test_kube_state_metrics_of_another_cluster_do_not_hide_a_fault(name, alert, tmp_path) -> None:
    """One Prometheus, two clusters with the same node names, told apart by an external label
    `cluster`: with `clusterMatchers`, this cluster's fault fires although the other is healthy
    (summed together, the other's Ready nodes or fresh Lease would hide it)."""
    from hacc.compiler.frontend import analyze

    text = (REPO / "examples" / f"{name}.yaml").read_text()
    spec = tmp_path / "spec.yaml"
    spec.write_text(text + "  monitoring:\n    clusterMatchers: {cluster: here}\n")
    cluster = analyze(spec).cluster
    assert cluster is not None and cluster.monitoring.cluster_matchers == (("cluster", "here"),)
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": monitoring.rule_groups(cluster)}))
    rule = next(r for r in monitoring.alert_rules(cluster) if r["alert"] == alert)
    assert 'cluster="here"' in rule["expr"]
    ksm = ("kube_node_status_condition{", "kube_lease_renew_time{")
    faulty, _ = fault(cluster, alert, True)
    well, _ = fault(cluster, alert, False)
    series = {k: v for k, v in faulty.items() if not k.startswith(ksm)}
    for k, v in faulty.items():
        if k.startswith(ksm):
            series[k.replace("{", '{cluster="here",', 1)] = v
    for k, v in well.items():
        if k.startswith(ksm):
            series[k.replace("{", '{cluster="there",', 1)] = v
    test = {
        "interval": f"{STEP}s",
        "input_series": [{"series": k, "values": _values(v)} for k, v in sorted(series.items())],
        "alert_rule_test": [
            {
                "eval_time": EVAL,
                "alertname": alert,
                "exp_alerts": [_expected_alert(rule, {}, cluster, series)],
            }
        ],
    }
    path = tmp_path / "test.yaml"
    path.write_text(
        yaml.safe_dump(
            {"rule_files": [str(rules)], "evaluation_interval": f"{STEP}s", "tests": [test]},
            sort_keys=False,
        )
    )
    r = run(tool("promtool"), "test", "rules", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    # without the matchers (the rules hacc wrote before), the other cluster hides the fault
    unscoped = cluster._replace(monitoring=cluster.monitoring._replace(cluster_matchers=()))
    rules.write_text(yaml.safe_dump({"groups": monitoring.rule_groups(unscoped)}))
    assert run(tool("promtool"), "test", "rules", str(path)).returncode != 0


def test_runbook_urls_open_from_a_chat_and_each_prometheus_has_its_exporter() -> None:
    """Alertmanager, Slack and PagerDuty need an absolute runbook_url: the runbook's page in
    the GitOps repository. The Probe objects' exporter is the cluster's, the plain files' is the
    one beside your Prometheus (127.0.0.1 in a pod would be the Prometheus pod itself)."""
    cluster = compiled("keepalived-haproxy")[0]
    assert cluster.gitops is not None
    url = monitoring.runbook_url(cluster, "HaccVIPNotHeld")
    assert url == (
        "https://git.example.com/platform/clusters/blob/main/clusters/edge-paris-01/RUNBOOK.md"
        "#haccvipnotheld"
    ), url
    assert monitoring.runbook_url(cluster._replace(gitops=None), "HaccX") == (
        "edge-paris-01/RUNBOOK.md#haccx"
    )
    probes = [d for d in operator_objects("keepalived-haproxy") if d["kind"] == "Probe"]
    assert {p["spec"]["prober"]["url"] for p in probes} == {
        "prometheus-blackbox-exporter.observability.svc:9115"
    }
    plain = yaml.safe_load(files("keepalived-haproxy")["monitoring/scrape-configs.yaml"])
    addresses = {
        r["replacement"]
        for job in plain["scrape_configs"]
        for r in job.get("relabel_configs", [])
        if r.get("target_label") == "__address__"
    }
    assert addresses == {"127.0.0.1:9115"}
