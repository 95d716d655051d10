from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hacc.cli.main import main

REPO = Path(__file__).resolve().parent.parent
# Kubernetes object names (apimachinery's IsDNS1123Subdomain), which CRD schemas do not check
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
INVALID = sorted((REPO / "tests" / "specs" / "invalid").glob("*.yaml"))


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def hacc(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run the CLI in-process and capture what it prints."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


KEEPALIVED_EXAMPLE = REPO / "examples" / "keepalived-haproxy.yaml"


def replaced(text: str, old: str, new: str) -> str:
    """`text` with `old`, which must occur exactly once, replaced: a variant whose replace
    missed would silently test the unmodified spec."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def run_hacc(*argv: str, env: dict[str, str] | None = None, timeout: float = 300) -> Any:
    """hacc in a process of its own (for signals, pipes and races), output captured."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "hacc", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture(autouse=True)
def analysis_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test its own analysis cache (hacc.outdir.cache), so no test sees another's entries."""
    folder = tmp_path_factory.mktemp("hacc-cache")
    monkeypatch.setenv("HACC_CACHE_DIR", str(folder))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("hacc-state")))  # its key
    return folder


def run_bash(script: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A generated procedure (upgrade, day-2) run by bash on the bench, stdin closed."""
    return subprocess.run(
        ["bash", str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
