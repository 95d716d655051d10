#!/usr/bin/env python3
"""Failover of hacc's generated keepalived + HAProxy (default and fast profiles) side by side with
the kubeadm HA guide's configuration for the same three nodes, all measured in one run.

Needs root, keepalived, haproxy, iproute2, openssl and curl; everything runs in network
namespaces the drill creates (198.18.0.0/24, no route out) and removes. Every scenario runs in
a fresh lab. Takes about 9 minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hacc.commands.drill import preflight, with_profile
from hacc.compiler.frontend import analyze
from hacc.drill.configs import from_cluster, kubeadm
from hacc.drill.report import verdict
from hacc.drill.runner import Result, Timing, as_json, run_drill
from hacc.drill.scenarios import SCENARIOS

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "examples" / "keepalived-haproxy.yaml"


def cell(r: Result) -> str:
    moved = "-" if r.vip_moved_s is None else f"{r.vip_moved_s:.2f}s"
    mark = "" if verdict(r)[0] else " !"
    flight = f" ({r.in_flight_failed} in flight)" if r.in_flight_failed else ""
    after = f" +{r.failback_failed} after recovery" if r.failback_failed else ""
    return f"{moved} / {r.outage_s:.2f}s / {r.failed}{flight}{after}{mark}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", help="write every measurement to this file")
    args = ap.parse_args()
    preflight()
    analysis = analyze(SPEC)
    assert analysis.document is not None
    raw = analysis.document.data
    configs = {
        "hacc default": (lambda d: from_cluster(with_profile(raw, "default", str(SPEC)), d), {}),
        "hacc fast": (lambda d: from_cluster(with_profile(raw, "fast", str(SPEC)), d), {}),
        # the guide checks every 3 s and gives up after 10 failures: give it time to move
        "kubeadm guide": (
            lambda d: kubeadm(with_profile(raw, "default", str(SPEC)), d),
            {"haproxy-kill-holder": 45.0},
        ),
    }
    all_results: dict[str, list[Result]] = {}
    for label, (build, observe) in configs.items():
        all_results[label] = []
        for scenario in SCENARIOS:  # a fresh lab each, so no scenario inherits another's state
            print(f"running {label}: {scenario.name} ...", file=sys.stderr, flush=True)
            results, changed = run_drill(build, [scenario], Timing(), observe)
            if changed:
                sys.exit(f"the drill changed the host: {changed}")
            all_results[label] += results
    labels = list(all_results)
    print(
        "cell: VIP on a new holder after / client-visible outage / failed requests (of ~160, one"
        " every 50 ms, 250 ms timeout); ! = the scenario's check failed"
    )
    rows = [["scenario", *labels]]
    for i, scenario in enumerate(SCENARIOS):
        rows.append([scenario.name, *(cell(all_results[label][i]) for label in labels)])
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print(" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        if n == 0:
            print("-|-".join("-" * w for w in widths))
    if args.json:
        Path(args.json).write_text(
            json.dumps({k: as_json(v) for k, v in all_results.items()}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
