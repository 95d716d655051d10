"""Builds killed half-way, and builds racing each other: OUT never holds files that no state
file knows, `build --check` never calls an interrupted folder up to date, and the next build
leaves exactly what a clean build would."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import KEEPALIVED_EXAMPLE, run_hacc
from hacc.outdir.writer import STATE_FILE

pytestmark = pytest.mark.slow


def _renumber(data: Any, i: int) -> Any:
    if isinstance(data, str):
        return data.replace("198.18.10.", f"198.18.{40 + i}.").replace("edge-paris-01", f"edge-{i}")
    if isinstance(data, dict):
        return {k: _renumber(v, i) for k, v in data.items()}
    if isinstance(data, list):
        return [_renumber(v, i) for v in data]
    return data


def fleet(folder: Path, n: int, *, extra_worker: bool = False) -> list[str]:
    """`n` specs of distinct clusters; with `extra_worker`, each has one more worker."""
    base = yaml.safe_load(KEEPALIVED_EXAMPLE.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        data = _renumber(base, i)
        if extra_worker:
            data["spec"]["workers"]["nodes"].append(
                {"name": "w9", "address": f"198.18.{40 + i}.29"}
            )
        path = folder / f"spec-{i}.yaml"
        path.write_text(json.dumps(data))
        paths.append(str(path))
    return paths


def hacc(*argv: str) -> subprocess.CompletedProcess[str]:
    return run_hacc(
        *argv, env={**os.environ, "HACC_JOIN_TOKEN": "0123456789abcdef0123456789abcdef"}
    )


def tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def killed(*argv: str, out: Path, files: int) -> None:
    """Run hacc and SIGKILL it as soon as OUT holds `files` more files than before."""
    env = {**os.environ, "HACC_JOIN_TOKEN": "0123456789abcdef0123456789abcdef"}
    before = len(tree(out)) if out.exists() else 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "hacc", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if out.exists() and sum(1 for p in out.rglob("*") if p.is_file()) >= before + files:
            break
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def every_file_is_owned(out: Path) -> None:
    for folder in (p for p in out.iterdir() if p.is_dir()):
        files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
        files.discard(STATE_FILE)
        files = {f for f in files if ".hacc-tmp-" not in f}  # removed by the next build
        if files:
            state = json.loads((folder / STATE_FILE).read_text())
            assert files <= set(state["files"]), files - set(state["files"])


def test_killed_builds_leave_nothing_unknown(tmp_path) -> None:
    old = fleet(tmp_path / "old", 8)
    new = fleet(tmp_path / "new", 8, extra_worker=True)
    reference = tmp_path / "reference"
    assert hacc("build", *old, "-o", str(reference)).returncode == 0
    expected = tree(reference)
    rng = random.Random(7)
    caught_mid_build = 0
    for attempt in range(15):
        out = tmp_path / f"out-{attempt}"
        fresh = attempt % 3 == 0
        if not fresh:
            assert hacc("build", *old, "-o", str(out)).returncode == 0
        # Fresh: killed after some of the files; update: after some of the new worker's files.
        files = rng.randint(1, len(expected) - 1) if fresh else rng.randint(1, 8)
        killed("build", *(old if fresh else new), "-o", str(out), out=out, files=files)
        if out.exists():
            every_file_is_owned(out)
        check = hacc("build", "--check", *old, "-o", str(out))
        rebuilt = hacc("build", *old, "-o", str(out))
        assert rebuilt.returncode == 0, rebuilt.stderr
        if check.returncode == 0:  # "up to date" must have been true
            assert "up to date" in check.stderr
        else:
            caught_mid_build += "interrupted" in check.stderr
        assert tree(out) == expected, attempt
    assert caught_mid_build, "no kill landed during a build: the delays need adjusting"


def test_concurrent_builds_into_one_folder_wait_for_each_other(tmp_path) -> None:
    a = fleet(tmp_path / "a", 3)
    b = [str(p) for p in fleet(tmp_path / "b", 6)[3:]]
    out = tmp_path / "out"
    env = {**os.environ, "HACC_JOIN_TOKEN": "0123456789abcdef0123456789abcdef"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hacc", "build", *specs, "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for specs in (a, b)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    every_file_is_owned(out)
    check = hacc("build", "--check", *a, *b, "-o", str(out))
    assert check.returncode == 0, check.stderr
