"""`hacc certs`: write the rolling certificate renewal (script and page) for a running cluster."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import command
from hacc.commands.shared import analyzed, write_procedures
from hacc.errors import EXIT_OK, EXIT_PROBLEMS


@dataclass(frozen=True)
class Options:
    spec: str
    output: str | None = None  # the folder (default: certs-<cluster>)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(args.spec, args.output)


def run(opts: Options, report: Report) -> int:
    from hacc.targets.cert_renewal import procedure

    c = analyzed(opts.spec, report)
    if c is None:
        return EXIT_PROBLEMS
    write_procedures(Path(opts.output or f"certs-{c.name}"), [procedure(c)], report)
    return EXIT_OK


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    ce = command(
        sub,
        "certs",
        help="write a rolling renewal of the cluster's certificates",
        description="Write a script and a Markdown page that renew, one node at a time and "
        "gated on every control-plane node being Ready and the datastore having its voters, "
        "what `microk8s refresh-certs` renews on each control-plane node (server.crt, "
        "front-proxy-client.crt) and every node's kubelet serving certificate (kubelet.crt, "
        "which refresh-certs does not renew) with the node's hostname and address. Running "
        "it again resumes.",
        epilog="example: hacc certs ha-cluster.yaml\n"
        "         ./certs-CLUSTER/certs-CLUSTER.sh --dry-run\n\n"
        "exit codes: 0 written, 1 problems (spec errors), 2 usage error, 3 internal error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ce.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    ce.add_argument(
        "-o", "--output", metavar="DIR", help="the folder to write to (default: certs-CLUSTER)"
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
