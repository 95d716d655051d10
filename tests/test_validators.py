"""Every generated artifact passes its real consumer's validator; every harness rejects a broken one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from artifacts import all_artifacts, compiled
from conftest import EXAMPLES, REPO
from hacc.targets import selfcheck
from realtools import keepalived_test, run, tool

BROKEN = REPO / "tests" / "fixtures" / "broken"
ALL = all_artifacts()


def by_name(name: str) -> list[tuple[str, object]]:
    return [(e, a) for e, a in ALL if a.path.rsplit("/", 1)[-1] == name]


def ids(pairs):
    return [f"{e}:{a.path}" for e, a in pairs]


def written(tmp_path: Path, artifact) -> Path:
    path = tmp_path / artifact.path.rsplit("/", 1)[-1]
    path.write_text(artifact.content)
    if artifact.executable:
        path.chmod(0o755)
    return path


def test_every_harness_has_something_to_check() -> None:
    for name in (
        "haproxy.cfg",
        "keepalived.conf",
        "user-data.yaml",
        "microk8s-launch.yaml",
        "apply-day2.sh",
        "check-apiserver.sh",
        "daemonset.yaml",
        "kustomization.yaml",
    ):
        assert by_name(name), name


# -- HAProxy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("example", "artifact"), by_name("haproxy.cfg"), ids=ids(by_name("haproxy.cfg"))
)
def test_haproxy_accepts_with_zero_warnings(example, artifact, tmp_path) -> None:
    r = run(tool("haproxy"), "-c", "-dW", "-f", str(written(tmp_path, artifact)))
    assert r.returncode == 0, r.stdout + r.stderr


def test_haproxy_harness_rejects_broken() -> None:
    r = run(tool("haproxy"), "-c", "-dW", "-f", str(BROKEN / "haproxy.cfg"))
    assert r.returncode != 0 and "ALERT" in r.stdout + r.stderr


# -- keepalived (in a network namespace of the test's own) ------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("example", "artifact"), by_name("keepalived.conf"), ids=ids(by_name("keepalived.conf"))
)
def test_keepalived_accepts(example, artifact, tmp_path) -> None:
    node = artifact.path.split("/")[1]
    cluster, arts = compiled(example)
    script = next(a.content for a in arts if a.path == f"nodes/{node}/check-apiserver.sh")
    iface = next(n.interface for n in cluster.control_plane if n.name == node)
    r = keepalived_test(artifact.content, {"check-apiserver.sh": script}, [iface], node, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_keepalived_harness_rejects_broken_and_missing_pieces(tmp_path) -> None:
    r = keepalived_test(
        (BROKEN / "keepalived.conf").read_text(), {}, ["eth0"], "broken", tmp_path / "a"
    )
    assert r.returncode != 0 and "bogus_keyword" in r.stderr
    _, arts = compiled("keepalived-haproxy")
    conf = next(a.content for a in arts if a.path == "nodes/cp1/keepalived.conf")

    no_script = keepalived_test(conf, {}, ["eth0"], "noscript", tmp_path / "b")
    assert no_script.returncode != 0, "a missing check script must fail"
    (tmp_path / "c").mkdir()
    script = next(a.content for a in arts if a.path == "nodes/cp1/check-apiserver.sh")
    no_iface = keepalived_test(
        conf, {"check-apiserver.sh": script}, ["ens9"], "noiface", tmp_path / "c"
    )
    assert no_iface.returncode != 0 and "eth0" in no_iface.stderr


# -- cloud-init ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("example", "artifact"), by_name("user-data.yaml"), ids=ids(by_name("user-data.yaml"))
)
def test_cloud_init_accepts_user_data(example, artifact, tmp_path) -> None:
    r = run(tool("cloud-init"), "schema", "--config-file", str(written(tmp_path, artifact)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Valid cloud-config" in r.stdout
    assert selfcheck.cloud_config_problems(artifact.content) == []


def test_cloud_init_harness_rejects_broken() -> None:
    bad_types = BROKEN / "user-data-bad-types.yaml"
    assert run(tool("cloud-init"), "schema", "--config-file", str(bad_types)).returncode != 0
    problems = selfcheck.cloud_config_problems(bad_types.read_text())
    assert any("permissions" in p for p in problems) and any("runcmd" in p for p in problems)
    unknown = BROKEN / "user-data-unknown-key.yaml"
    # cloud-init's CLI lets a misspelt top-level key through; hacc's check does not.
    assert run(tool("cloud-init"), "schema", "--config-file", str(unknown)).returncode == 0
    assert selfcheck.cloud_config_problems(unknown.read_text()) == [
        "unknown top-level key 'hostnmae'"
    ]


def test_vendored_cloud_config_schema_matches_installed_cloud_init() -> None:
    installed = Path(
        "/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json"
    )
    if not installed.exists():
        pytest.skip("cloud-init not installed from Debian's package")
    version = run(tool("cloud-init"), "--version")
    vendored = REPO / "src" / "hacc" / "schemas" / "cloud-config-v1.json"
    if "22.4.2" in version.stdout + version.stderr:
        assert installed.read_bytes() == vendored.read_bytes()


# -- MicroK8s launch configurations ----------------------------------------------------------


@pytest.mark.parametrize(
    ("example", "artifact"),
    by_name("microk8s-launch.yaml"),
    ids=ids(by_name("microk8s-launch.yaml")),
)
def test_launch_configuration_matches_microk8s_fields(example, artifact) -> None:
    assert selfcheck.launch_config_problems(artifact.content) == []


def test_launch_configuration_harness_rejects_broken() -> None:
    problems = selfcheck.launch_config_problems((BROKEN / "microk8s-launch.yaml").read_text())
    assert any("extraSAN" in p for p in problems)
    assert any("worker" in p for p in problems)


# -- Kubernetes manifests --------------------------------------------------------------------


def is_operator_kind(doc: dict) -> bool:
    return doc["apiVersion"].startswith("monitoring.coreos.com/")


K8S_OBJECTS = [
    (e, a)
    for e, a in ALL
    if a.path.startswith("manifests/")
    and not a.path.endswith("kustomization.yaml")
    and not all(is_operator_kind(d) for d in yaml.safe_load_all(a.content) if d)
]


@pytest.mark.parametrize(("example", "artifact"), K8S_OBJECTS, ids=ids(K8S_OBJECTS))
def test_kubernetes_objects_are_valid(example, artifact, tmp_path) -> None:
    """Built-in kinds against Kubernetes's schemas; Prometheus Operator kinds are checked against
    the operator's CRDs in test_monitoring.py."""
    cluster, _ = compiled(example)
    version = f"{cluster.track[0]}.{cluster.track[1]}.0"
    docs = [d for d in yaml.safe_load_all(artifact.content) if d]
    core = [d for d in docs if not is_operator_kind(d)]
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(core))
    r = run(tool("kubernetes-validate"), "--strict", "-k", version, str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "passed" in r.stdout and "fail" not in r.stdout.lower()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_kustomize_builds_every_folder(path, tmp_path, hacc) -> None:
    assert hacc("build", str(path), "-o", str(tmp_path)).code == 0
    folders = [p.parent for p in tmp_path.rglob("kustomization.yaml")]
    assert folders
    for folder in folders:
        r = run(tool("kubectl"), "kustomize", str(folder))
        assert r.returncode == 0, r.stderr
        for doc in yaml.safe_load_all(r.stdout):
            assert doc is None or ("apiVersion" in doc and "kind" in doc)


def test_kubernetes_harnesses_reject_broken(tmp_path) -> None:
    r = run(tool("kubernetes-validate"), "--strict", str(BROKEN / "daemonset.yaml"))
    assert r.returncode != 0
    assert run(tool("kubectl"), "kustomize", str(BROKEN / "kustomize")).returncode != 0


# -- shell scripts ---------------------------------------------------------------------------


def scripts() -> list[tuple[str, str, str]]:
    out = [(e, a.path, a.content) for e, a in ALL if a.path.endswith(".sh")]
    for e, a in by_name("user-data.yaml"):
        for f in yaml.safe_load(a.content)["write_files"]:
            if f["path"].endswith(".sh"):
                out.append((e, f"{a.path}:{f['path']}", f["content"]))
    return out


@pytest.mark.parametrize(
    ("example", "where", "text"), scripts(), ids=[f"{e}:{w}" for e, w, _ in scripts()]
)
def test_shellcheck_clean(example, where, text, tmp_path) -> None:
    path = tmp_path / "script.sh"
    path.write_text(text)
    r = run(tool("shellcheck"), "--severity=style", str(path))
    assert r.returncode == 0, r.stdout


def test_shellcheck_harness_rejects_broken() -> None:
    r = run(tool("shellcheck"), str(BROKEN / "script.sh"))
    assert r.returncode != 0 and "SC2086" in r.stdout


def test_scripts_from_user_data_are_found() -> None:
    assert sum(1 for _, w, _ in scripts() if "bootstrap.sh" in w) == sum(
        len(compiled(p.stem)[0].nodes) for p in EXAMPLES
    )
