"""`hacc power`: write the whole-cluster shutdown and startup procedures (scripts and pages)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import command
from hacc.commands.shared import analyzed, build_folder, write_procedures
from hacc.errors import EXIT_OK, EXIT_PROBLEMS


@dataclass(frozen=True)
class Options:
    spec: str
    output: str | None = None  # the folder (default: power-<cluster>)
    out: str = "out"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(args.spec, args.output, args.out)


def run(opts: Options, report: Report) -> int:
    from hacc.targets.power_cycle import shutdown, startup

    c = analyzed(opts.spec, report)
    if c is None:
        return EXIT_PROBLEMS
    folder = Path(opts.output or f"power-{c.name}")
    out = build_folder(opts.out, c.name, folder)
    write_procedures(folder, [shutdown(c, out), startup(c, out)], report)
    return EXIT_OK


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    pw = command(
        sub,
        "power",
        help="write the whole-cluster shutdown and startup procedures for power maintenance",
        description="Write two scripts and their Markdown pages: power-off-CLUSTER cordons and "
        "stops the workers, then stops the control-plane nodes one at a time with the dqlite "
        "leader last; power-on-CLUSTER starts the node that stopped last first, then the other "
        "control-plane nodes, waits for the datastore's voters and /readyz through the "
        "endpoint, then starts the workers and uncordons them. Each is gated and resumable.",
        epilog="example: hacc power ha-cluster.yaml\n"
        "         ./power-CLUSTER/power-off-CLUSTER.sh --dry-run\n\n"
        "exit codes: 0 written, 1 problems (spec errors), 2 usage error, 3 internal error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pw.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    pw.add_argument("--out", default="out", metavar="OUT", help="the build folder (default: out)")
    pw.add_argument(
        "-o", "--output", metavar="DIR", help="the folder to write to (default: power-CLUSTER)"
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
