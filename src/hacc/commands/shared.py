"""What build, plan and materialize share: compiling the specs, and the secrets they name."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from hacc.commands import Report, plural
from hacc.diagnostics import Diagnostic
from hacc.errors import HaccError
from hacc.outdir.units import Unit, compile_specs


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
