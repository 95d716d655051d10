"""The state file is parsed and checked once per folder and content: every reader asks the one
`State` record (hacc.outdir.state)."""

from __future__ import annotations

import json

from conftest import EXAMPLES
from hacc.outdir import state


def test_plan_and_check_parse_each_state_file_once(hacc, tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    assert hacc("build", "-q", *map(str, EXAMPLES), "-o", str(out)).code == 0
    parsed: list[str] = []
    real = state.parse
    monkeypatch.setattr(
        state, "parse", lambda path, raw: parsed.append(str(path)) or real(path, raw)
    )
    monkeypatch.setattr(state, "_parsed", {})
    for argv in (["plan"], ["build", "--check"]):
        parsed.clear()
        state._parsed.clear()
        assert hacc(*argv, *map(str, EXAMPLES), "-o", str(out)).code == 0
        assert sorted(parsed) == sorted(set(parsed)), (argv, parsed)
        assert len(parsed) == len(EXAMPLES), (argv, parsed)


def test_fields_of_the_wrong_shape_read_as_absent(tmp_path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    doc = {
        "files": {},
        "endpoint": "https://x\x1b[2J",
        "channel": 133,
        "claims": {"addresses": [1]},
        "spec": "/etc/passwd.yaml",
        "extensions": {"n": ["\u202e"]},
        "executable": "all",
        "gitops": {"repoURL": "x", "branch": "main", "path": "."},
    }
    (folder / state.STATE_FILE).write_text(json.dumps(doc))
    found = state.read(folder)
    assert (found.endpoint, found.channel, found.claims, found.spec) == (None, None, {}, None)
    assert (found.extensions, found.executable, found.gitops) == (None, None, None)
    assert found.gitops_invalid == "repoURL"
