"""Monitoring of the endpoint, the load balancer and the apiservers behind it.

Two ways in, with the same alert rules:
- `manifests/monitoring/`: Prometheus Operator objects (the MicroK8s `observability` addon),
  reconciled by Argo CD / Flux with the rest of `manifests/`;
- `monitoring/`: a rules file, scrape configurations and blackbox-exporter modules for a
  Prometheus of your own.

What is watched, and how it leaves the nodes:
- the endpoint and each apiserver: HTTPS `GET /readyz` through a blackbox exporter (anonymous
  health checks answer 200 on MicroK8s's defaults; reference/microk8s.md "Anonymous auth"), which
  also reports each served certificate's expiry;
- HAProxy (keepalived-haproxy mode): its built-in exporter, served read-only (`/metrics` only)
  on the node's own address to the `scrapeFrom` networks alone; the stats page stays on loopback;
- keepalived (keepalived-haproxy mode): it has no exporter, so its notify script writes the VRRP
  state into the node exporter's textfile directory;
- kube-vip: its own metrics on :2112, and the leader Lease through kube-state-metrics;
- control-plane quorum: kube-state-metrics' node conditions, and the apiservers answering.
Every series carries `hacc_cluster`, so one Prometheus can watch a fleet.
"""

from __future__ import annotations

import re
from typing import Any

from hacc.compiler.model import APISERVER_PORT, KEEPALIVED_HAPROXY, KUBE_VIP, Cluster
from hacc.targets.artifact import MANIFEST, MONITORING, Artifact
from hacc.targets.base import dump_yaml, header
from hacc.targets.gitops import browse_url

# Debian's and Ubuntu's prometheus-node-exporter read this directory (its
# `--collector.textfile.directory` default there).
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
STATE_METRIC = "hacc_keepalived_vrrp_state"
MODULE = "hacc_readyz"
KUBE_VIP_METRICS_PORT = 2112  # targets/kube_vip.py sets prometheus_server to :2112
LEASE = "plndr-cp-lock"
DASHBOARD_FILE = "grafana-dashboard.yaml"

# What a probe that cannot run silences (keepalived-haproxy: HAProxy's view of the apiservers
# still feeds their alerts).
PROBE_ALERTS = {
    False: "HaccEndpointDown, HaccApiserverDown, HaccAllApiserversDown, the certificate alerts "
    "and the /readyz half of HaccControlPlaneQuorumAtRisk",
    True: "HaccEndpointDown, the certificate alerts and the /readyz half of "
    "HaccControlPlaneQuorumAtRisk (HAProxy's view still feeds HaccApiserverDown and "
    "HaccAllApiserversDown)",
}
ENDPOINT_JOB = "hacc-endpoint"
APISERVER_JOB = "hacc-apiserver"
HAPROXY_JOB = "hacc-haproxy"
NODE_JOB = "hacc-node"
KUBE_VIP_JOB = "hacc-kube-vip"
# The node exporter is scraped for hacc's own series only: the rest is the node's, not hacc's.
KEEP_HACC = {"source_labels": ["__name__"], "regex": "hacc_.*", "action": "keep"}


def applies(cluster: Cluster) -> bool:
    return cluster.monitoring.enabled


def majority(cluster: Cluster) -> int:
    return len(cluster.control_plane) // 2 + 1


def endpoint_url(cluster: Cluster) -> str:
    ep = cluster.endpoint
    return f"https://{ep.dns_name or ep.address}:{ep.port}/readyz"


def runbook_url(cluster: Cluster, alert: str) -> str:
    """An address Slack, PagerDuty and Alertmanager's UI can open: the runbook in the GitOps
    repository when there is one."""
    base = cluster.monitoring.runbook_url
    if base is None and cluster.gitops is not None:
        base = browse_url(cluster.gitops, cluster.gitops.under(cluster.name, "RUNBOOK.md"))
    return f"{base or f'{cluster.name}/RUNBOOK.md'}#{alert.lower()}"


# -- the alert rules ---------------------------------------------------------------------------


def _sel(cluster: Cluster, job: str, **labels: str) -> str:
    pairs = [f'job="{job}"', f'hacc_cluster="{cluster.name}"']
    pairs += [f'{k}="{v}"' for k, v in labels.items()]
    return "{" + ",".join(pairs) + "}"


