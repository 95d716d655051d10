"""`gitops/`: an Argo CD Application and a Flux GitRepository + Kustomization for `manifests/`."""

from __future__ import annotations

import re
from typing import Any

from hacc.compiler.model import Cluster, GitOps
from hacc.targets.artifact import GITOPS_OBJECT, Artifact
from hacc.targets.base import dump_yaml, header


def applies(cluster: Cluster) -> bool:
    return cluster.gitops is not None


def manifests_path(cluster: Cluster, g: GitOps) -> str:
    return g.under(cluster.name, "manifests")


def flux_url(url: str) -> str:
    """Flux wants ssh:// URLs; rewrite scp-like `git@host:org/repo.git`."""
    m = re.fullmatch(r"([^@/]+)@([^:/]+):(.+)", url)
    return f"ssh://{m.group(1)}@{m.group(2)}/{m.group(3)}" if m else url


def git_repository_spec(g: GitOps) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": "5m",
        "url": flux_url(g.repo_url),
        "ref": {"branch": g.branch},
    }
    if g.secret:
        spec["secretRef"] = {"name": g.secret}
    return spec


def argocd(cluster: Cluster, g: GitOps) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": f"hacc-{cluster.name}", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": g.repo_url,
                "targetRevision": g.branch,
                "path": manifests_path(cluster, g),
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "kube-system"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }


def flux(cluster: Cluster, g: GitOps) -> list[dict[str, Any]]:
    name = f"hacc-{cluster.name}"
    return [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": git_repository_spec(g),
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {
                "interval": "10m",
                "sourceRef": {"kind": "GitRepository", "name": name},
                "path": f"./{manifests_path(cluster, g)}",
                "prune": True,
                "timeout": "2m",
            },
        },
    ]


def render(cluster: Cluster) -> list[Artifact]:
    g = cluster.gitops
    assert g is not None
    h = header(cluster)
    return [
        Artifact(
            "gitops/argocd-application.yaml", h + dump_yaml(argocd(cluster, g)), GITOPS_OBJECT
        ),
        Artifact(
            "gitops/flux-kustomization.yaml",
            h + dump_yaml(*flux(cluster, g), explicit_start=True),
            GITOPS_OBJECT,
        ),
    ]
