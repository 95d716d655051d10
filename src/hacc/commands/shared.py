"""What build, plan and materialize share: compiling the specs, and the secrets they name; what
the commands that write procedures share: writing them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from hacc.commands import Report, plural
from hacc.diagnostics import Diagnostic
from hacc.errors import HaccError
from hacc.outdir.units import Unit, compile_specs

if TYPE_CHECKING:
    from hacc.compiler.model import Cluster
    from hacc.targets.procedure import Procedure


def compile_reported(
    specs: list[str],
    report: Report,
    *,
    strict: bool,
    out: str | None = None,
    collect: list[Diagnostic] | None = None,
) -> tuple[list[Unit], bool]:
    """Compile the specs (against the clusters already in `out`), report their diagnostics (or,
    with `collect`, add them to it for a JSON report); (units, ok)."""
    from hacc.diagnostics import promote_warnings

    units, diags = compile_specs(specs, out)
    if strict:
        diags = promote_warnings(diags)
    errors = sum(d.is_error for d in diags)
    if collect is not None:
        collect += diags
        return units, not errors
    report.diagnostics(diags)
    if errors:
        report.err(f"{plural(errors, 'error')}; nothing written")
    return units, not errors


def secret_values(units: list[Unit]) -> list[str]:
    """The join tokens the specs reference, where they resolve on this machine, and the worker
    tokens derived from them: what must never be committed or printed."""
    from hacc.outdir.secret_store import SecretUnavailable, resolve, worker_token

    values = []
    for unit in units:
        if unit.analysis is None or unit.analysis.cluster is None:
            continue
        cluster = unit.analysis.cluster
        try:
            token = resolve(cluster.join_token, Path(unit.analysis.file).parent)
        except SecretUnavailable:
            continue  # nothing to look for: the value is not on this machine
        values.append(token)
        values += [worker_token(token, cluster.name, w.name) for w in cluster.workers]
    return values


def leak_guard(units: list[Unit], texts: Callable[[], Iterable[tuple[str, bytes]]]) -> None:
    """Fail if a secret value the specs reference appears in what would be committed (`texts`:
    (name, bytes) pairs, gathered only when there is a value to look for)."""
    from hacc.outdir.secret_store import leaks

    values = secret_values(units)
    found = leaks(texts(), values) if values else []
    if found:
        raise HaccError(
            f"a secret value appears in {', '.join(found)}; remove it, rotate the secret, "
            "and never commit these files"
        )


def write_procedures(folder: Path, procedures: list[Procedure], report: Report) -> None:
    """Each procedure's script and page into `folder`: all or none (a FIFO or a link where one
    goes stops them all)."""
    from hacc.outdir import fsafe
    from hacc.targets.procedure import page, script

    files = {}
    for p in procedures:
        files[f"{p.slug}.sh"] = (script(p), 0o755)
        files[f"{p.slug}.md"] = (page(p), 0o644)
    for name in files:
        fsafe.regular_or_missing(folder / name)
    folder.mkdir(parents=True, exist_ok=True)
    for name, (text, mode) in files.items():
        fsafe.write(folder / name, text.encode("utf-8"), mode)
    for p in procedures:
        report.err(
            f"wrote {folder / (p.slug + '.sh')} and {p.slug}.md: {len(p.steps)} steps; "
            "run it with --dry-run first"
        )


def build_folder(out: str, cluster: str, folder: Path) -> str:
    """The cluster's build folder as the script finds it from its own folder (the script
    prefixes its folder)."""
    return os.path.relpath((Path(out) / cluster).resolve(), folder.resolve())


def analyzed(spec: str, report: Report) -> Cluster | None:
    """The spec's cluster with its diagnostics reported; None when it has errors."""
    from hacc.compiler.frontend import analyze

    analysis = analyze(spec)
    report.diagnostics(analysis.diagnostics)
    return analysis.cluster if analysis.ok else None
