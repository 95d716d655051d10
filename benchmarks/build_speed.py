#!/usr/bin/env python3
"""Build time of hacc on fleets of generated specs (3 control-plane nodes and 2 workers each).

For each fleet size, one CLI run of each of:
- fresh build, cold: a new OUT and an empty analysis cache (the first build on a machine);
- fresh build, warm: a new OUT, the specs' analyses cached (a build after `hacc validate`);
- no-op build: the same OUT again, nothing changed;
- build --check of that OUT;
- one spec changed, then built (the others reused);
- validate, cold and warm.
Each with its wall time, time per spec, ratio to `python -c pass` start-up, peak resident
memory (the largest of the command and each of its workers) and CPU time, user and system, of
the command and its workers. Then `hacc validate` of one spec against check-jsonschema on the
same spec and schema, in the same run.

Run from the repository root with hacc installed (pip install -e '.[test]'); the figures depend
on the machine: compare runs of one machine, never a figure with a fixed threshold. The script
runs the installed `hacc` executable with its bytecode compiled (as pip installs it), and calls
sync(2) before the fleets and after deleting an output tree, so that writing back a deletion is
not charged to the next build. Some file systems still create files more slowly in a region
where tens of thousands were just deleted: that shows as system time (TMPDIR=/dev/shm avoids it).
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def measured(argv: list[str], env: dict[str, str] | None = None, ok: int = 0) -> tuple[float, int]:
    """Wall time (s) and peak resident memory (MiB) of one command."""
    t, mib, _ = timed(argv, env, ok)
    return t, mib


def timed(
    argv: list[str], env: dict[str, str] | None = None, ok: int = 0
) -> tuple[float, int, tuple[float, float]]:
    """Wall time (s), peak resident memory (MiB: the largest of the command and each of its
    workers, not their sum), and the CPU time (user, system) of the command and its workers."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != ok:
        sys.exit(f"{' '.join(argv[:4])} ... exited {code}: {err.decode()[-800:]}")
    # wait4 (Linux) adds the workers the command reaped to its usage; ru_maxrss is their maximum.
    return elapsed, usage.ru_maxrss // 1024, (usage.ru_utime, usage.ru_stime)


def median_time(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    return statistics.median(measured(argv, env)[0] for _ in range(runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=9, help="runs per single-spec measurement")
    ap.add_argument("--fleets", type=int, nargs="*", default=[100, 1000])
    args = ap.parse_args()
    # The `hacc` executable pip installed beside this interpreter, as users run it, with its
    # bytecode compiled as a regular pip install compiles it (PYTHONDONTWRITEBYTECODE may be set).
    import hacc as package

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(package.__file__).parent)], check=True
    )
    script = Path(sys.executable).parent / "hacc"
    hacc = [str(script)] if script.exists() else [sys.executable, "-m", "hacc"]
    os.sync()  # the disk's work left by earlier runs (deleted trees) is not charged to this one
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        def env(cache: str) -> dict[str, str]:
            return {**os.environ, "HACC_CACHE_DIR": str(root / cache)}

        startup = median_time([sys.executable, "-c", "pass"], args.runs)
        print(
            f"python -c pass: {startup * 1000:.1f} ms (median of {args.runs}); "
            f"{os.cpu_count()} cores, HACC_JOBS={os.environ.get('HACC_JOBS', '(all)')}"
        )
        print(
            f"{'specs':>6} {'command':<28} {'s':>8} {'ms/spec':>8} {'x start-up':>10} {'MiB':>6}"
            f" {'user s':>7} {'sys s':>6}"
        )
        for n in args.fleets:
            specs = root / f"specs-{n}"
            specs.mkdir()
            paths = []
            for i in range(n):
                p = specs / f"fleet-{i:04d}.yaml"
                p.write_text(fleet_spec(i))
                paths.append(str(p))
            os.sync()
            build = [*hacc, "build", "-q", *paths]
            out = str(root / f"out-{n}")
            changed = Path(paths[n // 2])
            rows = [
                ("validate, cold cache", [*hacc, "validate", *paths], env(f"v-{n}")),
                ("validate, warm cache", [*hacc, "validate", *paths], env(f"v-{n}")),
                ("fresh build, cold cache", [*build, "-o", out], env(f"c-{n}")),
                ("fresh build, warm cache", [*build, "-o", out + "-warm"], env(f"v-{n}")),
                ("no-op build", [*build, "-o", out], env(f"c-{n}")),
                ("build --check", [*hacc, "build", "--check", *paths, "-o", out], env(f"c-{n}")),
                ("one spec changed, build", [*build, "-o", out], env(f"c-{n}")),
            ]
            for label, argv, e in rows:
                if label.startswith("one spec"):
                    changed.write_text(
                        changed.read_text().replace("dns, rbac", "dns, rbac, ingress")
                    )
                t, mib, (user, system) = timed(argv, e)
                print(
                    f"{n:>6} {label:<28} {t:>8.2f} {t / n * 1000:>8.2f} {t / startup:>10.0f} {mib:>6}"
                    f" {user:>7.2f} {system:>6.2f}"
                )
            shutil.rmtree(out + "-warm")
            os.sync()
        cj = shutil.which(
            "check-jsonschema", path=str(Path(sys.executable).parent)
        ) or shutil.which("check-jsonschema")
        if cj:
            schema = root / "schema.json"
            subprocess.run([*hacc, "schema", "-o", str(schema)], check=True)
            one = median_time([*hacc, "validate", str(EXAMPLE)], args.runs, env("one"))
            cold = statistics.median(
                measured([*hacc, "validate", str(EXAMPLE)], env(f"one-cold-{i}"))[0]
                for i in range(args.runs)
            )
            ref = median_time([cj, "--schemafile", str(schema), str(EXAMPLE)], args.runs)
            print(f"one spec ({EXAMPLE.name}), median of {args.runs}:")
            print(f"  check-jsonschema        {ref * 1000:7.1f} ms")
            print(
                f"  hacc validate, cold     {cold * 1000:7.1f} ms  {cold / ref:.2f}x check-jsonschema"
            )
            print(
                f"  hacc validate, warm     {one * 1000:7.1f} ms  {one / ref:.2f}x check-jsonschema"
            )
        else:
            print("check-jsonschema is not installed: no single-spec comparison")


if __name__ == "__main__":
    main()
