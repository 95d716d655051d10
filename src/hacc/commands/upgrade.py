"""`hacc upgrade`: write the rolling-upgrade procedure (script and page) for a running cluster,
to the next minor version or to the newest revision of its own channel."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import command
from hacc.errors import EXIT_OK, EXIT_PROBLEMS, HaccError


@dataclass(frozen=True)
class Options:
    spec: str
    to: str
    frm: str | None = None  # the channel the nodes follow, when the spec already says `to`
    output: str | None = None  # the folder (default: upgrade-<cluster>-<channel>)
    force: bool = False  # replace files of those names that hold something else

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(spec=args.spec, to=args.to, frm=args.frm, output=args.output, force=args.force)


def run(opts: Options, report: Report) -> int:
    from hacc.outdir import fsafe
    from hacc.outdir.analyses import analyze
    from hacc.targets.upgrade_script import page, procedure, script

    analysis = analyze(opts.spec)
    report.diagnostics(analysis.diagnostics)
    if not analysis.ok or analysis.cluster is None:
        return EXIT_PROBLEMS
    p = procedure(analysis.cluster, opts.to, opts.frm)
    folder = Path(opts.output or p.slug)
    files = {f"{p.slug}.sh": (script(p), 0o755), f"{p.slug}.md": (page(p), 0o644)}
    # Both or neither: a FIFO or a link where the page goes stops both, and so does a file of
    # that name holding something else (the user's, or an edited procedure) without --force.
    taken = [
        str(folder / name)
        for name, (text, _) in files.items()
        if fsafe.regular_or_missing(folder / name) is not None
        and fsafe.read(folder / name) != text.encode("utf-8")
    ]
    if taken and not opts.force:
        raise HaccError(
            f"{' and '.join(taken)} exist{'s' if len(taken) == 1 else ''} and differ from this "
            "procedure; pass --force to replace them, or -o another folder"
        )
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


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    up = command(
        sub,
        "upgrade",
        help="write a rolling, quorum-keeping upgrade procedure to the next channel",
        description="Write a script and a Markdown page that upgrade the running cluster to "
        "CHANNEL one minor version at a time: control-plane nodes one by one, each gated on "
        "every control-plane node being Ready through the endpoint and the datastore having "
        "its voters, then workers in batches of spec.workers.upgradeBatchSize. Each node is "
        "drained from another control-plane node, refreshed, waited for and uncordoned; a "
        "failed gate stops the script with what to do, and running it again resumes. Skipped "
        "minor versions, downgrades, `latest` tracks and confinement changes are refused. "
        "CHANNEL the nodes already follow (the spec's own, by default) rolls a refresh to its "
        "newest revision the same way: hacc holds the snap on every node, so revisions arrive "
        "only like this.",
        epilog="example: hacc upgrade ha-cluster.yaml --to 1.33/stable\n"
        "         ./upgrade-CLUSTER-1.33-stable/upgrade-CLUSTER-1.33-stable.sh --dry-run\n\n"
        "exit codes: 0 written, 1 problems (spec errors, a refused channel change), "
        "2 usage error, 3 internal error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    up.add_argument(
        "--to", required=True, metavar="CHANNEL", help="the channel to reach, such as 1.33/stable"
    )
    up.add_argument(
        "--from",
        dest="frm",
        metavar="CHANNEL",
        help="the channel the nodes follow now (default: the spec's spec.microk8s.channel)",
    )
    up.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="the folder to write to (default: upgrade-CLUSTER-CHANNEL)",
    )
    up.add_argument(
        "--force",
        action="store_true",
        help="replace a script or page of the same name that holds something else",
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
