"""`hacc plan`: what building would change, and what each change means for a live cluster."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import command, format_argument, spec_arguments, specs_given
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

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(
            specs=specs_given(args.specs, "plan"),
            output=args.output,
            strict=args.strict,
            diff=args.diff,
            detailed_exitcode=args.detailed_exitcode,
            json=args.format == "json",
        )


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


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    pl = command(
        sub,
        "plan",
        help="show what build would change, and what each change means for a live cluster",
        description="Compile in memory and compare with OUT: + create, ~ update, - destroy per "
        "file, each tagged with its impact (first boot only, GitOps-reconciled, live-node step, "
        "documentation) and the step a live cluster needs.",
        epilog="exit codes: 0 success; with --detailed-exitcode 0 no changes, 4 changes; "
        "1 errors; 2 usage error; 3 internal error.",
    )
    spec_arguments(pl, output=True)
    pl.add_argument("--diff", action="store_true", help="show a unified diff of every update")
    pl.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 4 when there are changes, 0 when none (not 2: that is the usage-error code)",
    )
    format_argument(pl)


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
