"""The registry of semantic rules: each rule yields located diagnostics with a stable code."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from hacc.compiler.loader import Document, Path_
from hacc.compiler.model import Cluster
from hacc.diagnostics import ERROR, WARNING, Diagnostic

Rule = Callable[[Cluster, Document], Iterator[Diagnostic]]
RULES: list[Rule] = []

CP = ("spec", "controlPlane")
ENDPOINT = (*CP, "endpoint")
LB = (*CP, "loadBalancer")
MICROK8S = ("spec", "microk8s")
APISERVER_ARGS = (*MICROK8S, "apiserverArgs")
KUBELET_ARGS = (*MICROK8S, "kubeletArgs")


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def err(doc: Document, path: Path_, code: str, message: str, *, key: bool = False) -> Diagnostic:
    return doc.diag(path, ERROR, code, message, key=key)


def warn(doc: Document, path: Path_, code: str, message: str, *, key: bool = False) -> Diagnostic:
    return doc.diag(path, WARNING, code, message, key=key)
