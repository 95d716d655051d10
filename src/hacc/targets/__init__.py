"""Artifact targets. Each is a module with `applies(cluster)` and `render(cluster)`, a pure function
from the cluster model to artifacts, listed once in TARGETS. A new target is one module, its
templates and one line here; the shared tests then run it over every example.
"""

from __future__ import annotations

from types import ModuleType

from hacc.compiler.model import Cluster
from hacc.targets import (
    backup,
    dashboard,
    day2,
    external,
    gitops,
    haproxy,
    keepalived,
    kube_vip,
    launch_config,
    manifests,
    monitoring,
    runbook,
    user_data,
    verify_script,
)
from hacc.targets.artifact import Artifact

TARGETS: dict[str, ModuleType] = {
    "launch-config": launch_config,
    "keepalived": keepalived,
    "haproxy": haproxy,
    "kube-vip": kube_vip,
    "manifests": manifests,
    "monitoring": monitoring,
    "dashboard": dashboard,
    "external-lb": external,
    "day2": day2,
    "backup": backup,
    "user-data": user_data,
    "gitops": gitops,
    "runbook": runbook,
    "verify": verify_script,
}


def render_cluster(cluster: Cluster) -> list[Artifact]:
    """Every artifact of one cluster, paths relative to OUT/<cluster>/, sorted by path."""
    out: list[Artifact] = []
    for target in TARGETS.values():
        if target.applies(cluster):
            out.extend(target.render(cluster))
    paths = [a.path for a in out]
    if len(paths) != len(set(paths)):
        raise AssertionError(f"two targets wrote the same path: {sorted(paths)}")
    return sorted(out, key=lambda a: a.path)
