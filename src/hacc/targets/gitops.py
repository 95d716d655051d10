"""`gitops/`: Argo CD Applications and Flux objects for `manifests/` and `manifests/monitoring/`.

`manifests/monitoring/` gets objects of its own: its kinds exist only once a Prometheus Operator
runs, and both controllers dry-run a folder as a whole, so in `manifests/` one unknown kind would
hold back everything else. Argo CD syncs it with `SkipDryRunOnMissingResource=true` (a missing
CRD then fails only those objects, and the sync is retried); Flux's dry run fails until the CRDs
exist and is retried every `retryInterval`, after the cluster's own Kustomization is ready.
"""

from __future__ import annotations

import re
from typing import Any

from hacc.compiler.model import Cluster, GitOps
from hacc.targets.artifact import GITOPS_OBJECT, Artifact
from hacc.targets.base import dump_yaml, header
from hacc.targets.names import MONITORING, object_name

IN_CLUSTER = "https://kubernetes.default.svc"
RETRY = "2m"  # Flux: after a failed apply (a CRD not there yet), not the 10m interval
SKIP_DRY_RUN = "SkipDryRunOnMissingResource=true"


def applies(cluster: Cluster) -> bool:
    return cluster.gitops is not None


def manifests_path(cluster: Cluster, g: GitOps) -> str:
    return g.under(cluster.name, "manifests")


def monitoring_path(cluster: Cluster, g: GitOps) -> str:
    return g.under(cluster.name, "manifests", "monitoring")


def flux_url(url: str) -> str:
    """Flux wants ssh:// URLs; rewrite scp-like `git@host:org/repo.git`."""
    m = re.fullmatch(r"([^@/]+)@([^:/]+):(.+)", url)
    return f"ssh://{m.group(1)}@{m.group(2)}/{m.group(3)}" if m else url


def browse_url(g: GitOps, path: str) -> str | None:
    """Where a browser shows `path` of the repository on its branch, or None for a URL that
    names no web host (`/blob/<branch>/` is GitHub's and Gitea's form; GitLab redirects it)."""
    m = re.fullmatch(
        r"(?:https://|ssh://)?(?:[^@/]+@)?([^/:]+)(?::\d+)?[:/](.+?)(?:\.git)?/?", g.repo_url
    )
    if m is None or re.search(r"[#?<>{}|^%]", m.group(2)):
        return None
    return f"https://{m.group(1)}/{m.group(2)}/blob/{g.branch}/{path}"


def git_repository(name: str, g: GitOps) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": "5m",
        "url": flux_url(g.repo_url),
        "ref": {"branch": g.branch},
    }
    if g.secret:
        spec["secretRef"] = {"name": g.secret}
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": spec,
    }


def application_spec(
    g: GitOps, path: str, destination: dict[str, str], *, monitoring: bool
) -> dict[str, Any]:
    sync: dict[str, Any] = {"automated": {"prune": True, "selfHeal": True}}
    if monitoring:
        # An automated sync that failed is not tried again for the same commit without `retry`;
        # a negative limit retries until the operator's CRDs exist (argo-cd controller/appcontroller.go).
        sync["syncOptions"] = [SKIP_DRY_RUN]
        sync["retry"] = {
            "limit": -1,
            "backoff": {"duration": "30s", "factor": 2, "maxDuration": "10m"},
        }
    return {
        "project": "default",
        "source": {"repoURL": g.repo_url, "targetRevision": g.branch, "path": path},
        "destination": {**destination, "namespace": "kube-system"},
        "syncPolicy": sync,
    }


def application(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": spec,
    }


def kustomization(
    name: str,
    source: str,
    path: str,
    *,
    depends_on: str | None = None,
    kube_config: str | None = None,
    orphan: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if depends_on:
        spec["dependsOn"] = [{"name": depends_on}]
    spec |= {
        "interval": "10m",
        "retryInterval": RETRY,
        "sourceRef": {"kind": "GitRepository", "name": source},
        "path": f"./{path}",
        "prune": True,
        "timeout": "2m",
    }
    if orphan:
        # Deleting the Kustomization (its cluster left the fleet, or was renamed) leaves what it
        # applied in place: the same objects may already belong to the cluster's new name.
        spec["deletionPolicy"] = "Orphan"
    if kube_config:
        spec["kubeConfig"] = {"secretRef": {"name": kube_config}}
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": spec,
    }


def argocd(cluster: Cluster, g: GitOps) -> dict[str, Any]:
    spec = application_spec(g, manifests_path(cluster, g), {"server": IN_CLUSTER}, monitoring=False)
    return application(object_name(cluster.name), spec)


def argocd_monitoring(cluster: Cluster, g: GitOps) -> dict[str, Any]:
    spec = application_spec(g, monitoring_path(cluster, g), {"server": IN_CLUSTER}, monitoring=True)
    return application(object_name(cluster.name, MONITORING), spec)


def flux(cluster: Cluster, g: GitOps) -> list[dict[str, Any]]:
    name = object_name(cluster.name)
    return [git_repository(name, g), kustomization(name, name, manifests_path(cluster, g))]


def flux_monitoring(cluster: Cluster, g: GitOps) -> dict[str, Any]:
    name = object_name(cluster.name)
    return kustomization(
        object_name(cluster.name, MONITORING),
        name,
        monitoring_path(cluster, g),
        depends_on=name,
    )


def render(cluster: Cluster) -> list[Artifact]:
    g = cluster.gitops
    assert g is not None
    h = header(cluster)
    out = [
        Artifact(
            "gitops/argocd-application.yaml", h + dump_yaml(argocd(cluster, g)), GITOPS_OBJECT
        ),
        Artifact(
            "gitops/flux-kustomization.yaml",
            h + dump_yaml(*flux(cluster, g), explicit_start=True),
            GITOPS_OBJECT,
        ),
    ]
    if cluster.monitoring.enabled:
        out += [
            Artifact(
                "gitops/argocd-monitoring.yaml",
                h + dump_yaml(argocd_monitoring(cluster, g)),
                GITOPS_OBJECT,
            ),
            Artifact(
                "gitops/flux-monitoring.yaml",
                h + dump_yaml(flux_monitoring(cluster, g)),
                GITOPS_OBJECT,
            ),
        ]
    return out
