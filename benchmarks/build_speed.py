#!/usr/bin/env python3
"""Build time of hacc on fleets of generated specs (3 control-plane nodes and 2 workers each).

For each fleet size, one CLI run of each of:
- fresh build, cold: a new OUT and an empty analysis cache (the first build on a machine);
- fresh build, warm: a new OUT, the specs' analyses cached (a build after `hacc validate`);
- no-op build: the same OUT again, nothing changed;
- build --check of that OUT;
- one spec changed, then built (the others reused);
- validate, cold and warm.
With --token on, HACC_JOIN_TOKEN holds a token, so the specs' join tokens resolve (a machine with
the secrets: a developer's with the sops key, a CI job that materializes) and every build runs
the leak guard over everything it writes; with off (as before) it is unset; both is the default.
--repeat runs every series again (the spread of consecutive runs), --baseline puts each figure
beside disk_probe.py's hacc-free cycle for as many folders as specs, where the builds write.
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
from collections.abc import Callable, Iterator
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


TOKEN = "benchmark-join-token-0123456789abcdef"  # what HACC_JOIN_TOKEN holds with --token on
ROWS = {  # key: label; "warm" reads the cache "validate" filled, "noop" on what "cold" wrote
    "validate": ("validate, cold cache", "validate, warm cache"),
    "cold": ("fresh build, cold cache",),
    "warm": ("fresh build, warm cache",),
    "noop": ("no-op build",),
    "check": ("build --check",),
    "changed": ("one spec changed, build",),
}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "(no /proc/loadavg)"


def write_specs(folder: Path, n: int) -> list[str]:
    folder.mkdir()
    paths = []
    for i in range(n):
        p = folder / f"fleet-{i:04d}.yaml"
        p.write_text(fleet_spec(i))
        paths.append(str(p))
    os.sync()
    return paths


def baseline(root: Path, n: int) -> tuple[float, float, float]:
    """disk_probe.py's cycle for n folders where the builds write: wall, user, system."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from disk_probe import cycle

    return cycle(str(root / "probe"), n)


