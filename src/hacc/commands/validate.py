"""`hacc validate`: schema and semantic checks, every problem of every spec at once."""

from __future__ import annotations

from dataclasses import dataclass

from hacc.commands import Report, plural
from hacc.errors import EXIT_OK, EXIT_PROBLEMS


@dataclass(frozen=True)
class Options:
    specs: list[str]
    strict: bool = False
    json: bool = False


def run(opts: Options, report: Report) -> int:
    from hacc.compiler.frontend import analyze_all
    from hacc.diagnostics import promote_warnings, render_json

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
