"""`hacc init`: a commented starter spec that validates clean."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from hacc.commands import Report
from hacc.errors import EXIT_OK, HaccError, UsageError


@dataclass(frozen=True)
class Options:
    path: str = "ha-cluster.yaml"  # "-": standard output
    mode: str = "keepalived-haproxy"
    name: str = "my-cluster"
    schema_url: str | None = None
    force: bool = False


def run(opts: Options, report: Report) -> int:
    from hacc.compiler import editor_schema
    from hacc.compiler.starter import starter_spec
    from hacc.outdir import fsafe

    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", opts.name):
        raise UsageError(f"hacc init: --name {opts.name!r} is not a DNS-1123 label")
    shown = "ha-cluster.yaml" if opts.path == "-" else os.path.basename(opts.path)
    text = starter_spec(opts.mode, opts.name, shown, opts.schema_url or editor_schema.RELATIVE_URL)
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
            editor_schema.write(schema)
            report.err(f"create {schema}")
        elif editor_schema.stale([opts.path]):
            editor_schema.write(schema)
            report.err(f"update {schema}")
    return EXIT_OK
