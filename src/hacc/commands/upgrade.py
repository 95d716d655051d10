"""`hacc upgrade`: write the rolling-upgrade procedure (script and page) for a running cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hacc.commands import Report
from hacc.errors import EXIT_OK, EXIT_PROBLEMS


@dataclass(frozen=True)
class Options:
    spec: str
    to: str
    frm: str | None = None  # the channel the nodes follow, when the spec already says `to`
    output: str | None = None  # the folder (default: upgrade-<cluster>-<channel>)


def run(opts: Options, report: Report) -> int:
    from hacc.compiler.frontend import analyze
    from hacc.outdir import fsafe
    from hacc.targets.upgrade_script import page, procedure, script

    analysis = analyze(opts.spec)
    report.diagnostics(analysis.diagnostics)
    if not analysis.ok or analysis.cluster is None:
        return EXIT_PROBLEMS
    p = procedure(analysis.cluster, opts.to, opts.frm)
    folder = Path(opts.output or p.slug)
    files = {f"{p.slug}.sh": (script(p), 0o755), f"{p.slug}.md": (page(p), 0o644)}
    for name in files:  # both or neither: a FIFO or a link where the page goes stops both
        fsafe.regular_or_missing(folder / name)
    folder.mkdir(parents=True, exist_ok=True)
    for name, (text, mode) in files.items():
        fsafe.write(folder / name, text.encode("utf-8"), mode)
    steps = len(p.cluster.control_plane) + len(p.batches)
    report.err(
        f"wrote {folder / (p.slug + '.sh')} and {p.slug}.md: {p.old.text} -> {p.new.text} "
        f"in {steps} steps ({len(p.cluster.control_plane)} control-plane nodes one by one, "
        f"{len(p.cluster.workers)} workers in {len(p.batches)} batches); "
        f"run it with --dry-run first"
    )
    return EXIT_OK
