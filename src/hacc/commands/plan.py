"""`hacc plan`: what building would change, and what each change means for a live cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hacc.commands import Report
from hacc.commands.shared import compile_reported, secret_values
from hacc.errors import EXIT_OK, EXIT_PROBLEMS

EXIT_CHANGES = 4  # --detailed-exitcode; not Terraform's 2, which is hacc's usage-error code


@dataclass(frozen=True)
class Options:
    specs: list[str]
    output: str = "out"
    strict: bool = False
    diff: bool = False
    detailed_exitcode: bool = False
    json: bool = False


def run(opts: Options, report: Report) -> int:
    from hacc.diagnostics import Diagnostic
    from hacc.outdir import fsafe
    from hacc.outdir.plan_view import as_json, render
    from hacc.outdir.units import orphans, plan

    diags: list[Diagnostic] | None = [] if opts.json else None
    units, ok = compile_reported(
        opts.specs, report, strict=opts.strict, out=opts.output, collect=diags
    )
    if not ok:
        if opts.json:
            report.out(as_json("plan", [], [], diags or [], ok=False), plain=True)
        return EXIT_PROBLEMS
    with fsafe.locked(Path(opts.output), exclusive=False):
        plans = plan(units, opts.output)
        orphaned = orphans(units, opts.output)
    if opts.json:
        report.out(as_json("plan", plans, orphaned, diags or [], ok=True), plain=True)
    else:
        secrets = secret_values(units) if opts.diff else []
        report.out(render(plans, diff=opts.diff, orphans=orphaned, redact=secrets))
    if opts.detailed_exitcode and (orphaned or any(p.pending for p in plans)):
        return EXIT_CHANGES
    return EXIT_OK
