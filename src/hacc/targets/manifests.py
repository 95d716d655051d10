"""`manifests/kustomization.yaml`: the one folder Argo CD and Flux apply (Kubernetes objects only)."""

from __future__ import annotations

from hacc.artifact import MANIFEST, Artifact
from hacc.compiler.model import Cluster
from hacc.targets import kube_vip, monitoring
from hacc.targets.base import dump_yaml, header


def applies(cluster: Cluster) -> bool:
    return True


def render(cluster: Cluster) -> list[Artifact]:
    resources = ["kube-vip"] if kube_vip.applies(cluster) else []
    if monitoring.applies(cluster):
        resources.append("monitoring")
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }
    return [Artifact("manifests/kustomization.yaml", header(cluster) + dump_yaml(doc), MANIFEST)]
