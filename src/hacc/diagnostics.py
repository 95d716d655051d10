"""Located diagnostics: one immutable record, printed in one format."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import NamedTuple

ERROR = "error"
WARNING = "warning"


class Diagnostic(NamedTuple):
    """A problem at FILE:LINE:COL (1-based), with a stable code. A NamedTuple, as every record
    on `validate`'s path: importing dataclasses and creating its classes cost more than the
    rest of validating one spec."""

    file: str
    line: int
    column: int
    severity: str
    code: str
    message: str

    def format(self) -> str:
        return (
            f"{one_line(self.file)}:{self.line}:{self.column}: "
            f"{self.severity}[{self.code}]: {one_line(self.message)}"
        )

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def one_line(text: str) -> str:
    """`text` with every character Python does not call printable escaped (C0 and C1 controls,
    DEL, line and paragraph separators, bidi and zero-width format characters, surrogates): a
    key or file name holding a newline must not break a diagnostic in two (or forge another),
    and what a server sends must not reach a terminal as escape sequences. The one escaping
    function for text hacc prints from untrusted sources."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str, str]:
    return (d.file, d.line, d.column, d.code, d.message)


def promote_warnings(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """`--strict`: every warning becomes an error."""
    return [
        Diagnostic(d.file, d.line, d.column, ERROR, d.code, d.message)
        if d.severity == WARNING
        else d
        for d in diags
    ]


def render_text(diags: Iterable[Diagnostic]) -> str:
    return "".join(d.format() + "\n" for d in diags)


JSON_FORMAT_VERSION = (
    "1"  # of every --format json document; raised on a change that could break a reader
)


def render_json(diags: Iterable[Diagnostic]) -> str:
    """`hacc validate --format json`."""
    items = [d._asdict() for d in diags]
    errors = sum(1 for d in items if d["severity"] == ERROR)
    doc = {
        "format_version": JSON_FORMAT_VERSION,
        "command": "validate",
        "diagnostics": items,
        "errors": errors,
        "warnings": len(items) - errors,
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
