"""Compiling specs into folders of artifacts, and comparing them with what is on disk.

`build`, `build --check`, `build --commit` and `plan` all start here: compile every spec, then
plan every folder before anything is written, so an error or a conflict leaves OUT untouched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from hacc import output, selfcheck
from hacc.compiler.frontend import Analysis, analyze_all
from hacc.diagnostics import ERROR, WARNING, Diagnostic, sort_key
from hacc.errors import InternalError
from hacc.targets import render_cluster
from hacc.targets.base import Artifact
from hacc.targets.fleet import FOLDER as FLEET_FOLDER
from hacc.targets.fleet import render_fleet
from hacc.targets.user_data import EC2_LIMIT


@dataclass
class Unit:
    """One output folder: a cluster's, or the fleet's."""

    name: str
    artifacts: list[Artifact]
    analysis: Analysis | None = None  # None for the fleet folder

    def folder(self, out: str | Path) -> Path:
        return Path(out) / self.name


@dataclass
class Planned:
    unit: Unit
    folder: Path
    changes: list[output.Change]

    @property
    def pending(self) -> list[output.Change]:
        return [c for c in self.changes if c.action != output.IDENTICAL]


def compile_specs(paths: list[str]) -> tuple[list[Unit], list[Diagnostic]]:
    """Artifacts of every usable spec (plus the fleet's), and every diagnostic of every spec."""
    units: list[Unit] = []
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
        units.append(Unit(analysis.cluster.name, artifacts, analysis))
    if not any(d.severity == ERROR for d in diags):
        fleet = render_fleet(
            [u.analysis.cluster for u in units if u.analysis and u.analysis.cluster]
        )
        if fleet:
            units.append(Unit(FLEET_FOLDER, fleet))
    return units, sorted(diags, key=sort_key)


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


def plan(units: list[Unit], out: str | Path) -> list[Planned]:
    """What writing every unit into OUT would do (raises on a file hacc does not own)."""
    return [Planned(u, u.folder(out), output.plan(u.folder(out), u.artifacts)) for u in units]


def spec_digest(path: str) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