def series(
    hacc: list[str],
    root: Path,
    paths: list[str],
    *,
    token: str,
    keys: list[str],
    env: Callable[[str, str], dict[str, str]],
) -> Iterator[tuple[str, float, int, float, float]]:
    """Each command of one fleet's series: label, wall s, MiB, user s, system s. What the
    series wrote (output trees, caches) is deleted at its end."""
    n = len(paths)
    build = [*hacc, "build", "-q", *paths]
    tag = f"{n}-{token}"
    out = str(root / f"out-{tag}")
    changed = Path(paths[n // 2])
    kept = changed.read_text()
    rows = [
        ("validate", [*hacc, "validate", *paths], f"v-{tag}"),
        ("validate", [*hacc, "validate", *paths], f"v-{tag}"),
        ("cold", [*build, "-o", out], f"c-{tag}"),
        ("warm", [*build, "-o", out + "-warm"], f"v-{tag}"),
        ("noop", [*build, "-o", out], f"c-{tag}"),
        ("check", [*hacc, "build", "--check", *paths, "-o", out], f"c-{tag}"),
        ("changed", [*build, "-o", out], f"c-{tag}"),
    ]
    labels = iter(label for key in ROWS for label in ROWS[key])
    try:
        for key, argv, cache in rows:
            label = next(labels)
            if key not in keys:
                continue
            if key == "changed":
                changed.write_text(kept.replace("dns, rbac", "dns, rbac, ingress"))
            t, mib, (user, system) = timed(argv, env(cache, token))
            yield label, t, mib, user, system
    finally:
        changed.write_text(kept)
        for name in (out, out + "-warm", f"v-{tag}", f"c-{tag}"):
            shutil.rmtree(root / name, ignore_errors=True)
        os.sync()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=9, help="runs per single-spec measurement")
    ap.add_argument("--fleets", type=int, nargs="*", default=[100, 1000])
    ap.add_argument(
        "--token",
        choices=["off", "on", "both"],
        default="both",
        help="off: the specs' join token does not resolve (HACC_JOIN_TOKEN unset); on: it does, "
        "as on a machine that holds the secrets, and every build runs the leak guard",
    )
    ap.add_argument("--repeat", type=int, default=1, help="consecutive runs of every series")
    ap.add_argument(
        "--rows", nargs="*", choices=list(ROWS), default=list(ROWS), help="commands to measure"
    )
    ap.add_argument(
        "--baseline",
        action="store_true",
        help="also time disk_probe.py's hacc-free cycle for as many folders as specs, and give "
        "each build's wall time as a ratio to it",
    )
    ap.add_argument("--no-single", action="store_true", help="skip the one-spec comparison")
    args = ap.parse_args()
    # The `hacc` executable pip installed beside this interpreter, as users run it, with its
    # bytecode compiled as a regular pip install compiles it (PYTHONDONTWRITEBYTECODE may be set).
    import hacc as package

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(package.__file__).parent)], check=True
    )
    script = Path(sys.executable).parent / "hacc"
    hacc = [str(script)] if script.exists() else [sys.executable, "-m", "hacc"]
    modes = ["off", "on"] if args.token == "both" else [args.token]
    os.sync()  # the disk's work left by earlier runs (deleted trees) is not charged to this one
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        def env(cache: str, token: str = "off") -> dict[str, str]:
            e = {**os.environ, "HACC_CACHE_DIR": str(root / cache)}
            e.pop("HACC_JOIN_TOKEN", None)
            return e | ({"HACC_JOIN_TOKEN": TOKEN} if token == "on" else {})

        startup = median_time([sys.executable, "-c", "pass"], args.runs)
        print(
            f"python -c pass: {startup * 1000:.1f} ms (median of {args.runs}); "
            f"{os.cpu_count()} cores, HACC_JOBS={os.environ.get('HACC_JOBS', '(all)')}; "
            f"under {tmp}"
        )
        print(
            f"{'run':>3} {'specs':>6} {'token':>5} {'command':<28} {'s':>8} {'ms/spec':>8}"
            f" {'x start-up':>10} {'MiB':>6} {'KiB/spec':>8} {'user s':>7} {'sys s':>6}"
            + (f" {'x disk':>6}" if args.baseline else "")
        )
        results: dict[tuple[int, str, str], list[tuple[float, int, float, float]]] = {}
        for run in range(1, args.repeat + 1):
            for n in args.fleets:
                paths = write_specs(root / f"specs-{n}", n)
                base = baseline(root, n) if args.baseline else None
                if base is not None:
                    print(
                        f"{run:>3} {n:>6} {'':>5} {'disk_probe.py cycle':<28} {base[0]:>8.2f}"
                        f" {base[0] / n * 1000:>8.2f} {'':>10} {'':>6} {'':>8}"
                        f" {base[1]:>7.2f} {base[2]:>6.2f}"
                    )
                for token in modes:
                    print(f"# load average {loadavg()} before {n} specs, token {token}")
                    for label, t, mib, user, system in series(
                        hacc, root, paths, token=token, keys=args.rows, env=env
                    ):
                        results.setdefault((n, token, label), []).append((t, mib, user, system))
                        print(
                            f"{run:>3} {n:>6} {token:>5} {label:<28} {t:>8.2f}"
                            f" {t / n * 1000:>8.2f} {t / startup:>10.0f} {mib:>6}"
                            f" {mib * 1024 / n:>8.1f} {user:>7.2f} {system:>6.2f}"
                            + (f" {t / base[0]:>6.2f}" if base is not None else "")
                        )
                shutil.rmtree(root / f"specs-{n}")
        if args.repeat > 1:
            print(f"over {args.repeat} runs: median wall s (min-max), largest MiB, median CPU s")
            for (n, token, label), got in results.items():
                walls = sorted(g[0] for g in got)
                print(
                    f"    {n:>6} {token:>5} {label:<28} {statistics.median(walls):>8.2f}"
                    f" ({walls[0]:.2f}-{walls[-1]:.2f}, spread"
                    f" {(walls[-1] - walls[0]) / statistics.median(walls) * 100:.0f}%)"
                    f" {max(g[1] for g in got):>6} MiB"
                    f" user {statistics.median(g[2] for g in got):.2f}"
                    f" sys {statistics.median(g[3] for g in got):.2f}"
                )
        if args.no_single:
            return
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
