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
    found = _from_cache(name, raw)
    if found is not None:
        return found
    from hacc.compiler.loader import load_bytes

    result = analyze_document(name, *load_bytes(raw, name))
    result.source = digest(raw)
    cache.store_analysis(name, raw, result)
    return result


def cached(path: str | Path) -> Analysis | None:
    """`analyze(path)` if the local cache has it, else None (nothing parsed)."""
    from hacc.compiler.loader import read_spec, spec_name

    name = spec_name(path)
    raw, _ = read_spec(path, name)
    return _from_cache(name, raw) if raw is not None else None


def _from_cache(name: str, raw: bytes) -> Analysis | None:
    """The analysis of `name` holding `raw`, from the parsed document the cache holds, or None.
    Nothing read from the cache is trusted: the document is validated, checked and modelled
    again; an entry whose diagnostics are not what that finds is a miss, and so is one with
    errors (the spec is parsed again to say so: a forged entry must not fail a good spec)."""
    from hacc.compiler.loader import Document
    from hacc.digests import digest
    from hacc.outdir import cache

    entry = cache.cached_entry(name, raw)
    if entry is None or entry.document is None:
        return None
    data, values, keys = entry.document
    doc = Document(name, data)
    doc.values = {path: (line, column) for path, line, column in values}
    doc.keys = {path: (line, column) for path, line, column in keys}
    try:
        result = analyze_document(name, doc, [])
    except Exception:  # data no parse of a spec gives (hacc's checks assume one did)
        return None
    if result.diagnostics != entry.diagnostics or not result.ok:
        return None
    result.source = digest(raw)
    return result


def analyze_all(
    paths: list[str], recorded: Recorded | None = None, analyses: list[Analysis] | None = None
) -> list[Analysis]:
    """Every spec, spread over the cores, plus the checks that span specs
    (hacc.compiler.frontend.across). `analyses`: each spec's own analysis, if already made."""
    from hacc.outdir.parallel import map_ordered

    return across(analyses if analyses is not None else map_ordered(analyze, paths), recorded)
