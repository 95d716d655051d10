"""Analyses of spec files, from the local cache when a spec is unchanged (hacc.outdir.cache)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hacc.compiler.frontend import Analysis, Recorded, across, analyze_document

if TYPE_CHECKING:
    from pathlib import Path


def analyze(path: str | Path) -> Analysis:
    """hacc.compiler.frontend.analyze, read from the cache when it holds the spec's bytes."""
    from hacc.compiler.loader import read_spec, spec_name
    from hacc.digests import digest
    from hacc.outdir import cache

    name = spec_name(path)
    raw, problems = read_spec(path, name)
    if raw is None:
        return analyze_document(name, None, problems)
    found = cache.cached_analysis(name, raw)
    if isinstance(found, Analysis):
        return found
    from hacc.compiler.loader import load_bytes

    result = analyze_document(name, *load_bytes(raw, name))
    result.source = digest(raw)
    cache.store_analysis(name, raw, result)
    return result


def cached(path: str | Path) -> Analysis | None:
    """`analyze(path)` if the local cache has it, else None (nothing parsed)."""
    from hacc.compiler.loader import read_spec, spec_name
    from hacc.outdir import cache

    name = spec_name(path)
    raw, _ = read_spec(path, name)
    found = cache.cached_analysis(name, raw) if raw is not None else None
    return found if isinstance(found, Analysis) else None


def analyze_all(
    paths: list[str], recorded: Recorded | None = None, analyses: list[Analysis] | None = None
) -> list[Analysis]:
    """Every spec, spread over the cores, plus the checks that span specs
    (hacc.compiler.frontend.across). `analyses`: each spec's own analysis, if already made."""
    from hacc.outdir.parallel import map_ordered

    return across(analyses if analyses is not None else map_ordered(analyze, paths), recorded)
