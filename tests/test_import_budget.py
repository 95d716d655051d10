"""`hacc validate` of one spec, which pre-commit runs on every commit, imports only what checking
a spec needs: the speed budget as a test, not a convention. The schema is checked by hacc's own
walker (jsonschema is the tests' oracle), a plain spec is composed by libyaml without ruamel, and
nothing that renders, writes or talks to Git is loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import EXAMPLES

FORBIDDEN = ("jsonschema", "jinja2", "ruamel.yaml", "dataclasses", "shutil", "git")

PROBE = """
import sys
from hacc.cli.main import main
code = main(["validate", sys.argv[1]])
print(code, " ".join(m for m in {forbidden!r} if m in sys.modules))
"""


def _validate(spec: str, cache: str) -> tuple[int, list[str]]:
    env = {"HACC_CACHE_DIR": cache, "PATH": "/usr/bin:/bin", "HOME": cache or "/nonexistent"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(forbidden=FORBIDDEN), spec],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    code, _, loaded = proc.stdout.strip().partition(" ")
    return int(code), loaded.split()


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.stem)
def test_validate_of_one_spec_stays_within_its_imports(spec, tmp_path) -> None:
    cache = str(tmp_path / "cache")
    for mode, where in (("no cache", ""), ("cold cache", cache), ("warm cache", cache)):
        code, loaded = _validate(str(spec), where)
        assert (code, loaded) == (0, []), f"{spec.name}, {mode}: {loaded} imported"


def test_the_budget_test_sees_an_import(tmp_path) -> None:
    """The probe itself notices a forbidden module (so the test above can fail)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import shutil\n" + PROBE.format(forbidden=FORBIDDEN),
            str(EXAMPLES[0]),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"HACC_CACHE_DIR": "", "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout.split()[1:] == ["shutil"]
