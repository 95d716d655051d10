"""`hacc completion SHELL`: a completion script for bash, zsh or fish, on standard output."""

from __future__ import annotations

from dataclasses import dataclass

from hacc.commands import Report
from hacc.errors import EXIT_OK


@dataclass(frozen=True)
class Options:
    shell: str


def run(opts: Options, report: Report) -> int:
    from hacc.cli.completion import script
    from hacc.cli.main import _parser

    report.out(script(opts.shell, _parser()), plain=True)
    return EXIT_OK
