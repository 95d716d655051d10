"""Whatever the input, hacc answers with located diagnostics and exit 0 or 1, never a traceback."""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from conftest import EXAMPLES
from hacc.cli.main import main
from hacc.compiler.loader import load_text

LINE = re.compile(r"^.+:\d+:\d+: (error|warning)\[HACC\d{3}\]: \S.*$")
SPECS = [load_text(p.read_text(), p.name)[0].data for p in EXAMPLES]  # type: ignore[union-attr]

NASTY_STRINGS = [
    "",
    " ",
    "a\nb",
    "x'y",
    'x"y',
    "../../etc/passwd",
    "$(reboot)",
    "`id`",
    "é",
    "日本",
    "\u202e",
    "a" * 300,
    "--flag",
    "0.0.0.0",
    "::1",
    "null",
    "~",
    "-",
    "#",
    "{",
    "*a",
    "%YAML",
    "\x00",
    "\t",
    "198.18.10.300",
    "1.32/stable\n",
    "my-cluster\n",
    "198.18.10.11\n",
    "2s\n",
    "\u0085",
    "\u2028",
    "\u00a0",
    "\u009b",
]
NASTY_NUMBERS = [0, -1, 3.0, 0.5, 1e300, -0.0, 65536.0, 2**64, True, False]
VALUES = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.sampled_from(NASTY_NUMBERS),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.just([]),
    st.just({}),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths(v, (*prefix, i))
    return out


def mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    data = copy.deepcopy(data)
    if not path:
        return value if action == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif action == "add-key" and isinstance(parent[last], dict):
        parent[last][str(value)[:20] or "x"] = value
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    return data


def check_run(spec: Path) -> None:
    import contextlib

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", str(spec)])
    lines = err.getvalue().splitlines()
    assert code in (0, 1), err.getvalue()
    assert lines, "a summary line is always printed"
    for line in lines[:-1]:
        assert LINE.match(line), line
    if code == 1:
        assert any("error[" in x for x in lines)
    else:  # validates, so it builds
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            built = main(["build", str(spec), "-o", str(spec.parent / "out")])
        assert built == 0, err.getvalue()


def dump(data: Any) -> str:
    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, buf)
    return buf.getvalue()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_mutated_specs_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(SPECS))
    path = data.draw(st.sampled_from(paths(base)))
    action = data.draw(st.sampled_from(["delete", "replace", "replace", "add-key", "duplicate"]))
    value = data.draw(VALUES)
    mutated = mutate(base, path, action, value)
    spec = tmp_path / "spec.yaml"
    spec.write_text(dump(mutated), encoding="utf-8")
    check_run(spec)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_corrupted_bytes_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(EXAMPLES)).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw)))
        if data.draw(st.booleans()) and pos < len(raw):
            del raw[pos]
        else:
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=3))
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(bytes(raw))
    check_run(spec)
