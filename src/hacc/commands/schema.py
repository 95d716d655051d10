"""`hacc schema`: the spec's JSON Schema, on standard output or into a file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hacc.commands import Report
from hacc.errors import EXIT_OK


@dataclass(frozen=True)
class Options:
    output: str | None = None


def run(opts: Options, report: Report) -> int:
    from hacc.outdir import fsafe
    from hacc.schemas import schema_text

    text = schema_text()
    if opts.output:
        fsafe.write(Path(opts.output), text.encode("utf-8"), 0o644)
    else:
        report.out(text, plain=True)
    return EXIT_OK
