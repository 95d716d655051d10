"""`hacc init`: a commented starter spec that validates clean."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import MODES, command
from hacc.errors import EXIT_OK, HaccError, UsageError

# RFC 3986's characters, unreserved, reserved and `%`: a line break (U+0085 and U+2028 are
# line breaks to YAML) would end the modeline comment and add keys to the starter spec.
SCHEMA_URL = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]{1,2048}")


@dataclass(frozen=True)
class Options:
    path: str = "ha-cluster.yaml"  # "-": standard output
    mode: str = "keepalived-haproxy"
    name: str = "my-cluster"
    schema_url: str | None = None
    force: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(args.path, args.mode, args.name, args.schema_url, args.force)


def run(opts: Options, report: Report) -> int:
    from hacc.compiler import editor_schema
    from hacc.compiler.starter import starter_spec
    from hacc.outdir import fsafe

    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", opts.name):
        raise UsageError(f"hacc init: --name {opts.name!r} is not a DNS-1123 label")
    if opts.schema_url is not None and not SCHEMA_URL.fullmatch(opts.schema_url):
        raise UsageError(
            f"hacc init: --schema-url {opts.schema_url!r} is not a URL or path: it goes into "
            "the spec's modeline comment, so it takes URI characters only (RFC 3986; "
            "percent-encode anything else), no blanks or line breaks"
        )
    shown = "ha-cluster.yaml" if opts.path == "-" else os.path.basename(opts.path)
    # Standard output gets no schema file beside it, so no modeline naming one.
    default = None if opts.path == "-" else editor_schema.RELATIVE_URL
    text = starter_spec(opts.mode, opts.name, shown, opts.schema_url or default)
    if opts.path == "-":
        report.out(text, plain=True)
        return EXIT_OK
    if os.path.lexists(opts.path) and not opts.force:
        raise HaccError(f"{opts.path} exists; pass --force to overwrite it")
    fsafe.write(Path(opts.path), text.encode("utf-8"), 0o644)
    report.err(f"create {opts.path}")
    if opts.schema_url is None:  # the modeline names the schema file beside the spec
        schema = Path(opts.path).parent / editor_schema.FILE_NAME
        if not os.path.lexists(schema):
            fsafe.write(schema, editor_schema.content(), 0o644)
            report.err(f"create {schema}")
        elif editor_schema.stale([opts.path]):
            fsafe.write(schema, editor_schema.content(), 0o644)
            report.err(f"update {schema}")
    return EXIT_OK


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    init = command(
        sub,
        "init",
        help="write a commented starter spec",
        description="Write a commented starter spec that validates clean, and the schema file "
        "its modeline names beside it.",
        epilog="exit codes: 0 success, 1 PATH exists (use --force) or cannot be written, "
        "2 usage error, 3 internal error.",
    )
    init.add_argument(
        "path",
        nargs="?",
        default="ha-cluster.yaml",
        metavar="PATH",
        help="where to write it; '-' for standard output (default: ha-cluster.yaml)",
    )
    init.add_argument(
        "--mode",
        choices=MODES,
        default="keepalived-haproxy",
        help="the load-balancer mode (default: keepalived-haproxy)",
    )
    init.add_argument("--name", default="my-cluster", help="the cluster name (default: my-cluster)")
    init.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    init.add_argument(
        "--schema-url",
        default=None,
        metavar="URL",
        help="where the editor finds the schema (for the modeline); default: "
        "./hacluster-v1alpha1.schema.json, written beside the spec and kept current by "
        "`hacc build` (works offline); or a URL",
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
