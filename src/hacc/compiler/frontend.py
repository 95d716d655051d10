"""load -> validate -> check -> model, for one spec file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hacc.compiler.loader import Document, load_file
from hacc.compiler.model import Cluster
from hacc.diagnostics import Diagnostic, sort_key


@dataclass
class Analysis:
    file: str
    document: Document | None = None
    cluster: Cluster | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.cluster is not None and not any(d.is_error for d in self.diagnostics)


def analyze(path: str | Path) -> Analysis:
    """Every problem of one spec, sorted by position; the model when the spec is usable."""
    doc, problems = load_file(path, str(path))
    return _analyze(str(path), doc, problems)


def analyze_text(text: str, name: str) -> Analysis:
    """`analyze` for a spec held in memory."""
    from hacc.compiler.loader import load_text

    doc, problems = load_text(text, name)
    return _analyze(name, doc, problems)


def _analyze(name: str, doc: Document | None, problems: list[Diagnostic]) -> Analysis:
    result = Analysis(name)
    result.document = doc
    if doc is not None:
        from hacc.compiler.validate import validate

        problems = validate(doc)
        if not problems:
            from hacc.compiler.checks import check
            from hacc.compiler.model import build_model

            cluster = build_model(doc.data, name)
            problems = check(cluster, doc)
            result.cluster = cluster
    result.diagnostics = sorted(set(problems), key=sort_key)
    return result


def analyze_all(paths: list[str]) -> list[Analysis]:
    """Every spec, plus the checks that span specs (one cluster name per spec)."""
    from hacc.diagnostics import ERROR

    results = [analyze(p) for p in paths]
    seen: dict[str, str] = {}
    for r in results:
        if r.cluster is None or r.document is None:
            continue
        name = r.cluster.name
        if name in seen:
            r.diagnostics.append(
                r.document.diag(
                    ("metadata", "name"),
                    ERROR,
                    "HACC222",
                    f"cluster {name!r} is also built from {seen[name]}",
                )
            )
            r.diagnostics.sort(key=sort_key)
        else:
            seen[name] = r.file
    return results
