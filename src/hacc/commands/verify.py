"""`hacc verify`: check a live cluster against its spec from a workstation or CI."""

from __future__ import annotations

import json
from dataclasses import dataclass

from hacc.commands import Report
from hacc.errors import EXIT_OK, EXIT_PROBLEMS, UsageError


@dataclass(frozen=True)
class Options:
    spec: str
    ca: str | None = None
    timeout: float = 5.0
    json: bool = False


def run(opts: Options, report: Report) -> int:
    from hacc.compiler.frontend import analyze
    from hacc.live.probes import run as verify
    from hacc.live.probes import table

    if not 0 < opts.timeout <= 120:
        raise UsageError("hacc verify: --timeout takes 0 to 120 seconds")
    analysis = analyze(opts.spec)
    report.diagnostics(analysis.diagnostics)
    if not analysis.ok or analysis.cluster is None:
        return EXIT_PROBLEMS
    result = verify(analysis.cluster, ca=opts.ca, timeout=opts.timeout)
    if opts.json:
        report.out(json.dumps(result.as_json(), indent=2, sort_keys=True) + "\n", plain=True)
    else:
        report.out(table(result))
    return EXIT_OK if result.ok else EXIT_PROBLEMS
