"""A materialize killed while writing leaves 0600 temporary files holding tokens; the next
successful run removes them, so a provisioner copying the folder never copies one."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from conftest import KEEPALIVED_EXAMPLE
from hacc.outdir.fsafe import TMP_MARK

TOKEN = "0123456789abcdef0123456789abcdef"
# Killed the moment a written temporary file would be renamed into place: after `n` renames.
KILLED = """
import os, signal, sys
from hacc.cli.main import main
real, left = os.replace, int(sys.argv[1])
def replace(src, dst):
    global left
    if left == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    left -= 1
    real(src, dst)
os.replace = replace
main(sys.argv[2:])
"""


def temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if TMP_MARK in p.name)


def test_a_killed_materialize_s_temporaries_are_removed_by_the_next_run(tmp_path) -> None:
    env = dict(os.environ, HACC_JOIN_TOKEN=TOKEN, HACC_CACHE_DIR="")  # only its own renames
    private = tmp_path / "private"
    argv = ["materialize", str(KEEPALIVED_EXAMPLE), "-o", str(private)]
    for n in (0, 3, 6):  # the first file, a worker's join token, a later user-data
        p = subprocess.run(
            [sys.executable, "-c", KILLED, str(n), *argv],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert p.returncode == -signal.SIGKILL, p.stderr
    left = temporaries(private)
    assert len(left) == 3
    for tmp in left:
        assert stat.S_IMODE(tmp.stat().st_mode) == 0o600
    assert any(TOKEN.encode() in tmp.read_bytes() for tmp in left)
    p = subprocess.run(
        [sys.executable, "-m", "hacc", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert temporaries(private) == []
    for tmp in left:
        assert f"remove {tmp} (left by an interrupted run)" in p.stderr
    for f in private.rglob("*"):
        assert f.is_dir() or TMP_MARK not in f.name
