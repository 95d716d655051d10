"""The one rule for free text: which characters a spec's free-text values (URLs, flag values,
paths, commands, file contents) and the terminal lines hacc prints from recorded data may hold.

Refused everywhere: C0 and C1 controls and DEL (a C1 CSI starts a terminal escape as surely as
ESC [), the Unicode line and paragraph separators (line breaks to YAML and JavaScript), the
bidirectional embeddings, overrides and isolates (text shown in another order than it runs),
the zero-width space, joiners and byte-order mark (invisible in review), the noncharacters
U+FFFE and U+FFFF (which YAML cannot emit) and lone surrogates (which UTF-8 cannot encode).
The schema's free-text patterns are written from `char_class` (tests/test_printable.py checks
every one of them against `forbidden()`).
"""

from __future__ import annotations

from collections.abc import Iterator

FORBIDDEN = (
    (0x00, 0x1F),  # C0 controls
    (0x7F, 0x9F),  # DEL and C1 controls
    (0x200B, 0x200D),  # zero-width space, non-joiner, joiner
    (0x2028, 0x2029),  # line and paragraph separators
    (0x202A, 0x202E),  # bidirectional embeddings and overrides
    (0x2066, 0x2069),  # bidirectional isolates
    (0xD800, 0xDFFF),  # surrogates (only ever lone ones in a Python str)
    (0xFEFF, 0xFEFF),  # zero-width no-break space (byte-order mark)
    (0xFFFE, 0xFFFF),  # noncharacters
)


def forbidden(allow: str = "") -> Iterator[str]:
    """Every character the rule refuses, but those in `allow`."""
    for low, high in FORBIDDEN:
        for code in range(low, high + 1):
            if chr(code) not in allow:
                yield chr(code)


def _escape(code: int) -> str:
    return f"\\u{code:04x}"


def char_class(*, allow: str = "", also: str = "") -> str:
    r"""A regex character class (the same in Python and ECMA-262, so in the schema) of the
    characters the rule lets through, but those in `also` (written as regex class text, such
    as `\s"'`). `allow`: characters of the refused ranges let through (a file's tab and
    newline)."""
    ranges: list[tuple[int, int]] = []
    for low, high in FORBIDDEN:
        start = None
        for code in range(low, high + 2):
            inside = code <= high and chr(code) not in allow
            if inside and start is None:
                start = code
            elif not inside and start is not None:
                ranges.append((start, code - 1))
                start = None
    body = "".join(_escape(lo) if lo == hi else f"{_escape(lo)}-{_escape(hi)}" for lo, hi in ranges)
    return f"[^{also}{body}]"


PRINTABLE_CHARS = char_class()