def _ksm(cluster: Cluster, *matchers: str, **labels: str) -> str:
    """A selector of this cluster's kube-state-metrics series: they carry no `hacc_cluster`, so
    `spec.monitoring.clusterMatchers` tells them from another cluster's in a shared Prometheus."""
    pairs = [f'{k}="{v}"' for k, v in labels.items()] + list(matchers)
    pairs += [f'{k}="{v}"' for k, v in cluster.monitoring.cluster_matchers]
    return "{" + ",".join(pairs) + "}"


def _node_regex(cluster: Cluster) -> str:
    return "|".join(n.name for n in cluster.control_plane)


def _rule(
    cluster: Cluster,
    name: str,
    expr: str,
    *,
    severity: str,
    summary: str,
    description: str,
    for_: str | None = None,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_:
        rule["for"] = for_
    rule["labels"] = {"severity": severity, "hacc_cluster": cluster.name}
    rule["annotations"] = {
        "summary": summary,
        "description": description,
        "runbook_url": runbook_url(cluster, name),
    }
    return rule


def alert_rules(cluster: Cluster) -> list[dict[str, Any]]:
    """Every alert of this cluster, in the order the runbook explains them."""
    a = cluster.monitoring.alerts
    c = cluster
    apiservers = _sel(c, APISERVER_JOB)
    rules = [
        _rule(
            c,
            "HaccEndpointDown",
            f"probe_success{_sel(c, ENDPOINT_JOB)} == 0",
            severity="critical",
            summary=f"The API endpoint of {c.name} fails /readyz",
            description=f"{endpoint_url(c)} has failed for {a.endpoint_down_for}: clients and nodes "
            "that use the endpoint cannot reach the cluster.",
            for_=a.endpoint_down_for,
        )
    ]
    down = f"probe_success{apiservers} == 0"
    if c.mode == KEEPALIVED_HAPROXY:
        # Every HAProxy agreeing a backend is down also counts (the blackbox may be far away).
        backend = _sel(c, HAPROXY_JOB, proxy="kube_apiserver", state="UP")
        down += (
            f' or on (node) label_replace(max by (server) (haproxy_server_status{backend}) == 0, "node", '
            '"$1", "server", "(.+)")'
        )
    rules.append(
        _rule(
            c,
            "HaccApiserverDown",
            down,
            severity="warning",
            summary=f"An apiserver of {c.name} is down: {{{{ $labels.node }}}}",
            description=f"The apiserver on {{{{ $labels.node }}}} has failed /readyz on {APISERVER_PORT} for "
            f"{a.apiserver_down_for}; the endpoint still works while others answer.",
            for_=a.apiserver_down_for,
        )
    )
    every = f"max(probe_success{apiservers}) == 0"
    if c.mode == KEEPALIVED_HAPROXY:
        every += (
            " or max(haproxy_backend_active_servers"
            f"{_sel(c, HAPROXY_JOB, proxy='kube_apiserver')}) == 0"
        )
    rules.append(
        _rule(
            c,
            "HaccAllApiserversDown",
            every,
            severity="critical",
            summary=f"No apiserver of {c.name} answers",
            description=f"Every control-plane node has failed /readyz for {a.apiserver_down_for}.",
            for_=a.apiserver_down_for,
        )
    )
    # A probe that cannot run leaves no probe_success at all: the alerts above stay silent.
    probes = f'{{job=~"{ENDPOINT_JOB}|{APISERVER_JOB}",hacc_cluster="{c.name}"}}'  # every probe
    rules.append(
        _rule(
            c,
            "HaccProbesFailing",
            f"up{probes} == 0",
            severity="warning",
            summary=f"A probe of {c.name} gets no answer from the blackbox exporter: "
            "{{ $labels.target }}",
            description="The blackbox exporter (monitoring/: "
            f"{c.monitoring.blackbox_exporter}; the Probe objects: "
            f"{c.monitoring.cluster_blackbox_exporter}) has not "
            f"answered the probe of {{{{ $labels.target }}}} for {a.endpoint_down_for}: "
            f"{PROBE_ALERTS[c.mode == KEEPALIVED_HAPROXY]} cannot fire for it until it does.",
            for_=a.endpoint_down_for,
        )
    )
    if c.mode == KEEPALIVED_HAPROXY:
        state = _sel(c, NODE_JOB, state="MASTER")
        holders = f"sum({STATE_METRIC}{state})"
        rules += [
            _rule(
                c,
                "HaccHAProxyDown",
                f"up{_sel(c, HAPROXY_JOB)} == 0",
                severity="warning",
                summary=f"HAProxy of {c.name} does not answer on {{{{ $labels.node }}}}",
                description=f"HAProxy's metrics on {{{{ $labels.node }}}} have not answered for "
                f"{a.load_balancer_down_for}; keepalived moves the VIP away from a node whose "
                "HAProxy is down.",
                for_=a.load_balancer_down_for,
            ),
            _rule(
                c,
                "HaccVIPNotHeld",
                f"{holders} == 0",
                severity="critical",
                summary=f"No node of {c.name} holds the VIP {c.endpoint.address}",
                description=f"No keepalived reports MASTER for {a.vip_for}.",
                for_=a.vip_for,
            ),
            _rule(
                c,
                "HaccVIPSplitBrain",
                f"{holders} > 1",
                severity="critical",
                summary=f"More than one node of {c.name} holds the VIP {c.endpoint.address}",
                description=f"{{{{ $value }}}} keepalived instances report MASTER for {a.vip_for}: "
                "VRRP adverts are not getting through between them.",
                for_=a.vip_for,
            ),
            _rule(
                c,
                "HaccVIPFlapping",
                # each move is two changes: one node leaves MASTER, another enters it
                f"sum(changes({STATE_METRIC}{state}[{a.flap_window}])) / 2 >= {a.flap_changes}",
                severity="warning",
                summary=f"The VIP of {c.name} moves too often",
                description=f"The VIP changed holder about {{{{ $value }}}} times in {a.flap_window}.",
            ),
        ]
    elif c.mode == KUBE_VIP:
        # kube-state-metrics' kube_lease_renew_time carries the `lease` label only
        # (internal/store/lease.go). The Lease's transition count is not exported, so kube-vip
        # mode has no flapping alert.
        renew = _ksm(c, lease=LEASE)
        rules += [
            _rule(
                c,
                "HaccKubeVipDown",
                f"up{_sel(c, KUBE_VIP_JOB)} == 0",
                severity="warning",
                summary=f"kube-vip of {c.name} does not answer on {{{{ $labels.node }}}}",
                description=f"kube-vip's metrics on {{{{ $labels.node }}}} have not answered for "
                f"{a.load_balancer_down_for}.",
                for_=a.load_balancer_down_for,
            ),
            _rule(
                c,
                "HaccVIPNotHeld",
                f"time() - max(kube_lease_renew_time{renew}) > {_seconds(a.vip_for) + 30}",
                severity="critical",
                summary=f"No node of {c.name} renews the VIP lease",
                description=f"The Lease kube-system/{LEASE} has not been renewed for over "
                f"{_seconds(a.vip_for) + 30}s, so no kube-vip leads and the VIP may be on no node.",
            ),
        ]
    expiry = f"probe_ssl_earliest_cert_expiry{probes}"
    for name, days, severity in (
        ("HaccCertificateExpiresSoon", a.cert_warning_days, "warning"),
        ("HaccCertificateExpiryCritical", a.cert_critical_days, "critical"),
    ):
        rules.append(
            _rule(
                c,
                name,
                f"{expiry} - time() < {days} * 86400",
                severity=severity,
                summary=f"A certificate of {c.name} expires within {days} days: {{{{ $labels.target }}}}",
                description="The certificate served by {{ $labels.target }} expires in "
                "{{ $value | humanizeDuration }}; renew it (RUNBOOK.md section 6).",
            )
        )
    rules += backup_rules(c)
    names = f'node=~"{_node_regex(c)}"'
    ready = "kube_node_status_condition" + _ksm(c, names, condition="Ready", status="true")
    rules.append(
        _rule(
            c,
            "HaccControlPlaneQuorumAtRisk",
            f"sum({ready}) < {majority(c)} or sum(probe_success{apiservers}) < {majority(c)}",
            severity="critical",
            summary=f"Fewer than {majority(c)} control-plane nodes of {c.name} are up",
            description=f"Fewer than {majority(c)} of {len(c.control_plane)} control-plane nodes are Ready "
            f"or answer /readyz (for {a.quorum_for}): the datastore is at or past the edge "
            "of its quorum; do not take another control-plane node down.",
            for_=a.quorum_for,
        )
    )
    return rules + missing_series_rules(c)


def missing_series_rules(c: Cluster) -> list[dict[str, Any]]:
    """The alerts above compare series; with no series at all they stay silent. These fire when
    a scrape job has no target, kube-state-metrics is not scraped, a node's keepalived state is
    not published, or keepalived is in FAULT or STOP (a lost backup)."""
    a = c.monitoring.alerts
    jobs = [ENDPOINT_JOB, APISERVER_JOB] + [job for job, _ in scrape_targets(c)]
    rules = [
        _rule(
            c,
            "HaccTargetsMissing",
            " or ".join(f"absent(up{_sel(c, job)})" for job in jobs),
            severity="warning",
            summary=f"Prometheus has no {{{{ $labels.job }}}} target of {c.name}",
            description="No target of the job {{ $labels.job }} has been scraped for "
            f"{a.endpoint_down_for}: its Probe or ScrapeConfig (or its job in "
            "monitoring/scrape-configs.yaml) is not applied or not selected, and every alert "
            "that reads it stays silent.",
            for_=a.endpoint_down_for,
        )
    ]
    ready = "kube_node_status_condition" + _ksm(c, condition="Ready", status="true")
    ksm = f"absent({ready})"
    silenced = "the node-condition half of HaccControlPlaneQuorumAtRisk"
    if c.mode == KUBE_VIP:
        ksm += f" or absent(kube_lease_renew_time{_ksm(c, lease=LEASE)})"
        silenced += " and HaccVIPNotHeld"
    rules.append(
        _rule(
            c,
            "HaccKubeStateMetricsMissing",
            ksm,
            severity="warning",
            summary=f"No kube-state-metrics series of {c.name}",
            description=f"kube-state-metrics' series of {c.name} have been missing for "
            f"{a.quorum_for}: it is not running or not scraped, so {silenced} cannot fire.",
            for_=a.quorum_for,
        )
    )
    if c.mode == KEEPALIVED_HAPROXY:
        rules += [
            _rule(
                c,
                "HaccKeepalivedStateMissing",
                " or ".join(
                    f"absent({STATE_METRIC}{_sel(c, NODE_JOB, node=n.name)})"
                    for n in c.control_plane
                ),
                severity="warning",
                summary=f"keepalived's state on {{{{ $labels.node }}}} of {c.name} is not published",
                description=f"{STATE_METRIC} of {{{{ $labels.node }}}} has been missing for "
                f"{a.load_balancer_down_for}: the node exporter is down or does not read "
                f"{TEXTFILE_DIR}, or keepalived never ran its notify script. HaccVIPNotHeld, "
                "HaccVIPSplitBrain and HaccVIPFlapping do not see this node.",
                for_=a.load_balancer_down_for,
            ),
            _rule(
                c,
                "HaccKeepalivedFault",
                f"max by (node, state) ({STATE_METRIC}"
                f'{_sel(c, NODE_JOB).rstrip("}")},state=~"FAULT|STOP"}}) == 1',
                severity="warning",
                summary=f"keepalived on {{{{ $labels.node }}}} of {c.name} is in {{{{ $labels.state }}}}",
                description="keepalived on {{ $labels.node }} has reported {{ $labels.state }} "
                f"for {a.load_balancer_down_for}: it can neither hold the VIP nor take it over, "
                "so the cluster has one backup fewer.",
                for_=a.load_balancer_down_for,
            ),
        ]
    return rules


def backup_rules(c: Cluster) -> list[dict[str, Any]]:
    """The alerts on what each control-plane node's backup.sh publishes (hacc.targets.backup)."""
    if c.backups is None:
        return []
    nodes = _sel(c, NODE_JOB)
    hours = c.backups.max_age_hours
    return [
        _rule(
            c,
            "HaccBackupFailed",
            f"hacc_backup_last_run_success{nodes} == 0",
            severity="warning",
            summary=f"The last backup of {{{{ $labels.node }}}} ({c.name}) failed",
            description="backup.sh on {{ $labels.node }} failed its last run (dbctl, the archive's "
            "check or the copy off the node): journalctl -u hacc-backup on the node.",
        ),
        _rule(
            c,
            "HaccBackupTooOld",
            f"time() - hacc_backup_last_success_timestamp_seconds{nodes} > {hours} * 3600",
            severity="warning",
            summary=f"{{{{ $labels.node }}}} of {c.name} has no good backup of the last {hours}h",
            description="The last good backup of {{ $labels.node }} is "
            "{{ $value | humanizeDuration }} old (or there never was one since it started "
            "backing up).",
        ),
    ]


def _seconds(duration: str) -> int:
    from hacc.compiler.model import duration_ms

    return duration_ms(duration) // 1000


def rule_groups(cluster: Cluster) -> list[dict[str, Any]]:
    return [{"name": f"hacc-{cluster.name}", "rules": alert_rules(cluster)}]


# -- what Prometheus scrapes -------------------------------------------------------------------


def probe_targets(cluster: Cluster) -> list[tuple[str, str, dict[str, str]]]:
    """(job, URL, labels) of every blackbox probe."""
    out = [(ENDPOINT_JOB, endpoint_url(cluster), {"target": "endpoint"})]
    for n in cluster.control_plane:
        url = f"https://{n.address}:{APISERVER_PORT}/readyz"
        out.append((APISERVER_JOB, url, {"target": n.name, "node": n.name}))
    return out


def scrape_targets(cluster: Cluster) -> list[tuple[str, int]]:
    """(job, port) of every metrics endpoint on the control-plane nodes."""
    m = cluster.monitoring
    # The node exporter's textfile collector carries keepalived's state and the backups'.
    node = [(NODE_JOB, m.node_exporter_port)]
    if cluster.mode == KEEPALIVED_HAPROXY:
        return [(HAPROXY_JOB, m.haproxy_metrics_port), *node]
    own = [(KUBE_VIP_JOB, KUBE_VIP_METRICS_PORT)] if cluster.mode == KUBE_VIP else []
    return own + (node if cluster.backups is not None else [])


def scrape_configs(cluster: Cluster) -> list[dict[str, Any]]:
    """Scrape configurations for a Prometheus of your own (copy them into `scrape_configs:`)."""
    out: list[dict[str, Any]] = []
    for job in (ENDPOINT_JOB, APISERVER_JOB):
        targets = [
            {"targets": [url], "labels": {"hacc_cluster": cluster.name, **labels}}
            for j, url, labels in probe_targets(cluster)
            if j == job
        ]
        out.append(
            {
                "job_name": f"{job}-{cluster.name}",
                "metrics_path": "/probe",
                "params": {"module": [MODULE]},
                "static_configs": targets,
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {
                        "target_label": "__address__",
                        "replacement": cluster.monitoring.blackbox_exporter,
                    },
                    {"target_label": "job", "replacement": job},
                ],
            }
        )
    for job, port in scrape_targets(cluster):
        out.append(
            {
                "job_name": f"{job}-{cluster.name}",
                "static_configs": [
                    {
                        "targets": [f"{n.address}:{port}"],
                        "labels": {"hacc_cluster": cluster.name, "node": n.name},
                    }
                    for n in cluster.control_plane
                ],
                "relabel_configs": [{"target_label": "job", "replacement": job}],
                **({"metric_relabel_configs": [KEEP_HACC]} if job == NODE_JOB else {}),
            }
        )
    return out


