"""JSON Schemas shipped as package data."""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

SPEC_SCHEMA = "hacluster-v1alpha1.json"


def schema_text(name: str = SPEC_SCHEMA) -> str:
    # A plain read beside this file: importlib.resources costs `validate` several milliseconds
    # of imports, and hacc is never run from a zip archive.
    with open(os.path.join(os.path.dirname(__file__), name), encoding="utf-8") as f:
        return f.read()


@cache
def load_schema(name: str = SPEC_SCHEMA) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text(name))
    return data


ANNOTATIONS = ("title", "description", "default")


def resolve(
    schema: dict[str, Any], root: dict[str, Any], *, annotations: bool = True
) -> dict[str, Any]:
    """`schema` with its `$ref` followed (to `#/definitions/...`). Draft-07 ignores every other
    keyword beside a `$ref`; hacc lets the annotations there (title, description, default)
    describe this use of the definition, for defaults and the docs. Validation passes
    `annotations=False` and reads the definition as it is (its description explains the format)."""
    while "$ref" in schema:
        target = dict(root["definitions"][schema["$ref"].rsplit("/", 1)[-1]])
        if annotations:
            target.update({k: v for k, v in schema.items() if k in ANNOTATIONS})
        schema = target
    return schema


def is_type(value: Any, t: str) -> bool:
    """JSON Schema's types: `integer` takes 3.0, and neither number type takes a boolean."""
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if t == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, (int, float))  # number
