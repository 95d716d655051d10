"""The schema's patterns mean the same in hacc (Python) as in editors and other JSON Schema tools
(ECMA-262, run here by QuickJS): a trailing newline, a non-ASCII digit or a no-break space is
rejected by both or by neither."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
import quickjs
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES
from hacc.compiler.loader import load_bytes
from hacc.compiler.schema_check import pattern_search
from hacc.schemas import load_schema


def _patterns(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            found.add(node["pattern"])
        for value in node.values():
            found |= _patterns(value)
    elif isinstance(node, list):
        for value in node:
            found |= _patterns(value)
    return found


PATTERNS = sorted(_patterns(load_schema()))
TRICKS = ["\n", "\r", "\r\n", "\t", " ", "\u00a0", "\u2028", "\ufeff", "\u0661", "é", "\x00"]


@cache
def _js() -> Any:
    return quickjs.Context().eval(
        "(function (p, s) { return new RegExp(JSON.parse(p), 'u').test(JSON.parse(s)); })"
    )


def ecma(pattern: str, value: str) -> bool:
    # Through JSON: the binding passes C strings, which would end at a NUL.
    return bool(_js()(json.dumps(pattern), json.dumps(value)))


def _strings(node: Any) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, dict):
        return set().union(*(_strings(k) | _strings(v) for k, v in node.items()), set())
    if isinstance(node, list):
        return set().union(*(_strings(v) for v in node), set())
    return set()


def corpus() -> list[str]:
    values: set[str] = set()
    for path in EXAMPLES:
        document, _ = load_bytes(path.read_bytes(), str(path))
        assert document is not None
        values |= _strings(document.data)
    out = set(values)
    for v in values:
        for t in TRICKS:
            out |= {v + t, t + v, v[:1] + t + v[1:]}
        out.add(v.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")))
    return sorted(out)


def test_the_schema_has_patterns() -> None:
    assert len(PATTERNS) > 10


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pattern_agrees_with_ecma_262(pattern) -> None:
    disagree = [v for v in corpus() if pattern_search(pattern, v) != ecma(pattern, v)]
    assert not disagree, disagree[:5]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS), st.text(max_size=40))
def test_random_text_agrees_with_ecma_262(pattern, value) -> None:
    assert pattern_search(pattern, value) == ecma(pattern, value)
