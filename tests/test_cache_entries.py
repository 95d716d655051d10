"""The analysis cache holds data, checked on every read: an entry someone else wrote (a restored
CI cache, a shared volume) can cost a parse, never run code or reach the output."""

from __future__ import annotations

import json
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import KEEPALIVED_EXAMPLE
from hacc.outdir import cache


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the cache's entries are per working folder
    path = tmp_path / "c.yaml"
    path.write_text(KEEPALIVED_EXAMPLE.read_text())
    return path


def entry_of(spec: Path) -> tuple[Path, bytes]:
    found = cache._entry(str(spec), spec.read_bytes())
    assert found is not None
    return Path(found[0]), found[1]


def plant(spec: Path, body: bytes) -> None:
    path, key = entry_of(spec)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(key + body)
    path.chmod(0o600)


def reference(
    hacc: Any, spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, bytes]:
    with monkeypatch.context() as m:
        m.setenv("HACC_CACHE_DIR", "")
        assert hacc("build", str(spec), "-o", str(tmp_path / "fresh")).code == 0
    return tree(tmp_path / "fresh")


class Canary:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.path}",))


def test_an_entry_is_json_and_a_pickle_in_its_place_runs_nothing(
    hacc, spec, tmp_path, monkeypatch
) -> None:
    assert hacc("validate", str(spec)).code == 0
    path, key = entry_of(spec)
    record = json.loads(path.read_bytes()[len(key) :])
    assert record["diagnostics"] == [] and record["document"]["data"]["metadata"]["name"]
    canary = tmp_path / "canary"
    plant(spec, pickle.dumps(Canary(canary)) * 2)  # as the diagnostics, then the analysis
    for argv in (["validate", str(spec)], ["build", str(spec), "-o", str(tmp_path / "out")]):
        assert hacc(*argv).code == 0
    assert not canary.exists()
    assert tree(tmp_path / "out") == reference(hacc, spec, tmp_path, monkeypatch)


def test_a_tampered_document_is_validated_again(hacc, spec, tmp_path, monkeypatch) -> None:
    """A newline pushed into a command would break bootstrap.sh: the cached document is checked
    as a parse's would be, and disagreeing with its cached diagnostics it is a miss."""
    assert hacc("validate", str(spec)).code == 0
    path, key = entry_of(spec)
    record = json.loads(path.read_bytes()[len(key) :])
    record["document"]["data"]["spec"]["extensions"]["preCommands"] = ["true\ntouch /tmp/x #"]
    path.write_bytes(key + json.dumps(record).encode())
    out = tmp_path / "out"
    r = hacc("build", str(spec), "-o", str(out))
    assert r.code == 0, r.err
    assert b"touch /tmp/x" not in b"".join(tree(out).values())
    assert tree(out) == reference(hacc, spec, tmp_path, monkeypatch)
    assert hacc("build", "--check", str(spec), "-o", str(out)).code == 0
    # with its diagnostics forged to match, the entry still only costs a parse
    from hacc.compiler import frontend
    from hacc.compiler.loader import Document
    from hacc.outdir import analyses

    doc = Document(str(spec), record["document"]["data"])
    doc.values = {tuple(p): (line, col) for p, line, col in record["document"]["values"]}
    found = frontend.analyze_document(str(spec), doc, [])
    assert [d.line for d in found.diagnostics if d.is_error] == [54]  # the command's line
    record["diagnostics"] = [list(d) for d in found.diagnostics]
    path.write_bytes(key + json.dumps(record).encode())
    assert analyses.cached(str(spec)) is None
    r = hacc("build", str(spec), "-o", str(out))
    assert r.code == 0, r.err
    assert tree(out) == reference(hacc, spec, tmp_path, monkeypatch)


WRONG_SHAPES = [
    b"",
    b"not json",
    b"[]",
    b'{"diagnostics": "none"}',
    b'{"diagnostics": [["f", 0, 1, "error", "HACC001", "m"]], "document": null}',
    b'{"diagnostics": [["f", 1, 1, "fatal", "HACC001", "m"]], "document": null}',
    b'{"diagnostics": [["f", true, 1, "error", "HACC001", "m"]], "document": null}',
    b'{"diagnostics": [], "document": null}',
    b'{"diagnostics": [["c.yaml", 1, 1, "error", "HACC001", "forged"]], "document": null}',
    b'{"diagnostics": [], "document": {"data": {}, "values": [], "keys": []}}',
    b'{"diagnostics": [], "document": {"data": [], "values": 5, "keys": []}}',
    b'{"diagnostics": [], "document": {"data": [], "values": [[[1.5], 1, 1]], "keys": []}}',
    b'{"diagnostics": [], "document": {"values": [], "keys": []}}',
    b'{"diagnostics": [], "document": {"data": "spec", "values": [], "keys": []}}',
    b'{"diagnostics": [], "document": {"data": {"spec": {"nodes": 7}}, "values": [], "keys": []}}',
    b"[" * 100_000 + b"]" * 100_000,
]


@pytest.mark.parametrize("body", WRONG_SHAPES, ids=range(len(WRONG_SHAPES)))
def test_an_entry_of_the_wrong_shape_is_a_miss(hacc, spec, tmp_path, monkeypatch, body) -> None:
    plant(spec, body)
    assert hacc("validate", str(spec)).code == 0
    plant(spec, body)
    out = tmp_path / "out"
    r = hacc("build", str(spec), "-o", str(out))
    assert r.code == 0, r.err
    assert tree(out) == reference(hacc, spec, tmp_path, monkeypatch)


def test_data_json_would_change_is_not_cached(spec) -> None:
    from hacc.compiler.frontend import Analysis
    from hacc.compiler.loader import Document

    analysis = Analysis(str(spec))
    analysis.document = Document(str(spec), {1: "a"})  # JSON would give the key back as "1"
    cache.store_analysis(str(spec), spec.read_bytes(), analysis)
    assert not entry_of(spec)[0].exists()


def test_a_cache_copied_from_elsewhere_is_of_no_use(tmp_path) -> None:
    """Entries and folder records made with another user's (or machine's) secret never hit:
    a restored CI cache or a shared volume can hold anything, even an entry for another valid
    spec, and it is only a miss."""
    spec = tmp_path / "c.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state-a"))
    for _ in range(2):
        p = subprocess.run(
            [sys.executable, "-m", "hacc", "build", str(spec), "-o", str(tmp_path / "out")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert p.returncode == 0, p.stderr
    key = tmp_path / "state-a" / "hacc" / "cache-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    probe = (
        "import sys; from hacc.outdir import analyses, cache; "
        "a = analyses.cached(sys.argv[1]); "
        "print(a is not None, cache.remembers(sys.argv[2], open(sys.argv[3], 'rb').read()))"
    )
    folder = tmp_path / "out" / "edge-paris-01"
    argv = [sys.executable, "-c", probe, str(spec), str(folder), str(folder / ".hacc-state.json")]

    def run(e: dict[str, str]) -> str:
        return subprocess.run(argv, env=e, capture_output=True, text=True, check=True).stdout

    assert run(env) == "True True\n"
    other = dict(env, XDG_STATE_HOME=str(tmp_path / "state-b"))
    assert run(other) == "False False\n"
    key.chmod(0o644)  # a key others can read is no secret: no cache at all
    assert run(env) == "False False\n"
