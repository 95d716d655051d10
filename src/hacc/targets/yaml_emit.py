"""A small, deterministic YAML emitter for the data hacc generates.

Output never depends on the installed ruamel.yaml version (snapshots stay byte-stable), it is
several times faster than a general emitter, and every string is emitted so that YAML 1.1
readers (cloud-init's PyYAML) and YAML 1.2 readers (ruamel, Go's yaml) read the same value:
a string that either version would resolve to a number, boolean, null or date is quoted.
Mappings keep insertion order; multi-line strings become literal blocks.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache, lru_cache
from typing import Any

# Conservative plain scalars: no spaces, no flow or comment indicators, a safe first character.
_PLAIN = re.compile(
    r"[A-Za-z0-9_./$]([A-Za-z0-9_./:@=,+$~^()*<> -]*[A-Za-z0-9_./@=,+$~^()*<>-])?", re.ASCII
)
_LEADING_DASH = re.compile(r"^-+[A-Za-z0-9]")


@cache
def _resolvers() -> tuple[Any, Any, Any]:
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    return ScalarNode, VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2))


@lru_cache(maxsize=1 << 16)  # keys and values repeat across every file and cluster
def _plain_is_string(s: str) -> bool:
    node, v11, v12 = _resolvers()
    tag = "tag:yaml.org,2002:str"
    return bool(v11.resolve(node, s, (True, False)) == tag == v12.resolve(node, s, (True, False)))


# Controls but tab and newline, C1 controls (U+0085 among them), and the Unicode line breaks.
_UNEMITTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _check_text(value: str) -> None:
    bad = _UNEMITTABLE.search(value)
    if bad:
        raise ValueError(f"character U+{ord(bad.group()):04X} cannot be emitted in {value!r}")


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot emit {type(value).__name__} as YAML")
    return _string(value)


@lru_cache(maxsize=1 << 16)  # keys and most values recur in every file of every cluster
def _string(value: str) -> str:
    if "\n" in value:
        raise ValueError("multi-line strings are emitted as blocks")
    plain = _PLAIN.fullmatch(value) or (
        _LEADING_DASH.match(value) and _PLAIN.fullmatch(value.lstrip("-"))
    )
    # A secret's placeholder is always quoted: whatever replaces it stays a string.
    placeholder = "__HACC_" in value
    safe = plain and not placeholder and ": " not in value and "  " not in value
    if safe and _plain_is_string(value):
        return value
    _check_text(value)
    if "\t" in value:
        return json.dumps(value, ensure_ascii=False)
    return "'" + value.replace("'", "''") + "'"


def _float(value: float) -> str:
    """A float both YAML 1.1 and 1.2 read back as that float: `.inf`, `.nan`, and a mantissa
    with a dot (YAML 1.1 reads `1e+20` as a string)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def _block_friendly(value: str) -> bool:
    """Literal blocks cannot say everything: whitespace-only lines and trailing blanks are lost,
    and libyaml (cloud-init's loader when present) rejects a line that starts with a tab."""
    lines = value.rstrip("\n").split("\n")
    return any(lines) and all(
        line == "" or (line.strip() and line == line.rstrip() and not line.startswith("\t"))
        for line in lines
    )


def _block(value: str, indent: int) -> list[str]:
    """A literal block scalar; chomping and indentation indicators as the content needs."""
    _check_text(value)
    body = value.rstrip("\n")
    trailing = len(value) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    lines = body.split("\n") + [""] * (trailing - 1 if trailing > 1 else 0)
    first = next((line for line in lines if line.strip(" ")), "")
    indicator = "2" if first.startswith(" ") or not first else ""
    pad = " " * indent
    out = [f"|{indicator}{chomp}"]
    out += [pad + line if line else "" for line in lines]
    return out


def _emit(value: Any, indent: int, out: list[str], prefix: str) -> None:
    """Append `value` at `indent`; `prefix` is what stands before its first line."""
    pad = " " * indent
    if isinstance(value, (dict, list)) and not value:
        out.append(prefix + ("{}" if isinstance(value, dict) else "[]"))
    elif isinstance(value, dict):
        for i, (key, item) in enumerate(value.items()):
            head = f"{prefix if i == 0 else pad}{scalar(key)}:"
            if isinstance(item, (dict, list)) and item:
                out.append(head)
                _emit(item, indent + 2, out, " " * (indent + 2))
            else:
                _emit(item, indent + 2, out, head + " ")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _emit(item, indent + 2, out, f"{prefix if i == 0 else pad}- ")
    elif isinstance(value, str) and "\n" in value and not _block_friendly(value):
        _check_text(value)
        out.append(prefix + json.dumps(value, ensure_ascii=False))
    elif isinstance(value, str) and "\n" in value:
        block = _block(value, indent)
        out.append(prefix + block[0])
        out.extend(block[1:])
    else:
        out.append(prefix + scalar(value))


def emit(document: dict[str, Any] | list[Any]) -> str:
    if not isinstance(document, (dict, list)):
        raise TypeError("a document is a mapping or a list")
    out: list[str] = []
    _emit(document, 0, out, "")
    return "\n".join(out) + "\n"
