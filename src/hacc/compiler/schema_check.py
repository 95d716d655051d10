"""A small validator for the draft-07 keywords hacc's own schema uses.

`import jsonschema` alone costs more than the rest of `hacc validate`, which runs on every
commit through pre-commit. This walker covers exactly the keywords in KEYWORDS; a test fails if
the schema starts using another one, and a property test checks that it agrees with jsonschema
on valid and mutated specs. Errors mirror jsonschema's fields so one translator serves both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any, NamedTuple

from hacc.schemas import is_type, resolve

KEYWORDS = frozenset({
    "$schema", "$id", "$ref", "title", "description", "default", "definitions",
    "type", "properties", "additionalProperties", "required", "propertyNames",
    "items", "minItems", "maxItems", "uniqueItems", "enum", "const", "pattern",
    "minLength", "maxLength", "minimum", "maximum", "anyOf", "oneOf", "maxProperties",
})  # fmt: skip


class SchemaError(NamedTuple):
    validator: str
    validator_value: Any
    instance: Any
    schema: dict[str, Any]
    absolute_path: tuple[Any, ...]
    schema_path: tuple[Any, ...]
    context: list[SchemaError]

    @property
    def message(self) -> str:
        return f"{self.instance!r} fails {self.validator} {self.validator_value!r}"


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


# ECMA-262's \s (what editors and other JSON Schema tools use), written out for Python.
ECMA_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def ecma_to_python(pattern: str) -> str:
    r"""A Python regex that means what the ECMA-262 `pattern` means (JSON Schema's dialect), for
    the constructs hacc's schema uses: `$` is the end of the input (Python's `$` also matches
    before a final newline), `\s` is ECMA's whitespace set; `\d` and `\w` are ASCII (re.ASCII)."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "s":
                out.append(ECMA_SPACE if in_class else f"[{ECMA_SPACE}]")
            elif nxt == "S" and not in_class:
                out.append(f"[^{ECMA_SPACE}]")
            elif nxt == "S":
                raise ValueError(f"\\S inside a character class: {pattern}")
            else:
                out.append(c + nxt)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        elif c == "$" and not in_class:
            c = "\\Z"
        out.append(c)
        i += 1
    return "".join(out)


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(ecma_to_python(pattern), re.ASCII)


def pattern_search(pattern: str, value: str) -> bool:
    """JSON Schema's `pattern`, with ECMA-262 meaning."""
    return _regex(pattern).search(value) is not None


def value_ok(path: tuple[str, ...], value: Any) -> bool:
    """Whether `value` is valid where `path` (property names from the root) points in hacc's
    schema: for data that comes back from elsewhere, such as another folder's state file."""
    from hacc.schemas import load_schema

    root = load_schema()
    validator = Validator(root)
    schema: dict[str, Any] = root
    for name in path:
        schema = validator._resolve(schema)["properties"][name]
    return not any(True for _ in validator._errors(value, schema, (), ()))


class Validator:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        return resolve(schema, self.root, annotations=False)

    def iter_errors(self, instance: Any) -> Iterator[SchemaError]:
        yield from self._errors(instance, self.root, (), ())

    def _errors(
        self, inst: Any, schema: dict[str, Any], path: tuple[Any, ...], spath: tuple[Any, ...]
    ) -> Iterator[SchemaError]:
        schema = self._resolve(schema)

        def err(kw: str, value: Any, context: list[SchemaError] | None = None) -> SchemaError:
            return SchemaError(kw, value, inst, schema, path, (*spath, kw), context or [])

        t = schema.get("type")
        if t is not None and not any(is_type(inst, x) for x in ([t] if isinstance(t, str) else t)):
            yield err("type", t)
            return
        if "const" in schema and not _equal(inst, schema["const"]):
            yield err("const", schema["const"])
        if "enum" in schema and not any(_equal(inst, e) for e in schema["enum"]):
            yield err("enum", schema["enum"])
        for kw in ("anyOf", "oneOf"):
            if kw in schema:
                branches = schema[kw]
                context: list[SchemaError] = []
                passed = 0
                for i, sub in enumerate(branches):
                    errs = list(self._errors(inst, sub, path, (i,)))
                    context.extend(errs)
                    passed += not errs
                if passed == 0 or (kw == "oneOf" and passed > 1):
                    yield err(kw, branches, context if passed == 0 else [])
        if isinstance(inst, str):
            if "pattern" in schema and not pattern_search(schema["pattern"], inst):
                yield err("pattern", schema["pattern"])
            if "minLength" in schema and len(inst) < schema["minLength"]:
                yield err("minLength", schema["minLength"])
            if "maxLength" in schema and len(inst) > schema["maxLength"]:
                yield err("maxLength", schema["maxLength"])
        elif isinstance(inst, (int, float)) and not isinstance(inst, bool):
            if "minimum" in schema and inst < schema["minimum"]:
                yield err("minimum", schema["minimum"])
            if "maximum" in schema and inst > schema["maximum"]:
                yield err("maximum", schema["maximum"])
        elif isinstance(inst, list):
            yield from self._array(inst, schema, path, spath, err)
        elif isinstance(inst, dict):
            yield from self._object(inst, schema, path, spath, err)

    def _array(
        self,
        inst: list[Any],
        schema: dict[str, Any],
        path: tuple[Any, ...],
        spath: tuple[Any, ...],
        err: Any,
    ) -> Iterator[SchemaError]:
        if "minItems" in schema and len(inst) < schema["minItems"]:
            yield err("minItems", schema["minItems"])
        if "maxItems" in schema and len(inst) > schema["maxItems"]:
            yield err("maxItems", schema["maxItems"])
        if schema.get("uniqueItems") and any(
            _equal(a, b) for i, a in enumerate(inst) for b in inst[i + 1 :]
        ):
            yield err("uniqueItems", True)
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(inst):
                yield from self._errors(item, schema["items"], (*path, i), (*spath, "items", i))

    def _object(
        self,
        inst: dict[str, Any],
        schema: dict[str, Any],
        path: tuple[Any, ...],
        spath: tuple[Any, ...],
        err: Any,
    ) -> Iterator[SchemaError]:
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in inst:
                yield err("required", schema["required"])
                break
        if "maxProperties" in schema and len(inst) > schema["maxProperties"]:
            yield err("maxProperties", schema["maxProperties"])
        if "propertyNames" in schema:
            names = schema["propertyNames"]
            for name in inst:
                yield from self._errors(name, names, path, (*spath, "propertyNames"))
        extra = [k for k in inst if k not in props]
        additional = schema.get("additionalProperties", True)
        if additional is False and extra:
            yield err("additionalProperties", False)
        for key, value in inst.items():
            if key in props:
                yield from self._errors(
                    value, props[key], (*path, key), (*spath, "properties", key)
                )
            elif isinstance(additional, dict):
                yield from self._errors(
                    value, additional, (*path, key), (*spath, "additionalProperties")
                )
