"""One module per command. Each takes typed options and a Report, returns the exit code, and
raises HaccError for every expected failure; `hacc.cli` parses the command line, hands the
options over and turns exceptions into one line and an exit code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from hacc.diagnostics import Diagnostic, render_text


class Report:
    """Where a command's output goes: results on `out`, everything else on `err`, as it
    happens (the drill reports progress for minutes)."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self._out = out
        self._err = err

    def out(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def err(self, line: str) -> None:
        self._err.write(line + "\n")
        self._err.flush()

    def diagnostics(self, diags: Iterable[Diagnostic]) -> None:
        text = render_text(diags)
        if text:
            self._err.write(text)
            self._err.flush()


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"
