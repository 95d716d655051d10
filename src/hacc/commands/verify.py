"""`hacc verify`: check a live cluster against its spec from a workstation or CI."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from hacc.commands import Report
from hacc.commands.args import command
from hacc.errors import EXIT_OK, EXIT_PROBLEMS, UsageError


@dataclass(frozen=True)
class Options:
    spec: str
    ca: str | None = None
    timeout: float = 5.0
    json: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(spec=args.spec, ca=args.ca, timeout=args.timeout, json=args.format == "json")


def run(opts: Options, report: Report) -> int:
    from hacc.live.probes import run as verify
    from hacc.live.probes import table
    from hacc.outdir.analyses import analyze

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


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    ver = command(
        sub,
        "verify",
        help="check a live cluster against its spec and name the broken layer",
        description="Check what clients depend on, against the spec: the DNS name, the "
        "endpoint (TCP, TLS, certificate SANs and expiry, /readyz) and every control-plane "
        "node's apiserver directly on its address:16443; then name the broken layer. Sends "
        "only TLS handshakes and GET /readyz; every step has a timeout.",
        epilog="exit codes: 0 every check holds, 1 a check failed or the spec has errors, "
        "2 usage error, 3 internal error.",
    )
    ver.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    ver.add_argument(
        "--ca", metavar="FILE", help="the cluster CA (ca.crt); without it trust is not checked"
    )
    ver.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="per network step (default: 5)",
    )
    ver.add_argument("--format", choices=["text", "json"], default="text")


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
