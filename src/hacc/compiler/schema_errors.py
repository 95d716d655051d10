"""JSON Schema validation, with every error turned into a located, readable diagnostic."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from hacc.compiler.loader import Document, Path_
from hacc.compiler.schema_check import Validator
from hacc.diagnostics import ERROR, Diagnostic
from hacc.schemas import is_type, load_schema

_RANGE = {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
}
_JSON_TYPES = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the spec"


def _kind(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_sentence(text: str) -> str:
    head = text.split(". ", maxsplit=1)[0].rstrip(".")
    return head[:1].lower() + head[1:]


@cache
def _get_validator() -> Validator:
    return Validator(load_schema())


def validate(doc: Document) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for error in _get_validator().iter_errors(doc.data):
        out.extend(_translate(doc, error))
    return out


def _type_names(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    names = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "a boolean",
        "null": "null",
    }
    if t is None:
        if "const" in schema or "enum" in schema:
            return ["one of the listed values"]
        return []
    return [names[x] for x in ([t] if isinstance(t, str) else t)]


def _type_matches(schema: dict[str, Any], value: Any) -> bool:
    t = schema.get("type")
    if t is None:
        return True
    return any(is_type(value, x) for x in ([t] if isinstance(t, str) else t))


def _translate(doc: Document, error: Any) -> Iterator[Diagnostic]:
    path: Path_ = tuple(error.absolute_path)
    where = dotted(path)
    v = error.validator
    schema = error.schema
    value = error.instance

    def at(code: str, message: str, p: Path_ = path, key: bool = False) -> Diagnostic:
        return doc.diag(p, ERROR, code, message, key=key)

    if v == "additionalProperties":
        known = set(schema.get("properties", {}))
        for name in sorted(set(value) - known, key=lambda k: doc.locate((*path, k), key=True)):
            import difflib  # only for a misspelt key

            hint = difflib.get_close_matches(name, sorted(known), n=1)
            suggestion = (
                f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(sorted(known))}"
            )
            yield at(
                "HACC100", f"unknown key {name!r} in {where}{suggestion}", (*path, name), key=True
            )
    elif v == "required":
        for name in error.validator_value:
            if name not in value:
                yield at("HACC101", f"{where} is missing the required key {name!r}", path, key=True)
    elif v == "type":
        expected = " or ".join(_type_names(schema))
        yield at(
            "HACC102", f"{where} must be {expected}, not {_kind(value)}{_number_hint(path, value)}"
        )
    elif v in ("enum", "const"):
        allowed = error.validator_value if v == "enum" else [error.validator_value]
        yield at(
            "HACC103",
            f"{where} must be {' or '.join(repr(a) for a in allowed)}, not {_show(value)}",
        )
    elif v == "pattern" and "propertyNames" in error.schema_path:
        # the instance is a key of the mapping at `path`
        desc = _first_sentence(schema.get("description", "a valid name"))
        yield at(
            "HACC104",
            f"{where}: {_show(value)} is not valid: expected {desc}{_comma_hint(desc, value)}",
            (*path, value),
            key=True,
        )
    elif v == "pattern":
        yield _pattern(doc, path, where, schema, value)
    elif v in _RANGE:
        yield at("HACC105", f"{where}: {_range_message(v, error.validator_value, value)}")
    elif v in ("anyOf", "oneOf"):
        yield from _alternatives(doc, error, path, where, value)
    else:
        yield at("HACC106", f"{where}: {error.message}")


def _pattern(
    doc: Document, path: Path_, where: str, schema: dict[str, Any], value: str
) -> Diagnostic:
    desc = schema.get("description", "")
    if "IPv4" in desc:
        candidate = value.split("/", maxsplit=1)[0]
        try:
            if ipaddress.ip_address(candidate).version == 6:
                return doc.diag(
                    path,
                    ERROR,
                    "HACC213",
                    f"{where}: {_show(value)} is IPv6; MicroK8s joins and VRRP here take IPv4 only",
                )
        except ValueError:
            pass
    text = FORMATS.get(str(path[-1]) if path else "") or (
        _first_sentence(desc) if desc else "the expected format"
    )
    return doc.diag(
        path,
        ERROR,
        "HACC104",
        f"{where}: {_show(value)} is not valid: expected {text}{_case_hint(schema, value)}",
    )


def _number_hint(path: Path_, value: Any) -> str:
    """`channel: 1.33` is a number to YAML: a channel also needs its risk."""
    if path != ("spec", "microk8s", "channel") or not isinstance(value, (int, float)):
        return ""
    text = str(value)
    track = text if re.fullmatch(r"1\.[0-9]{2}", text) else "1.33"
    return (
        f"; a channel is `<track>/<risk>`, such as {track}/stable (unquoted, YAML reads 1.30 as "
        "the number 1.3)"
    )


# What a value must look like, where the schema's description says what it is for instead.
FORMATS = {
    "env": "an environment variable name: letters, digits and '_', not starting with a digit",
}


def _case_hint(schema: dict[str, Any], value: str) -> str:
    """`API.Example.COM`: the names hacc takes are lower-case, as DNS compares them."""
    pattern = schema.get("pattern")
    if pattern and value != value.lower() and re.search(pattern, value.lower()):
        return f"; names are lower-case here: did you mean {value.lower()!r}?"
    return ""


def _comma_hint(expected: str, key: str) -> str:
    """`{--authorization-mode: RBAC,Node}` reads as two keys: the comma split a flow mapping."""
    if expected.startswith("a flag name") and not key.startswith("-"):
        return "; if a value holds a comma in a {flow: mapping}, quote it, as in 'RBAC,Node'"
    return ""


def _range_message(kind: str, limit: Any, value: Any) -> str:
    return {
        "minimum": f"{_show(value)} is below the minimum {limit}",
        "maximum": f"{_show(value)} is above the maximum {limit}",
        "exclusiveMinimum": f"{_show(value)} must be greater than {limit}",
        "exclusiveMaximum": f"{_show(value)} must be less than {limit}",
        "minLength": f"must be at least {limit} characters long",
        "maxLength": f"must be at most {limit} characters long",
        "minItems": f"needs at least {limit} item{'s' if limit != 1 else ''}",
        "maxItems": f"takes at most {limit} items",
        "uniqueItems": "items must be unique",
        "minProperties": f"needs at least {limit} keys",
        "maxProperties": f"takes at most {limit} keys",
    }[kind]


def _alternatives(
    doc: Document, error: Any, path: Path_, where: str, value: Any
) -> Iterator[Diagnostic]:
    """Explain an anyOf/oneOf failure through the one alternative the value was aiming at."""
    branches: list[dict[str, Any]] = error.validator_value
    by_branch: dict[int, list[Any]] = {}
    for sub in error.context or []:
        by_branch.setdefault(sub.schema_path[0], []).append(sub)
    candidates = [i for i, b in enumerate(branches) if _type_matches(b, value)]
    if isinstance(value, dict) and len(candidates) > 1:
        with_keys = [
            i
            for i in candidates
            if set(branches[i].get("required", [])) <= set(value)
            and set(branches[i].get("required", [])) & set(value)
        ]
        if len(with_keys) == 1:
            candidates = with_keys
        else:
            forms = " | ".join(
                "{" + ", ".join(branches[i].get("required", [])) + "}" for i in candidates
            )
            yield doc.diag(
                path, ERROR, "HACC106", f"{where} must take exactly one of the forms {forms}"
            )
            return
    if len(candidates) == 1 and by_branch.get(candidates[0]):
        for sub in by_branch[candidates[0]]:
            yield from _translate(doc, sub)
        return
    if not candidates:
        names = [n for b in branches for n in _type_names(b)]
        expected = " or ".join(dict.fromkeys(names))
        yield doc.diag(path, ERROR, "HACC102", f"{where} must be {expected}, not {_kind(value)}")
        return
    yield doc.diag(path, ERROR, "HACC106", f"{where}: {error.message}")
