"""Colour on a terminal, following the NO_COLOR (https://no-color.org) and FORCE_COLOR
conventions: NO_COLOR set to anything disables it, FORCE_COLOR (not `0`) turns it on even
when piped, and otherwise only a terminal that is not `dumb` gets it."""

from __future__ import annotations

import os
import re
from typing import TextIO

RESET = "\x1b[0m"
RED = "\x1b[31m"
GREEN = "\x1b[32m"
YELLOW = "\x1b[33m"
BOLD = "\x1b[1m"

# (pattern, colour) applied per line: diagnostics, the plan's symbols and summary, one-line errors
RULES = [
    (re.compile(r"(error\[HACC\d{3}\])"), BOLD + RED),
    (re.compile(r"(warning\[HACC\d{3}\])"), BOLD + YELLOW),
    (re.compile(r"^(  \+ .*)$"), GREEN),
    (re.compile(r"^(  ~ .*)$"), YELLOW),
    (re.compile(r"^(  - .*)$"), RED),
    (re.compile(r"^(Plan: .*|No changes\..*)$"), BOLD),
    (re.compile(r"^(hacc(?: [a-z]+)?: .*)$"), RED),
]


def enabled(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    force = os.environ.get("FORCE_COLOR")
    if force is not None and force not in ("", "0"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def paint(text: str) -> str:
    return "\n".join(_paint_line(line) for line in text.split("\n"))


def _paint_line(line: str) -> str:
    for pattern, colour in RULES:
        line = pattern.sub(f"{colour}\\1{RESET}", line)
    return line
