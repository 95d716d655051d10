"""`hacc validate`: schema and semantic checks, every problem of every spec at once."""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple

from hacc.commands import Report, plural
from hacc.commands.args import ENVIRONMENT, EPILOG, command, spec_arguments, specs_given
from hacc.errors import EXIT_OK, EXIT_PROBLEMS


class Options(NamedTuple):
    specs: list[str]
    strict: bool = False
    json: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(specs_given(args.specs, "validate"), args.strict, args.format == "json")


def run(opts: Options, report: Report) -> int:
    from hacc.diagnostics import promote_warnings, render_json

    diags = _cached(opts.specs)
    if diags is None:
        from hacc.outdir.analyses import analyze_all

        diags = [d for analysis in analyze_all(opts.specs) for d in analysis.diagnostics]
    if opts.strict:
        diags = promote_warnings(diags)
    errors = sum(d.is_error for d in diags)
    if opts.json:
        report.out(render_json(diags), plain=True)
    else:
        report.diagnostics(diags)
        n = plural(len(opts.specs), "spec")
        warnings = len(diags) - errors
        report.err(
            f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {n}"
            if diags
            else f"{n} valid"
        )
    return EXIT_PROBLEMS if errors else EXIT_OK


def _cached(specs: list[str]) -> list[Any] | None:
    """One spec's diagnostics from the analysis cache (with one spec there are no checks across
    specs), or None: then analyze."""
    from hacc.compiler.loader import read_spec, spec_name
    from hacc.outdir import cache

    if len(specs) != 1:
        return None
    name = spec_name(specs[0])
    raw, _ = read_spec(specs[0], name)
    return cache.cached_diagnostics(name, raw) if raw is not None else None


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    val = command(
        sub,
        "validate",
        help="check specs: schema and semantic rules",
        description="Check specs against the schema and hacc's semantic rules; "
        "report every problem at once.",
        epilog=EPILOG + ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    spec_arguments(val, output=False)
    val.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text diagnostics on stderr (default), or a JSON report on stdout",
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
