"""One module per command. Each takes typed options and a Report, returns the exit code, and
raises HaccError for every expected failure; `hacc.cli.main` parses the command line, hands the
options over and turns exceptions into one line and an exit code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from hacc.diagnostics import Diagnostic, render_text


class Report:
    """Where a command's output goes: results on `out`, everything else on `err`, as it
    happens (the drill reports progress for minutes)."""

    def __init__(self, out: TextIO, err: TextIO, *, colour: bool | None = None) -> None:
        """`colour`: None follows the terminal and NO_COLOR / FORCE_COLOR (hacc.commands.colour)."""
        from hacc.commands import colour as c

        self._out = out
        self._err = err
        self._colour_out = c.enabled(out) if colour is None else colour
        self._colour_err = c.enabled(err) if colour is None else colour

    def out(self, text: str, *, plain: bool = False) -> None:
        """`plain`: never coloured (JSON, files)."""
        self._out.write(self._paint(text, self._colour_out and not plain))
        self._out.flush()

    def err(self, line: str) -> None:
        self._err.write(self._paint(line, self._colour_err) + "\n")
        self._err.flush()

    def diagnostics(self, diags: Iterable[Diagnostic]) -> None:
        text = render_text(diags)
        if text:
            self._err.write(self._paint(text, self._colour_err))
            self._err.flush()

    @staticmethod
    def _paint(text: str, on: bool) -> str:
        from hacc.commands.colour import paint

        return paint(text) if on else text


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"
