from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from conftest import EXAMPLES, REPO
from hacc.compiler.loader import MAX_EXPANDED_NODES, load_bytes, load_text


def codes(diags):
    return [(d.line, d.column, d.code) for d in diags]


def test_positions_of_keys_and_values() -> None:
    doc, diags = load_text("a:\n  b: [1, {c: x}]\n  'd': true\n", "f.yaml")
    assert diags == [] and doc is not None
    assert doc.data == {"a": {"b": [1, {"c": "x"}], "d": True}}
    assert doc.locate(("a", "b", 1, "c")) == (2, 14)
    assert doc.locate(("a", "b", 1, "c"), key=True) == (2, 11)
    assert doc.locate(("a", "d"), key=True) == (3, 3)
    # a path that does not exist falls back to its nearest ancestor
    assert doc.locate(("a", "b", 1, "zzz")) == (2, 10)


def test_plain_types_only() -> None:
    doc, _ = load_text("i: 0x10\nf: 1.5\nb: false\nn: ~\ns: '1'\n", "f.yaml")
    assert doc is not None
    assert [type(v) for v in doc.data.values()] == [int, float, bool, type(None), str]
    assert doc.data["i"] == 16


def test_yaml_12_booleans_stay_strings() -> None:
    doc, _ = load_text("a: yes\nb: on\n", "f.yaml")
    assert doc is not None and doc.data == {"a": "yes", "b": "on"}


def test_every_duplicate_key_is_reported() -> None:
    doc, diags = load_text("a: 1\nb: {x: 1, x: 2}\na: 3\n", "f.yaml")
    assert doc is None
    assert codes(diags) == [(2, 11, "HACC005"), (3, 1, "HACC005")]


def test_merge_keys_explicit_wins() -> None:
    doc, diags = load_text("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n", "f.yaml")
    assert diags == [] and doc is not None
    assert doc.data["c"] == {"y": 3, "x": 1}


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    doc, diags = load_text("\n".join(lines) + "\n", "f.yaml")
    assert doc is None and diags[0].code == "HACC007"
    assert MAX_EXPANDED_NODES < 10**9


def test_small_aliases_are_fine() -> None:
    doc, diags = load_text("a: &a [1, 2]\nb: *a\nc: *a\n", "f.yaml")
    assert diags == [] and doc is not None
    assert doc.data["b"] == doc.data["c"] == [1, 2]
    assert doc.data["b"] is not doc.data["c"]


def test_invalid_utf8_points_at_the_byte() -> None:
    doc, diags = load_bytes(b"a: 1\nbb: \xc3\x28\n", "f.yaml")
    assert doc is None and codes(diags) == [(2, 5, "HACC002")]


def test_bom_is_accepted() -> None:
    doc, diags = load_bytes(b"\xef\xbb\xbfa: 1\n", "f.yaml")
    assert diags == [] and doc is not None and doc.data == {"a": 1}


def test_control_characters_and_deep_nesting() -> None:
    _, diags = load_text("a: \x1b[31m\n", "f.yaml")
    assert diags[0].code == "HACC004"
    _, diags = load_text("a: " + "[" * 5000 + "]" * 5000 + "\n", "f.yaml")
    assert diags[0].code == "HACC004"


def test_nan_and_non_string_keys() -> None:
    _, diags = load_text("a: .nan\n? [1]\n: x\ntrue: 1\n", "f.yaml")
    assert [d.code for d in diags] == ["HACC009"] * 3


def test_comment_only_and_null_documents() -> None:
    assert load_text("# nothing\n", "f.yaml")[1][0].code == "HACC003"
    assert load_text("~\n", "f.yaml")[1][0].code == "HACC008"
    assert load_text("just a string\n", "f.yaml")[1][0].code == "HACC008"


# libyaml's composer stands in for ruamel's when a document composes without a problem: it must
# give what ruamel gives, value for value, line and column for line and column.

