"""The flags and addons hacc knows cover every MicroK8s track it supports, and agree with what
MicroK8s itself passes and enables."""

from __future__ import annotations

import json

import pytest

from conftest import REPO
from hacc.compiler import known
from hacc.compiler.checks import ESSENTIAL_FLAGS
from hacc.compiler.flag_checks import OWNED
from hacc.schemas import load_schema

FLAGS = json.loads((REPO / "src/hacc/schemas/kubernetes-flags.json").read_text())
ADDONS = json.loads((REPO / "src/hacc/schemas/microk8s-addons.json").read_text())
TRACKS = [f"1.{m}" for m in range(28, 36)]  # canonical/microk8s branches 1.28 ... 1.35

# Every flag of microk8s-resources/default-args/kube-apiserver and kubelet at canonical/microk8s
# branch 1.35 (the other tracks pass the same names): each must be known on every track.
MICROK8S_APISERVER = [
    "--cert-dir",
    "--service-cluster-ip-range",
    "--authorization-mode",
    "--service-account-key-file",
    "--client-ca-file",
    "--tls-cert-file",
    "--tls-private-key-file",
    "--tls-cipher-suites",
    "--kubelet-client-certificate",
    "--kubelet-client-key",
    "--secure-port",
    "--etcd-servers",
    "--allow-privileged",
    "--service-account-issuer",
    "--service-account-signing-key-file",
    "--event-ttl",
    "--profiling",
    "--feature-gates",
    "--requestheader-client-ca-file",
    "--requestheader-allowed-names",
    "--requestheader-extra-headers-prefix",
    "--requestheader-group-headers",
    "--requestheader-username-headers",
    "--proxy-client-cert-file",
    "--proxy-client-key-file",
    "--enable-admission-plugins",
    "--admission-control-config-file",
    "--kubelet-certificate-authority",
    "--kubelet-preferred-address-types",
]
MICROK8S_KUBELET = [
    "--kubeconfig",
    "--cert-dir",
    "--client-ca-file",
    "--anonymous-auth",
    "--root-dir",
    "--fail-swap-on",
    "--eviction-hard",
    "--container-runtime-endpoint",
    "--containerd",
    "--node-labels",
    "--authentication-token-webhook",
    "--read-only-port",
    "--tls-cipher-suites",
    "--serialize-image-pulls",
]


def test_both_files_list_the_supported_tracks() -> None:
    assert FLAGS["tracks"] == ADDONS["tracks"] == TRACKS
    assert [known.text(t) for t in known.tracks()] == TRACKS


def test_schema_accepts_the_newest_track() -> None:
    import re

    pattern = load_schema()["properties"]["spec"]["properties"]["microk8s"]["properties"]["channel"]
    assert re.fullmatch(pattern["pattern"].strip("^$"), f"{TRACKS[-1]}/stable")


@pytest.mark.parametrize("component", ["kube-apiserver", "kubelet"])
@pytest.mark.parametrize("track", TRACKS)
def test_flags_cover_every_track(component: str, track: str) -> None:
    data = FLAGS[component]
    ref = FLAGS["inherits"].get(track, track)
    assert ref in data["flags"] and len(data["commits"][ref]) == 40
    flags = data["flags"][ref]
    assert len(flags) > 100 and flags == sorted(set(flags))
    assert all(f.startswith("--") for f in flags)
    known_flags = known.flags(component, known.minor(track)).flags
    defaults = MICROK8S_APISERVER if component == "kube-apiserver" else MICROK8S_KUBELET
    assert set(defaults) <= known_flags, "MicroK8s's own flags are known"
    assert set(OWNED[component]) <= known_flags | {"--containerd"}


def test_only_tracks_without_a_reference_inherit() -> None:
    for track, ref in FLAGS["inherits"].items():
        assert track not in FLAGS["kube-apiserver"]["flags"]
        assert known.minor(ref) < known.minor(track)


def test_removed_flags_are_not_known_any_more() -> None:
    for component in ("kube-apiserver", "kubelet"):
        data = FLAGS[component]
        newest = max(data["flags"], key=known.minor)
        assert not set(data["removed"]) & set(data["flags"][newest])
        assert not set(data["gone"]) & set(data["flags"][newest])
    assert "--insecure-port" in FLAGS["kube-apiserver"]["gone"]
    assert set(FLAGS["kube-apiserver"]["flags"]["1.28"]) >= ESSENTIAL_FLAGS


@pytest.mark.parametrize("track", TRACKS)
def test_addons_cover_every_track(track: str) -> None:
    core = ADDONS["core"]["addons"][track]
    community = ADDONS["community"]["addons"][track]
    assert {"dns", "rbac", "ha-cluster", "ingress", "metrics-server", "community"} <= set(core)
    assert len(community) > 20
    assert len(ADDONS["core"]["commits"][track]) == 40
    assert known.addons(known.minor(track))["dns"] == "core"


def test_generator_reads_flag_names_from_the_reference_table() -> None:
    import runpy

    gen = runpy.run_path(str(REPO / "scripts/gen-k8s-flags"), run_name="gen_k8s_flags")
    page = (
        '<td colspan="2">--audit-log-maxage int</td>\n'
        '<td colspan="2">-v, --v Level</td>\n'
        '<td colspan="2">--log_dir string</td>\n'
        '<td colspan="2">--watch-cache&nbsp;&nbsp;Default: true</td>\n'
        "<p>see --not-a-row</p>\n"
    )
    assert gen["FLAG"].findall(page) == ["--audit-log-maxage", "--v", "--log_dir", "--watch-cache"]
