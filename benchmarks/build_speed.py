#!/usr/bin/env python3
"""Build time of hacc: one example, then fleets of generated specs (3 control-plane nodes and
2 workers each), in-process and through the CLI, into a fresh folder and again (no changes).

Prints wall times and per-spec times; run from the repository root with hacc installed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "keepalived-haproxy.yaml"


def fleet_spec(i: int) -> str:
    prefix = f"198.{18 + i // 256}.{i % 256}"  # one /24 of 198.18.0.0/15 per cluster
    return f"""apiVersion: hacc.dev/v1alpha1
kind: HACluster
metadata: {{name: fleet-{i:04d}}}
spec:
  microk8s: {{channel: 1.32/stable, addons: [dns, rbac]}}
  network: {{interface: eth0, subnet: {prefix}.0/24}}
  controlPlane:
    endpoint: {{address: {prefix}.100, dnsName: api.fleet-{i:04d}.example.com}}
    loadBalancer: {{mode: keepalived-haproxy, keepalived: {{virtualRouterId: {1 + i % 255}}}}}
    nodes:
      - {{name: cp1, address: {prefix}.11}}
      - {{name: cp2, address: {prefix}.12}}
      - {{name: cp3, address: {prefix}.13}}
  workers:
    nodes:
      - {{name: w1, address: {prefix}.21}}
      - {{name: w2, address: {prefix}.22}}
"""


def timed(argv: list[str]) -> float:
    return measured(argv)[0]


def measured(argv: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak resident memory (MiB) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} ... exited {proc.returncode}: {err.decode()[-800:]}")
    return elapsed, usage.ru_maxrss // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5, help="runs per single-spec measurement")
    ap.add_argument("--fleets", type=int, nargs="*", default=[100, 200])
    args = ap.parse_args()
    hacc = [sys.executable, "-m", "hacc"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fresh = [
            timed([*hacc, "build", str(EXAMPLE), "-o", str(root / f"one-{i}")])
            for i in range(args.runs)
        ]
        again = [
            timed([*hacc, "build", str(EXAMPLE), "-o", str(root / "one-0")])
            for _ in range(args.runs)
        ]
        print(f"one example ({EXAMPLE.name}), median of {args.runs}:")
        print(f"  fresh build   {statistics.median(fresh) * 1000:8.1f} ms")
        print(f"  no changes    {statistics.median(again) * 1000:8.1f} ms")
        startup = statistics.median(timed([sys.executable, "-c", "pass"]) for _ in range(args.runs))
        rows: list[tuple[int, float, int, float, int, float, int, float, int]] = []
        print("fleets (3 control-plane + 2 workers per spec, one CLI run):")
        print(f"  {'specs':>6} {'fresh s':>9} {'ms/spec':>8} {'no-op s':>9} {'ms/spec':>8}")
        for n in args.fleets:
            specs = root / f"specs-{n}"
            specs.mkdir()
            paths = []
            for i in range(n):
                p = specs / f"fleet-{i:04d}.yaml"
                p.write_text(fleet_spec(i))
                paths.append(str(p))
            out = root / f"out-{n}"
            t1, m1 = measured([*hacc, "build", "-q", *paths, "-o", str(out)])
            t2, m2 = measured([*hacc, "build", "-q", *paths, "-o", str(out)])
            t3, m3 = measured([*hacc, "build", "--check", *paths, "-o", str(out)])
            t4, m4 = measured([*hacc, "validate", *paths])
            rows.append((n, t1, m1, t2, m2, t3, m3, t4, m4))
            print(f"  {n:>6} {t1:>9.2f} {t1 / n * 1000:>8.1f} {t2:>9.2f} {t2 / n * 1000:>8.1f}")
        print("fleets, every command (seconds, ms per spec, peak MiB):")
        print(f"  python -c pass: {startup * 1000:.1f} ms (median of {args.runs})")
        for n, t1, m1, t2, m2, t3, m3, t4, m4 in rows:
            for label, t, m in (
                ("fresh build", t1, m1),
                ("no-op build", t2, m2),
                ("build --check", t3, m3),
                ("validate", t4, m4),
            ):
                print(
                    f"  {n:>6} {label:<14} {t:>8.2f} s {t / n * 1000:>7.1f} ms/spec "
                    f"{t / startup:>7.0f}x start-up {m:>6} MiB"
                )


if __name__ == "__main__":
    main()
