"""`manifests/kube-vip/`: kube-vip as a DaemonSet on the MicroK8s control plane (kube-vip mode).

Adapted from `kube-vip manifest daemonset` v1.2.x (reference/load-balancers.md section 4):
MicroK8s has no static-pod folder and no control-plane role label, so this is a DaemonSet with
a nodeSelector on MicroK8s's own label, in-cluster credentials, and `port` 16443.
"""

from __future__ import annotations

from typing import Any

from hacc.compiler.model import APISERVER_PORT, KUBE_VIP, Cluster
from hacc.targets.artifact import MANIFEST, Artifact
from hacc.targets.base import dump_yaml, header

NAME = "kube-vip"
# MicroK8s's admin kubeconfig, pointing at this node's apiserver (https://127.0.0.1:16443).
CLIENT_CONFIG = "/var/snap/microk8s/current/credentials/client.config"
# kube-vip's manager loads this path before falling back to the service account
# (kube-vip pkg/manager/manager.go), and then talks to `kubernetes:<port>`.
ADMIN_CONF = "/etc/kubernetes/admin.conf"
CONTROL_PLANE_LABEL = {"node.kubernetes.io/microk8s-controlplane": "microk8s-controlplane"}


def applies(cluster: Cluster) -> bool:
    return cluster.mode == KUBE_VIP


def _labels(cluster: Cluster) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": NAME,
        "app.kubernetes.io/version": cluster.kube_vip.version,
        "app.kubernetes.io/managed-by": "hacc",
    }


def rbac(cluster: Cluster) -> list[dict[str, Any]]:
    wave = {"argocd.argoproj.io/sync-wave": "-1"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": NAME, "namespace": "kube-system", "annotations": wave},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:kube-vip-role", "annotations": wave},
            "rules": [
                {"apiGroups": [""], "resources": ["services/status"], "verbs": ["update"]},
                {
                    "apiGroups": [""],
                    "resources": ["services", "endpoints"],
                    "verbs": ["list", "get", "watch", "update"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["nodes"],
                    "verbs": ["list", "get", "watch", "update", "patch"],
                },
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "verbs": ["list", "get", "watch", "update", "create"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "get", "watch", "update"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:kube-vip-binding", "annotations": wave},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:kube-vip-role",
            },
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": "kube-system"}],
        },
    ]


def _env(cluster: Cluster) -> list[dict[str, Any]]:
    kv = cluster.kube_vip
    values = [
        ("vip_arp", "true"),
        ("port", str(APISERVER_PORT)),
        ("vip_nodename", None),
        ("vip_interface", cluster.first.interface),
        ("vip_subnet", "32"),  # a /32 VIP is what MicroK8s's join logic recognises as virtual
        ("dns_mode", "first"),
        ("cp_enable", "true"),
        ("cp_namespace", "kube-system"),
        ("vip_leaderelection", "true"),
        ("vip_leasename", "plndr-cp-lock"),
        ("vip_leaseduration", str(kv.lease_duration)),
        ("vip_renewdeadline", str(kv.renew_deadline)),
        ("vip_retryperiod", str(kv.retry_period)),
        ("address", cluster.endpoint.address),
        ("prometheus_server", ":2112"),
    ]
    out: list[dict[str, Any]] = []
    for name, value in values:
        if value is None:
            out.append({"name": name, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}})
        else:
            out.append({"name": name, "value": value})
    return out


def _follow_local_apiserver(pod: dict[str, Any], container: dict[str, Any]) -> None:
    """Lease renewals go to this node's own apiserver, so a leader whose apiserver dies loses
    the lease and kube-vip removes the VIP (kube-vip pkg/cluster/clusterLeaderElection.go,
    onStoppedLeading). `kubernetes` resolves to loopback; MicroK8s's server certificate names
    it (microk8s-resources/certs/csr.conf.template, DNS.1)."""
    pod["hostAliases"] = [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}]
    pod["volumes"] = [{"name": "kubeconfig", "hostPath": {"path": CLIENT_CONFIG, "type": "File"}}]
    container["volumeMounts"] = [{"name": "kubeconfig", "mountPath": ADMIN_CONF, "readOnly": True}]


def daemonset(cluster: Cluster) -> dict[str, Any]:
    kv = cluster.kube_vip
    selector = {"app.kubernetes.io/name": NAME}
    container: dict[str, Any] = {
        "name": NAME,
        "image": f"{kv.image}:{kv.version}",
        "imagePullPolicy": "IfNotPresent",
        "args": ["manager"],
        "env": _env(cluster),
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
        "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}},
    }
    pod: dict[str, Any] = {
        "nodeSelector": dict(CONTROL_PLANE_LABEL),
        "tolerations": [
            {"effect": "NoSchedule", "operator": "Exists"},
            {"effect": "NoExecute", "operator": "Exists"},
        ],
        "hostNetwork": True,
        "serviceAccountName": NAME,
        "priorityClassName": "system-node-critical",
        "containers": [container],
    }
    if kv.follow_local_apiserver:
        _follow_local_apiserver(pod, container)
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": "kube-system", "labels": _labels(cluster)},
        "spec": {
            "selector": {"matchLabels": selector},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {"metadata": {"labels": _labels(cluster)}, "spec": pod},
        },
    }


def render(cluster: Cluster) -> list[Artifact]:
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["rbac.yaml", "daemonset.yaml"],
    }
    h = header(cluster)
    return [
        Artifact(
            "manifests/kube-vip/rbac.yaml",
            h + dump_yaml(*rbac(cluster), explicit_start=True),
            MANIFEST,
        ),
        Artifact(
            "manifests/kube-vip/daemonset.yaml",
            h + dump_yaml(daemonset(cluster), explicit_start=True),
            MANIFEST,
        ),
        Artifact("manifests/kube-vip/kustomization.yaml", h + dump_yaml(kustomization), MANIFEST),
    ]
