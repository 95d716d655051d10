"""The package's folders are the pipeline's stages, and no import runs back up a stage: a stage
imports only from the stages before it (hacc.errors, hacc.diagnostics and hacc.digests are the
base every stage may use)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "src" / "hacc"
# Earlier first. live/ and drill/ talk to running things and use the compiler and the targets;
# outdir/ writes what targets render; commands/ run the stages; cli/ parses and dispatches.
STAGES = [
    "errors",
    "diagnostics",
    "digests",
    "schemas",
    "compiler",
    "targets",
    "live",
    "drill",
    "outdir",
    "commands",
    "cli",
]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, stage) of every hacc module `path` imports, at any depth in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "hacc":
                continue
            names = [a.name for a in node.names] if len(parts) == 1 else [parts[1]]
            found += [(node.lineno, n) for n in names if n in STAGES]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "hacc" and len(parts) > 1 and parts[1] in STAGES:
                    found.append((node.lineno, parts[1]))
    return found


def _stage(path: Path) -> str | None:
    rel = path.relative_to(PACKAGE).parts
    if len(rel) == 1:
        return rel[0].removesuffix(".py") if rel[0].removesuffix(".py") in STAGES else None
    return rel[0]


def test_every_module_belongs_to_a_stage() -> None:
    loose = [
        p.name
        for p in PACKAGE.glob("*.py")
        if _stage(p) is None and p.name not in ("__init__.py", "__main__.py")
    ]
    assert loose == []
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert set(folders) <= set(STAGES), folders


def test_no_import_runs_back_up_a_stage() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        stage = _stage(path)
        if stage is None:
            continue
        for line, imported in _imports(path):
            if STAGES.index(imported) > STAGES.index(stage):
                upward.append(f"{path.relative_to(REPO)}:{line}: {stage} imports {imported}")
    assert upward == []


def test_each_module_name_is_used_once() -> None:
    names: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name not in ("__init__.py", "__main__.py"):
            names.setdefault(path.stem, []).append(str(path.relative_to(PACKAGE)))
    assert {n: p for n, p in names.items() if len(p) > 1} == {}