def blackbox_modules() -> dict[str, Any]:
    """The blackbox exporter module the probes use. The apiservers' CA is the cluster's own, so
    the chain is not verified; expiry and /readyz are what is measured."""
    return {
        "modules": {
            MODULE: {
                "prober": "http",
                "timeout": "5s",
                "http": {
                    "method": "GET",
                    "valid_status_codes": [200],
                    "fail_if_not_ssl": True,
                    "tls_config": {"insecure_skip_verify": True},
                    "preferred_ip_protocol": "ip4",
                },
            }
        }
    }


# -- Prometheus Operator objects ---------------------------------------------------------------


def _meta(cluster: Cluster, name: str) -> dict[str, Any]:
    m = cluster.monitoring
    labels = {"app.kubernetes.io/managed-by": "hacc", "hacc.dev/cluster": cluster.name}
    labels.update(dict(m.rule_labels))
    return {"name": f"hacc-{cluster.name}-{name}", "namespace": m.namespace, "labels": labels}


def operator_objects(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    """File name -> objects, for `manifests/monitoring/`."""
    files: dict[str, list[dict[str, Any]]] = {
        "prometheusrule.yaml": [
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": _meta(cluster, "alerts"),
                "spec": {"groups": rule_groups(cluster)},
            }
        ]
    }
    probes = []
    for job in (ENDPOINT_JOB, APISERVER_JOB):
        targets = [(url, labels) for j, url, labels in probe_targets(cluster) if j == job]
        probes.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "Probe",
                "metadata": _meta(cluster, job.removeprefix("hacc-")),
                "spec": {
                    "jobName": job,
                    "module": MODULE,
                    "prober": {"url": cluster.monitoring.cluster_blackbox_exporter},
                    "targets": {
                        "staticConfig": {
                            "static": [url for url, _ in targets],
                            "labels": {"hacc_cluster": cluster.name},
                            "relabelingConfigs": _node_relabelings(cluster, targets),
                        }
                    },
                },
            }
        )
    files["probes.yaml"] = probes
    # Static targets through a ScrapeConfig, not selector-less Services with hand-written
    # Endpoints: Argo CD 3.x excludes Endpoints and EndpointSlice from what it applies
    # (argo-cd manifests/base/config/argocd-cm.yaml `resource.exclusions`), and v1 Endpoints
    # is deprecated from Kubernetes 1.33.
    scraped: list[dict[str, Any]] = [
        {
            "apiVersion": "monitoring.coreos.com/v1alpha1",
            "kind": "ScrapeConfig",
            "metadata": _meta(cluster, job.removeprefix("hacc-")),
            "spec": {
                "jobName": job,
                "metricsPath": "/metrics",
                "staticConfigs": [
                    {
                        "targets": [f"{n.address}:{port}"],
                        "labels": {"hacc_cluster": cluster.name, "node": n.name},
                    }
                    for n in cluster.control_plane
                ],
                **({"metricRelabelings": [_camel(KEEP_HACC)]} if job == NODE_JOB else {}),
            },
        }
        for job, port in scrape_targets(cluster)
    ]
    if scraped:
        files["scrape-targets.yaml"] = scraped
    return files


