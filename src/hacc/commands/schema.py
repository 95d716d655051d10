"""`hacc schema`: the spec's JSON Schema, on standard output or into a file."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import command
from hacc.errors import EXIT_OK


@dataclass(frozen=True)
class Options:
    output: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(output=args.output)


def run(opts: Options, report: Report) -> int:
    from hacc.outdir import fsafe
    from hacc.schemas import schema_text

    text = schema_text()
    if opts.output:
        fsafe.write(Path(opts.output), text.encode("utf-8"), 0o644)
    else:
        report.out(text, plain=True)
    return EXIT_OK


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    sch = command(
        sub,
        "schema",
        help="print the spec's JSON Schema",
        description="Print the JSON Schema (draft-07) of the spec.",
        epilog="exit codes: 0 success, 1 FILE cannot be written, 2 usage error, 3 internal error.",
    )
    sch.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
