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
    script: str | None = None  # a folder for the live-change procedures

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(
            specs=specs_given(args.specs, "plan"),
            output=args.output,
            strict=args.strict,
            diff=args.diff,
            detailed_exitcode=args.detailed_exitcode,
            json=args.format == "json",
            script=args.script,
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
    if opts.script is not None:
        write_scripts(Path(opts.script), plans, report)
    if opts.json:
        report.out(as_json("plan", plans, orphaned, diags or [], ok=True), plain=True)
    else:
        secrets = secret_values(units) if opts.diff else []
        report.out(render(plans, diff=opts.diff, orphans=orphaned, redact=secrets))
    from hacc.outdir.plan_view import live_procedures

    changed = orphaned or any(p.pending for p in plans) or live_procedures(plans)
    if opts.detailed_exitcode and changed:
        return EXIT_CHANGES
    return EXIT_OK


def write_scripts(folder: Path, plans: list[Any], report: Report) -> None:
    """Each cluster's live-change procedure, a script and its page, into `folder`."""
    from hacc.outdir import fsafe
    from hacc.outdir.plan_view import live_procedures
    from hacc.targets.procedure import page, script

    procedures = live_procedures(plans, folder)
    files = {}
    for _, proc in procedures:
        files[f"{proc.slug}.sh"] = (script(proc), 0o755)
        files[f"{proc.slug}.md"] = (page(proc), 0o644)
    for name in files:  # all or none: a FIFO or a link where one goes stops them all
        fsafe.regular_or_missing(folder / name)
    if not files:
        report.err("no cluster needs live-node steps: no procedure written")
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name, (text, mode) in files.items():
        fsafe.write(folder / name, text.encode("utf-8"), mode)
    for _, proc in procedures:
        report.err(
            f"wrote {folder / (proc.slug + '.sh')} and {proc.slug}.md: {len(proc.steps)} steps; "
            "run it with --dry-run first"
        )


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
    pl.add_argument(
        "--script",
        metavar="DIR",
        help="write, for each cluster whose running nodes need steps, a resumable procedure "
        "(day2-CLUSTER.sh and .md) into DIR",
    )
    format_argument(pl)


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
