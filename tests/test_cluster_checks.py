"""The checks of what a MicroK8s track runs and of the networks a node already uses, beyond the
invalid specs: where they must stay quiet, and the cases one spec per code does not show."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from conftest import REPO


def _spec(tmp_path, change) -> str:
    data: dict[str, Any] = yaml.safe_load((REPO / "examples/keepalived-haproxy.yaml").read_text())
    change(data)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _mk(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = data["spec"]["microk8s"]
    return out


@pytest.mark.parametrize(
    ("change", "code"),
    [
        # A subnet over the pod network, with every address outside it.
        (lambda d: d["spec"]["network"].update(subnet="10.0.0.0/8"), "HACC237"),
        (lambda d: _mk(d).update(addons=["dns", "rbac", "ingres"]), "HACC245"),
        (lambda d: _mk(d).update(channel="latest/stable", addons=["ingres"]), "HACC245"),
        (lambda d: _mk(d)["apiserverArgs"].update({"--insecure-port": "0"}), "HACC239"),
        (lambda d: _mk(d).update(kubeletArgs={"--root-dir": "/var/lib/kubelet"}), "HACC241"),
    ],
)
def test_refused(change, code, hacc, tmp_path) -> None:
    r = hacc("validate", _spec(tmp_path, change))
    assert f"error[{code}]" in r.err and r.code == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda d: _mk(d).update(
            addons=["dns", "rbac", "community", "community/argocd", "core/ingress"]
        ),
        lambda d: _mk(d)["apiserverArgs"].update({"--admission-control": "NodeRestriction"}),
        lambda d: _mk(d)["apiserverArgs"].update({"--authorization-mode": "Webhook,RBAC"}),
        lambda d: _mk(d).update(kubeletArgs={"--max-pods": "200", "--node-ip": None}),
        lambda d: d["spec"]["controlPlane"]["endpoint"].update(port=443),  # no ingress addon
        lambda d: (
            d["spec"].update(monitoring={"enabled": False})
            or d["spec"]["controlPlane"]["endpoint"].update(port=9100)
        ),
    ],
)
def test_quiet(change, hacc, tmp_path) -> None:
    r = hacc("validate", _spec(tmp_path, change))
    assert "HACC23" not in r.err.replace("HACC230", "") and "HACC24" not in r.err, r.err


def test_ha_cluster_can_be_disabled_on_one_node(hacc, tmp_path) -> None:
    def one_node(d: dict[str, Any]) -> None:
        d["spec"]["controlPlane"]["nodes"] = d["spec"]["controlPlane"]["nodes"][:1]
        _mk(d)["addons"] = ["dns", "rbac", {"name": "ha-cluster", "disable": True}]

    r = hacc("validate", _spec(tmp_path, one_node))
    assert "HACC246" not in r.err and "HACC201" in r.err
    assert "add two control-plane nodes in one change" in r.err


def test_old_tracks_are_refused_without_flag_or_addon_noise(hacc, tmp_path) -> None:
    r = hacc(
        "validate",
        _spec(tmp_path, lambda d: _mk(d).update(channel="1.26/stable", addons=["ingres"])),
    )
    assert "error[HACC209]" in r.err and "HACC245" not in r.err
