"""`hacc plan`: what building would change, and what each change means for a live cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hacc.commands import Report
from hacc.commands.shared import compile_reported, secret_values
from hacc.errors import EXIT_OK, EXIT_PROBLEMS

EXIT_CHANGES = 2  # --detailed-exitcode


@dataclass(frozen=True)
class Options:
    specs: list[str]
    output: str = "out"
    strict: bool = False
    diff: bool = False
    detailed_exitcode: bool = False


def run(opts: Options, report: Report) -> int:
    from hacc import fsafe
    from hacc.build import orphans, plan
    from hacc.planview import render

    units, ok = compile_reported(opts.specs, report, strict=opts.strict, out=opts.output)
    if not ok:
        return EXIT_PROBLEMS
    with fsafe.locked(Path(opts.output), exclusive=False):
        plans = plan(units, opts.output)
        orphaned = orphans(units, opts.output)
    secrets = secret_values(units) if opts.diff else []
    report.out(render(plans, diff=opts.diff, orphans=orphaned, redact=secrets))
    if opts.detailed_exitcode and (orphaned or any(p.pending for p in plans)):
        return EXIT_CHANGES
    return EXIT_OK
