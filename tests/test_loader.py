from __future__ import annotations

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