COMPOSER_CASES = [
    "a: 0o17\nb: 017\nc: 1_000\nd: 0x1F\ne: .inf\nf: -.INF\ng: .nan\nh: 1e3\ni: 1.5e-3\n",
    "yes: on\nno: off\nt: [true, True, TRUE, false, y, n]\nnull: ~\nempty:\n",
    "base: &b {x: 1, y: [2, 3]}\nmerged:\n  <<: *b\n  z: 4\nboth: {<<: [*b, {w: 5}]}\n",
    "s: !!str 12\ni: !!int '7'\nf: !!float 1\nb: !!bool 'true'\nx: !foo bar\nbin: !!binary aGk=\n",
    "when: 2001-12-14\nt: 2001-12-14t21:59:43.10-05:00\n",
    "? [a, b]\n: complex\n? {k: v}\n: flow\n",
    "dup: 1\ndup: 2\n",
    "lit: |\n  one\n   two\n\nfold: >-\n  a\n  b\n\n  c\nkeep: |+\n  x\n\n",
    "q: 'it''s'\nd: \"tab\\there \\u00e9 \\U0001F600 \\x41\"\nmulti: plain\n  continued\n  lines\n",
    "uni: héllo 😀 中文\n😀: key\nsp: '  lead and trail  '\n",
    "---\na: 1\n...\n",
    "--- !!map\na: !!seq [1, 2]\n",
    "# comment\na: 1 # trailing\n# more\nb:\n  - 1 # x\n  - [2, {c: 3}]\n",
    "list:\n- a\n- b:\n    c: d\n-   - nested\n    - list\n",
    "a: 1\r\nb:\r\n  c: 2\r\n",
    "a: [1, 2,\n  3]\nb: {x: 1,\n  y: 2}\n",
    "- top\n- level\n",
    "just a string\n",
    "42\n",
    "a: &x [1, 2]\nb: *x\nc: *x\n",
    "k: 'multi\n  line\n\n  quoted'\n",
    "apiVersion: hacc.dev/v1alpha1\nkind: HACluster\nmetadata: {name: x}\n",
    "a: 12:30:45\nb: 1:20\nc: 0b101\nd: +12\ne: -0\nf: 0.\ng: .5\n",
    "a: null\nb: Null\nc: NULL\nd: Nope\n",
    "a: 1\n\n\n\nb: 2\n",
    "\ta: tab indent\n",
]


def _both(text: str) -> tuple[Any, Any] | None:
    from ruamel.yaml import YAML

    from hacc.compiler import loader

    fast = loader._load_fast(text, "spec.yaml")
    if fast is None:
        return None
    located = loader._compose_located(text, "spec.yaml", YAML(typ="rt"))
    return fast, located


def _same(fast: Any, located: Any) -> None:
    (fd, fp), (ld, lp) = fast, located
    assert fp == lp
    assert (fd is None) == (ld is None)
    if fd is not None:
        assert json.dumps(fd.data, sort_keys=True) == json.dumps(ld.data, sort_keys=True)
        assert fd.values == ld.values and fd.keys == ld.keys


@pytest.mark.parametrize("text", COMPOSER_CASES)
def test_libyaml_composes_what_ruamel_composes(text: str) -> None:
    both = _both(text)
    if both is not None:
        _same(*both)


def test_libyaml_stands_in_for_every_spec_in_the_repository() -> None:
    pytest.importorskip("yaml._yaml", reason="PyYAML without libyaml: ruamel composes alone")
    files = [*EXAMPLES, *REPO.glob("tests/specs/**/*.yaml"), *REPO.glob("tests/fixtures/**/*.yaml")]
    composed = 0
    for path in files:
        both = _both(path.read_bytes().decode("utf-8", "replace").removeprefix("\ufeff"))
        if both is not None:
            composed += 1
            _same(*both)
    assert composed > len(files) // 2  # the fast path is the usual one


def test_libyaml_leaves_problems_to_ruamel() -> None:
    from hacc.compiler import loader

    for text in (
        "a: &x 1\nb: &x 2\n",
        "a: 1\n---\nb: 2\n",
        "a: [1\n",
        "%YAML 1.1\n---\na: yes\n",
        "a:\n  b: 1\n\ufeff c: 2\n",  # libyaml skips the mark; ruamel makes it part of a key
        "",
    ):
        assert loader._compose_fast(text) is None, text


