"""The monitoring drill: the generated rules, scrape and blackbox configurations in real Prometheus,
blackbox exporter and node exporters around the failover drill's lab (real keepalived and HAProxy
from the generated configurations). Each fault must fire its alert within the bound and resolve
after recovery, and every series the rules and the dashboard read must exist as the real
exporters emit it. The scenarios: one backend down, HAProxy down on the VIP holder (its keepalived
goes to FAULT), the holder cut off, a certificate near expiry, keepalived stopped everywhere,
node exporters stopped everywhere, every backend down, a split brain, losing quorum, and the
flapping those cause.

Set HACC_ALERT_TABLE=FILE to keep the table of alerts and delays."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from hacc.compiler.frontend import analyze
from hacc.drill.alerting import KSM_ONLY, Watch, run_faults, selectors, table
from hacc.drill.configs import from_cluster
from hacc.drill.lab import VIP
from hacc.drill.runner import Drill, Timing
from labspec import NAME, lab_spec
from realtools import require_root, tool

pytestmark = pytest.mark.slow

BOUND = 20.0  # seconds from a fault to its alert firing, and from recovery to resolution
# The drill's own `for:` durations (the spec's override), so faults fire in seconds.
FAST_ALERTS = {
    "endpointDownFor": "2s",
    "apiserverDownFor": "2s",
    "loadBalancerDownFor": "2s",
    "vipFor": "2s",
    "quorumFor": "2s",
    "flapWindow": "1m",  # the faults move the VIP 3 or more times within it
    "flapChanges": 3,
}


def test_every_fault_raises_its_alert_and_it_resolves(tmp_path) -> None:
    require_root()
    for name in (
        "keepalived",
        "haproxy",
        "prometheus",
        "prometheus-blackbox-exporter",
        "prometheus-node-exporter",
        "nft",
        "curl",
        "unshare",
    ):
        tool(name)
    spec = lab_spec(tmp_path, {"alerts": FAST_ALERTS})
    cluster = analyze(spec).cluster
    assert cluster is not None
    build = lambda d: dataclasses.replace(from_cluster(cluster, d), cert_days=365)  # noqa: E731
    with Drill(build, Timing(warmup=6.0)) as drill:
        watch = Watch(drill, cluster, f"127.0.0.1 localhost\n{VIP} {NAME}\n")
        watch.start()
        assert watch.ready(60), watch.active()
        missing = watch.missing_series()
        gaps = watch.dashboard_gaps()
        results = run_faults(drill, watch, BOUND)
    report = table(results)
    if os.environ.get("HACC_ALERT_TABLE"):
        Path(os.environ["HACC_ALERT_TABLE"]).write_text(report)
    # every series the rules read exists as the real exporters emit it (names and labels)
    assert missing == [], missing
    assert gaps == [], gaps  # every dashboard panel shows data (but kube-state-metrics')
    assert [s for s in selectors(cluster) if s.split("{")[0] not in KSM_ONLY]
    for r in results:
        assert r.fired_s is not None, f"{r.alert} {r.labels} did not fire:\n{report}"
        assert r.resolved_s is not None, f"{r.alert} {r.labels} did not resolve:\n{report}"
    haproxy = next(r for r in results if r.fault.startswith("HAProxy killed"))
    assert haproxy.notes and "MASTER on ['" in haproxy.notes[0]
    vip_on, master_on = haproxy.notes[0].split(", ")
    assert vip_on.removeprefix("VIP on ") == master_on.split(" MASTER on ")[1], haproxy.notes
