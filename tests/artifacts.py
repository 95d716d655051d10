"""Compiled examples, shared by the artifact tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from conftest import EXAMPLES, KEEPALIVED_EXAMPLE, replaced
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


def with_apiserver_args(tmp_path: Path, lines: str) -> Cluster:
    """examples/keepalived-haproxy.yaml with `lines` (YAML, indented as the example's
    apiserverArgs) added to its apiserver flags, compiled."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        replaced(
            KEEPALIVED_EXAMPLE.read_text(),
            "      --event-ttl: null\n",
            f"      --event-ttl: null\n{lines}",
        )
    )
    cluster = analyze(spec).cluster
    assert cluster is not None
    return cluster
