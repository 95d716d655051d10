#!/usr/bin/env python3
"""Start-up and validation time of hacc against check-jsonschema on the same spec and schema.

hacc's runs share one analysis cache, so all but the first read the spec's diagnostics from it;
a last row runs hacc with no cache at all (HACC_CACHE_DIR empty).

Prints the median wall time of each command over N runs (default 15), and the ratios.
Run from the repository root inside the environment where hacc and check-jsonschema are installed.
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
SPEC = REPO / "examples" / "keepalived-haproxy.yaml"


def median_time(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, env=env
        )
        samples.append(time.perf_counter() - start)
        if proc.returncode not in (0,):
            sys.exit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()[:500]}")
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    py = sys.executable
    hacc = shutil.which("hacc", path=str(Path(py).parent)) or shutil.which("hacc")
    cj = shutil.which("check-jsonschema", path=str(Path(py).parent)) or shutil.which(
        "check-jsonschema"
    )
    if not hacc or not cj:
        sys.exit("hacc and check-jsonschema must be installed (pip install -e '.[test]')")
    # hacc's bytecode compiled, as a regular pip install compiles it (an editable install under
    # PYTHONDONTWRITEBYTECODE=1 would compile hacc's modules again on every run)
    import hacc as package

    subprocess.run([py, "-m", "compileall", "-q", str(Path(package.__file__).parent)], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        schema = Path(tmp) / "schema.json"
        subprocess.run([hacc, "schema", "-o", str(schema)], check=True)
        rows = [
            ("python -c pass", [py, "-c", "pass"]),
            ("hacc --help", [hacc, "--help"]),
            ("hacc validate <3-node example>", [hacc, "validate", str(SPEC)]),
            (
                "check-jsonschema --schemafile <schema> <same spec>",
                [cj, "--schemafile", str(schema), str(SPEC)],
            ),
        ]
        times = {name: median_time(argv, args.runs) for name, argv in rows}
        # No cache at all: what a fresh CI runner or a changed spec costs.
        no_cache = {**os.environ, "HACC_CACHE_DIR": ""}
        cold = "hacc validate <same>, no cache"
        times[cold] = median_time([hacc, "validate", str(SPEC)], args.runs, no_cache)
    print(f"median of {args.runs} runs, {sys.version.split()[0]}")
    for name, t in times.items():
        print(f"  {t * 1000:7.1f} ms  {name}")
    validate = times["hacc validate <3-node example>"]
    cj_time = times["check-jsonschema --schemafile <schema> <same spec>"]
    base = times["python -c pass"]
    print(f"hacc validate / check-jsonschema: {validate / cj_time:.2f}x (goal <= 0.3x)")
    print(f"  the same without a cache: {times[cold] / cj_time:.2f}x")
    print(
        f"above interpreter start-up: hacc validate +{(validate - base) * 1000:.1f} ms, "
        f"check-jsonschema +{(cj_time - base) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
