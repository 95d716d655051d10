"""hacc's fast validator agrees with jsonschema's Draft7Validator, on valid and mutated specs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, ValidationError, validators

from hacc.compiler.schema_check import Validator, pattern_search
from hacc.schemas import load_schema
from test_property import SPECS, VALUES, mutate, paths

SCHEMA = load_schema()


def _ecma_pattern(validator, pattern, instance, schema):
    # jsonschema searches with Python's `re`, whose `$` also matches before a final newline;
    # JSON Schema means ECMA-262, which test_patterns.py checks pattern_search against (QuickJS).
    if validator.is_type(instance, "string") and not pattern_search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


REFERENCE = validators.extend(Draft7Validator, {"pattern": _ecma_pattern})(SCHEMA)
FAST = Validator(SCHEMA)


def verdict(validator, data):
    return sorted({tuple(map(str, e.absolute_path)) for e in validator.iter_errors(data)})


def test_examples_are_valid_for_both() -> None:
    for spec in SPECS:
        assert verdict(FAST, spec) == verdict(REFERENCE, spec) == []


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_same_errors_at_the_same_paths(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(SPECS))
    mutated = base
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(mutated)))
        action = data.draw(st.sampled_from(["delete", "replace", "add-key", "duplicate"]))
        mutated = mutate(mutated, path, action, data.draw(VALUES))
    assert verdict(FAST, mutated) == verdict(REFERENCE, mutated)
