"""`manifests/kustomization.yaml`: the one folder Argo CD and Flux apply (Kubernetes objects only)."""

from __future__ import annotations

from hacc.compiler.model import Cluster
from hacc.targets import kube_vip
from hacc.targets.artifact import MANIFEST, Artifact
from hacc.targets.base import dump_yaml, header


def applies(cluster: Cluster) -> bool:
    return True


def render(cluster: Cluster) -> list[Artifact]:
    # manifests/monitoring/ stays out: its kinds exist only once a Prometheus Operator runs, and
    # Flux and Argo CD dry-run a set as a whole, so one unknown kind would also hold back kube-vip
    # (RUNBOOK.md section 8 applies it separately).
    resources = ["kube-vip"] if kube_vip.applies(cluster) else []
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }
    return [Artifact("manifests/kustomization.yaml", header(cluster) + dump_yaml(doc), MANIFEST)]
