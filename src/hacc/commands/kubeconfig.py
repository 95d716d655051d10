"""`hacc kubeconfig`: a node's admin kubeconfig, rewritten to reach the cluster's endpoint."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import command
from hacc.errors import EXIT_OK, EXIT_PROBLEMS, HaccError


@dataclass(frozen=True)
class Options:
    spec: str
    source: str = "-"  # `microk8s config` output: a file, or - for standard input
    merge: str | None = None  # an existing kubeconfig to merge into (written back, 0600)
    output: str | None = None  # write here (0600) instead of standard output
    use_context: bool = False  # with --merge: make the cluster's context current

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(
            spec=args.spec,
            source=args.source,
            merge=args.merge,
            output=args.output,
            use_context=args.use_context,
        )


def run(opts: Options, report: Report) -> int:
    from hacc.live.kubeconfig_file import dump, merge, parse, rewrite
    from hacc.outdir import fsafe
    from hacc.outdir.analyses import analyze

    analysis = analyze(opts.spec)
    report.diagnostics(analysis.diagnostics)
    if not analysis.ok or analysis.cluster is None:
        return EXIT_PROBLEMS
    text, where = read_source(opts.source)
    config = rewrite(analysis.cluster, parse(text, where))
    target = opts.merge or opts.output
    if opts.merge:
        path = Path(opts.merge)
        existing = parse_existing(path)
        config = merge(existing, config, switch=opts.use_context)
    if target is None:
        report.out(dump(config), plain=True)
        return EXIT_OK
    from hacc.outdir.gitrepo import secret_exposure

    exposure = secret_exposure(Path(target).absolute())
    if exposure is not None:
        raise HaccError(f"{target} {exposure}: it would hold the cluster's admin credentials")
    # Run as root on another user's kubeconfig, the merged file keeps its owner: a root-owned
    # file in their ~/.kube would lock them out of their own configuration.
    st = fsafe.regular_or_missing(target)
    owner = (st.st_uid, st.st_gid) if st is not None and st.st_uid != os.geteuid() else None
    fsafe.write(Path(target), dump(config).encode("utf-8"), 0o600, owner=owner)
    report.err(
        f"{'merged into' if opts.merge else 'wrote'} {target}: context {analysis.cluster.name}"
    )
    return EXIT_OK


def read_source(source: str) -> tuple[str, str]:
    """The text of `microk8s config`'s output, at most SOURCE_LIMIT bytes of it: a file, a
    device or a pipe that never ends is refused, not read without bound."""
    from hacc.live.kubeconfig_file import SOURCE_LIMIT

    if source == "-":
        if sys.stdin.isatty():
            raise HaccError("pipe `microk8s config` in, or pass --from FILE")
        data, where = sys.stdin.buffer.read(SOURCE_LIMIT + 1), "standard input"
    else:
        try:
            with open(source, "rb") as f:
                data, where = f.read(SOURCE_LIMIT + 1), source
        except OSError as e:
            raise HaccError(f"{source}: {e.strerror}") from None
    if len(data) > SOURCE_LIMIT:
        raise HaccError(
            f"{where}: more than {SOURCE_LIMIT >> 10} KiB, which `microk8s config` never prints"
        )
    try:
        return data.decode("utf-8"), where
    except UnicodeDecodeError:
        raise HaccError(f"{where}: not UTF-8 text, which `microk8s config` prints") from None


def parse_existing(path: Path) -> dict[str, Any]:
    from hacc.live.kubeconfig_file import EXISTING_LIMIT, load
    from hacc.outdir import fsafe

    data = fsafe.read(path, limit=EXISTING_LIMIT)  # never follows a link, never blocks on a FIFO
    if data is None:
        return {}
    try:
        doc = load(data.decode("utf-8"), str(path)) or {}
    except UnicodeDecodeError as e:
        raise HaccError(f"{path}: cannot read it as a kubeconfig: {e}") from None
    except RecursionError:
        raise HaccError(f"{path}: cannot read it as a kubeconfig: nested too deeply") from None
    if not isinstance(doc, dict):
        raise HaccError(f"{path}: not a kubeconfig")
    return doc


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    kc = command(
        sub,
        "kubeconfig",
        help="rewrite a node's admin kubeconfig to reach the cluster through its endpoint",
        description="Read the kubeconfig a control-plane node prints (`sudo microk8s config`) "
        "and write one whose server is the cluster's endpoint (DNS name, else the VIP or load "
        "balancer address, and the spec's port), with cluster, context and user named after the "
        "cluster. Refuses an endpoint the spec's certificate SANs would not cover. Files are "
        "written 0600.",
        epilog="example: ssh cp1 sudo microk8s config | hacc kubeconfig ha-cluster.yaml "
        "--merge ~/.kube/config --use-context\n\nexit codes: 0 success, 1 problems, "
        "2 usage error, 3 internal error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kc.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    kc.add_argument(
        "--from",
        dest="source",
        default="-",
        metavar="FILE",
        help="the output of `microk8s config` (default: standard input)",
    )
    where = kc.add_mutually_exclusive_group()
    where.add_argument(
        "--merge",
        metavar="KUBECONFIG",
        help="add (or replace) the cluster, user and context in this kubeconfig, keeping its "
        "other entries",
    )
    where.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    kc.add_argument(
        "--use-context", action="store_true", help="with --merge: make the new context current"
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
