"""Compiled examples, shared by the artifact tests."""

from __future__ import annotations

from functools import cache

from conftest import EXAMPLES
from hacc.compiler.frontend import analyze
from hacc.compiler.model import Cluster
from hacc.targets import render_cluster
from hacc.targets.artifact import Artifact


@cache
def compiled(name: str) -> tuple[Cluster, tuple[Artifact, ...]]:
    path = next(p for p in EXAMPLES if p.stem == name)
    cluster = analyze(path).cluster
    assert cluster is not None
    return cluster, tuple(render_cluster(cluster))


def all_artifacts() -> list[tuple[str, Artifact]]:
    return [(p.stem, a) for p in EXAMPLES for a in compiled(p.stem)[1]]
