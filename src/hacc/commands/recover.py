"""`hacc recover`: write the procedure (script and page) that recovers a datastore that lost
quorum."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import command
from hacc.commands.shared import analyzed, build_folder, write_procedures
from hacc.errors import EXIT_OK, EXIT_PROBLEMS, HaccError, UsageError


@dataclass(frozen=True)
class Options:
    spec: str
    lost: list[str]
    output: str | None = None  # the folder (default: recover-<cluster>)
    out: str = "out"  # the build folder the load-balancer files come from
    source: str | None = None  # the survivor whose datastore is kept

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        lost = [n.strip() for n in args.lost.split(",") if n.strip()]
        if not lost:
            raise UsageError("hacc recover: --lost names no node")
        return cls(args.spec, lost, args.output, args.out, args.source)


def run(opts: Options, report: Report) -> int:
    from hacc.targets.recovery import procedure

    c = analyzed(opts.spec, report)
    if c is None:
        return EXIT_PROBLEMS
    folder = Path(opts.output or f"recover-{c.name}")
    try:
        p = procedure(c, opts.lost, build_folder(opts.out, c.name, folder), opts.source)
    except HaccError as e:
        report.err(f"error: {e}")
        return EXIT_PROBLEMS
    write_procedures(folder, [p], report)
    if c.first.name in opts.lost:
        report.err(
            f"warning: every node's user-data joins {c.first.name}, which is lost: the "
            "procedure re-joins no node. Put a survivor first in spec.controlPlane.nodes, run "
            "hacc build and hacc materialize, push the load balancers (hacc plan --script), "
            "then boot the lost nodes with their new user-data"
        )
    return EXIT_OK


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    rc = command(
        sub,
        "recover",
        help="write the procedure that recovers a datastore that lost quorum",
        description="Write a script and a Markdown page that recover the cluster's dqlite "
        "datastore after the control-plane nodes named by --lost are gone for good, following "
        "MicroK8s's 'Recover from lost quorum': it refuses while a majority of the voters "
        "answers, stops MicroK8s on every control-plane node that answers, saves each "
        "survivor's backend folder, rewrites cluster.yaml with the survivors and runs dqlite's "
        ".reconfigure on the survivor with the most recent log, copies its data to the other "
        "survivors, starts them, waits for /readyz through the endpoint, removes the lost "
        "nodes' Node objects, pushes the survivors' load-balancer files and waits for the "
        "lost nodes to join again. Running it again resumes.",
        epilog="example: hacc build ha-cluster.yaml && hacc recover ha-cluster.yaml --lost cp2,cp3\n"
        "         ./recover-CLUSTER/recover-CLUSTER.sh --dry-run\n\n"
        "exit codes: 0 written, 1 problems (spec errors, no survivor), 2 usage error, "
        "3 internal error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rc.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    rc.add_argument(
        "--lost",
        required=True,
        metavar="NODE[,NODE...]",
        help="the control-plane nodes that are gone",
    )
    rc.add_argument(
        "--source",
        metavar="NODE",
        help="the survivor whose datastore is kept (default: the first survivor; the script "
        "checks that no other survivor's raft log is more recent)",
    )
    rc.add_argument("--out", default="out", metavar="OUT", help="the build folder (default: out)")
    rc.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="the folder to write to (default: recover-CLUSTER)",
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