def test_libyaml_reads_only_plain_values_and_leaves_the_rest_to_ruamel() -> None:
    """Without ruamel, the fast path reads `true`, `~`, `-12`, `1.5e3` itself; a value only
    ruamel's constructor knows how to read sends the whole document to ruamel."""
    pytest.importorskip("yaml._yaml", reason="PyYAML without libyaml: ruamel composes alone")
    from hacc.compiler import loader

    fast = loader._load_fast("a: true\nb: ~\nc: -12\nd: 1.5e3\ne: '0x1F'\nf:\n", "spec.yaml")
    assert fast is not None and fast[0] is not None
    assert fast[0].data == {"a": True, "b": None, "c": -12, "d": 1500.0, "e": "0x1F", "f": None}
    for text in ("a: 0x1F\n", "a: 1_000\n", "a: 017\n", "a: .inf\n", "a: !!int cp2\n"):
        assert loader._load_fast(text, "spec.yaml") is None, text
        doc, problems = load_text(text, "spec.yaml")  # ruamel's reading
        assert doc is not None or problems, text


def test_the_fast_path_resolves_tags_as_the_installed_ruamel_does() -> None:
    """hacc's copy of ruamel's YAML 1.2 implicit-tag table (loader._IMPLICIT_12) is the table
    of the ruamel.yaml installed: same tags, patterns and order for every first character."""
    from ruamel.yaml.resolver import VersionedResolver

    from hacc.compiler import loader

    def shape(pattern: re.Pattern[str]) -> tuple[str, int]:  # the same pattern, laid out anew
        return re.sub(r"\s+", "", pattern.pattern), pattern.flags

    theirs = VersionedResolver(version=(1, 2)).versioned_resolver
    for first in {*theirs, *"".join(chars for _, _, chars, _ in loader._IMPLICIT_12)}:
        mine = [(tag, shape(p)) for tag, p in loader._implicit(first or "")]
        assert mine == [(str(tag), shape(p)) for tag, p in theirs.get(first, [])], first


def test_an_integer_too_long_for_python_is_a_located_error() -> None:
    """Python refuses to convert over 4300 digits: ruamel's reading reports it, no crash."""
    doc, problems = load_text("a: " + "5" * 4400 + "\n", "spec.yaml")
    assert doc is None and codes(problems) == [(1, 4, "HACC009")]


def test_a_plain_spec_is_read_without_importing_ruamel() -> None:
    pytest.importorskip("yaml._yaml", reason="PyYAML without libyaml: ruamel composes alone")
    code = (
        "import sys\n"
        "from hacc.compiler.loader import load_text\n"
        f"doc, problems = load_text(open({str(EXAMPLES[0])!r}).read(), 'x')\n"
        "assert doc is not None and not problems\n"
        "assert not [m for m in sys.modules if m.startswith('ruamel')], 'ruamel imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_folded_scalar_reads_as_folded_by_either_composer() -> None:
    from ruamel.yaml import YAML

    from hacc.compiler import loader

    text = "fold: >-\n  a\n  b\n\n  c\n"
    doc, problems = loader._compose_located(text, "spec.yaml", YAML(typ="rt"))
    assert not problems and doc is not None and doc.data == {"fold": "a b\nc"}
    doc, problems = load_text(text, "spec.yaml")
    assert not problems and doc is not None and doc.data == {"fold": "a b\nc"}


def _documents() -> Any:
    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.sampled_from(["yes", "0o17", "1_000", "012", "~", "1e3", "<<", "-", "a: b", "#x"]),
    )
    keys = st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(["on", "y", "null", "1"]))
    tree = st.recursive(
        scalars,
        lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(keys, kids, max_size=4)),
        max_leaves=20,
    )
    styles = st.sampled_from([None, "", "'", '"', "|", ">"])
    return st.tuples(tree, styles, st.sampled_from([None, True, False]))


@pytest.mark.slow
def test_libyaml_composes_what_ruamel_composes_for_generated_documents() -> None:
    import yaml
    from hypothesis import HealthCheck, given, settings

    @settings(
        max_examples=int(os.environ.get("HACC_LOADER_EXAMPLES", "400")),
        derandomize=True,  # the same examples on every run: CI never fails by chance
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(_documents())
    def check(case: tuple[Any, Any, Any]) -> None:
        data, style, flow = case
        text = yaml.safe_dump(
            {"root": data}, default_style=style, default_flow_style=flow, allow_unicode=True
        )
        both = _both(text)
        if both is not None:
            _same(*both)

    check()
