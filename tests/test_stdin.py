"""`-` reads one spec from standard input, for validate, build and plan; diagnostics name it
`<stdin>`, and a folder built from it records no spec path (nothing could read it again)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import KEEPALIVED_EXAMPLE, replaced


def _hacc(*argv: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hacc", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_validate_reads_a_spec_from_standard_input() -> None:
    good = _hacc("validate", "-", stdin=KEEPALIVED_EXAMPLE.read_text())
    assert (good.returncode, good.stderr) == (0, "1 spec valid\n")
    bad = replaced(KEEPALIVED_EXAMPLE.read_text(), "name: edge-paris-01", "name: Edge")
    r = _hacc("validate", "--format", "json", "-", stdin=bad)
    assert r.returncode == 1
    (diag,) = json.loads(r.stdout)["diagnostics"]
    assert (diag["file"], diag["code"]) == ("<stdin>", "HACC104")
    text = _hacc("validate", "-", stdin=bad)
    assert text.stderr.startswith("<stdin>:")


def test_build_and_plan_read_a_spec_from_standard_input(tmp_path) -> None:
    out = tmp_path / "out"
    spec = KEEPALIVED_EXAMPLE.read_text()
    built = _hacc("build", "-q", "-", "-o", str(out), stdin=spec)
    assert built.returncode == 0, built.stderr
    from_file = tmp_path / "from-file"
    assert (
        _hacc("build", "-q", str(KEEPALIVED_EXAMPLE), "-o", str(from_file), stdin="").returncode
        == 0
    )
    state = json.loads((out / "edge-paris-01" / ".hacc-state.json").read_text())
    assert "spec" not in state and "inputs" not in state
    assert (out / "edge-paris-01/nodes/cp1/haproxy.cfg").read_bytes() == (
        from_file / "edge-paris-01/nodes/cp1/haproxy.cfg"
    ).read_bytes()
    plan = _hacc("plan", "-", "-o", str(out), "--detailed-exitcode", stdin=spec)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    check = _hacc("build", "--check", "-", "-o", str(out), stdin=spec)
    assert check.returncode == 0, check.stderr


def test_standard_input_is_read_once() -> None:
    r = _hacc("validate", "-", "-", stdin=KEEPALIVED_EXAMPLE.read_text())
    assert r.returncode == 2 and "may be given once" in r.stderr