def _camel(relabel: dict[str, Any]) -> dict[str, Any]:
    """A Prometheus relabel configuration in the Prometheus Operator's spelling."""
    return {re.sub(r"_(\w)", lambda m: m.group(1).upper(), k): v for k, v in relabel.items()}


def _node_relabelings(
    cluster: Cluster, targets: list[tuple[str, dict[str, str]]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for url, labels in targets:
        for key in sorted(labels):
            out.append(
                {
                    "sourceLabels": ["__param_target"],
                    "regex": _regex_literal(url),
                    "targetLabel": key,
                    "replacement": labels[key],
                }
            )
    return out


def _regex_literal(text: str) -> str:
    return "".join("\\" + ch if ch in ".^$*+?()[]{}|\\" else ch for ch in text)


def _documents(cluster: Cluster, objects: list[dict[str, Any]]) -> str:
    return header(cluster) + "---\n".join(dump_yaml(o) for o in objects)


def render(cluster: Cluster) -> list[Artifact]:
    objects = operator_objects(cluster)
    out = [
        Artifact(f"manifests/monitoring/{name}", _documents(cluster, docs), MANIFEST)
        for name, docs in objects.items()
    ]
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted([*objects, DASHBOARD_FILE]),  # the ConfigMap: hacc.targets.dashboard
    }
    out.append(
        Artifact(
            "manifests/monitoring/kustomization.yaml",
            header(cluster) + dump_yaml(kustomization),
            MANIFEST,
        )
    )
    plain = {
        "rules.yaml": objects["prometheusrule.yaml"][0]["spec"],
        "scrape-configs.yaml": {"scrape_configs": scrape_configs(cluster)},
        "blackbox.yaml": blackbox_modules(),
    }
    out += [
        Artifact(f"monitoring/{name}", header(cluster) + dump_yaml(doc), MONITORING)
        for name, doc in plain.items()
    ]
    return out
