"""hacc's YAML emitter: whatever it emits, YAML 1.1 (cloud-init's PyYAML) and 1.2 readers read back."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from hacc.targets.yaml_emit import emit, scalar

TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029", min_codepoint=0x20
    ),
    max_size=30,
)
MULTILINE = st.lists(st.text(alphabet=" abc:#'\"-\t", max_size=8), min_size=2, max_size=5).map(
    "\n".join
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False),
    TEXT,
    MULTILINE,
    st.sampled_from(
        [
            "0644",
            "yes",
            "on",
            "1:20",
            "~",
            "null",
            "1e3",
            "2024-01-01",
            "0x1F",
            ".inf",
            "--flag",
            "-",
            "- x",
            ":2112",
            "a: b",
            "a #b",
            "#c",
            "[x]",
            "{y}",
            "*a",
            "&a",
            "!t",
            "|",
            ">",
            "%",
            "@",
            "`",
            "'q'",
            '"q"',
            "",
            " ",
            "x ",
        ]
    ),
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=20,
)
DOCUMENTS = st.one_of(st.lists(DATA, max_size=4), st.dictionaries(TEXT, DATA, max_size=6))


def load(text: str, version: str):
    y = YAML(typ="safe", pure=True)
    y.version = version
    return y.load(text)


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS)
def test_round_trip_in_yaml_11_and_12(data) -> None:
    text = emit(data)
    assert load(text, "1.2") == data
    assert load(text, "1.1") == data
    # PyYAML, which cloud-init uses: libyaml's loader when present, else the pure one.
    assert yaml.load(text, Loader=yaml.CSafeLoader) == data
    assert yaml.load(text, Loader=yaml.SafeLoader) == data


def test_nan_and_tab_led_blocks() -> None:
    text = emit({"n": float("nan"), "t": "\tindented\nnext\n"})
    for loaded in (load(text, "1.1"), load(text, "1.2"), yaml.load(text, Loader=yaml.CSafeLoader)):
        assert math.isnan(loaded["n"]) and loaded["t"] == "\tindented\nnext\n"


@pytest.mark.parametrize("value", ["a\x07b", "a\rb", "x\u2028y"])
def test_unemittable_characters_raise(value) -> None:
    with pytest.raises(ValueError):
        emit({"k": value})


def test_plain_where_safe_quoted_where_not() -> None:
    assert scalar("198.18.10.11:25000/token") == "198.18.10.11:25000/token"
    assert scalar("--authorization-mode") == "--authorization-mode"
    assert scalar("0644") == "'0644'"
    assert scalar("on") == "'on'"
    assert scalar("it's") == "'it''s'"
