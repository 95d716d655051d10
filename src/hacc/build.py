"""`hacc build`: compile every spec, then write all clusters, or nothing if any spec has errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hacc import selfcheck
from hacc.compiler.frontend import Analysis, analyze_all
from hacc.compiler.model import Cluster
from hacc.diagnostics import WARNING, Diagnostic, sort_key
from hacc.errors import InternalError
from hacc.targets import render_cluster
from hacc.targets.base import Artifact
from hacc.targets.user_data import EC2_LIMIT


@dataclass
class Compiled:
    analysis: Analysis
    cluster: Cluster
    artifacts: list[Artifact] = field(default_factory=list)


def compile_specs(paths: list[str]) -> tuple[list[Compiled], list[Diagnostic]]:
    """Artifacts of every usable spec, and every diagnostic of every spec."""
    compiled: list[Compiled] = []
    diags: list[Diagnostic] = []
    for analysis in analyze_all(paths):
        diags.extend(analysis.diagnostics)
        if not analysis.ok or analysis.cluster is None:
            continue
        artifacts = render_cluster(analysis.cluster)
        broken = selfcheck.problems(artifacts)
        if broken:
            raise InternalError(
                f"hacc produced an invalid artifact for cluster {analysis.cluster.name}: "
                + "; ".join(broken[:5])
            )
        diags.extend(_size_warnings(analysis, artifacts))
        compiled.append(Compiled(analysis, analysis.cluster, artifacts))
    return compiled, sorted(diags, key=sort_key)


def _size_warnings(analysis: Analysis, artifacts: list[Artifact]) -> list[Diagnostic]:
    cluster, doc = analysis.cluster, analysis.document
    assert cluster is not None and doc is not None
    out = []
    for node in cluster.nodes:
        path = f"nodes/{node.name}/user-data.yaml"
        size = next(len(a.data) for a in artifacts if a.path == path)
        if size > EC2_LIMIT:
            out.append(
                doc.diag(
                    (*node.path, "name"),
                    WARNING,
                    "HACC223",
                    f"the user-data of {node.name} is {size} bytes, over the "
                    f"{EC2_LIMIT}-byte EC2 limit",
                )
            )
    return out


def cluster_dir(out: str | Path, cluster: Cluster) -> Path:
    return Path(out) / cluster.name
