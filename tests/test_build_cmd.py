"""`hacc build`: writes only what changed, owns its files, leaves everything else alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLES, KEEPALIVED_EXAMPLE, REPO, replaced
from hacc.outdir.writer import STATE_FILE


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_build_all_examples(hacc, tmp_path) -> None:
    out = tmp_path / "out"
    r = hacc("build", *map(str, EXAMPLES), "-o", str(out))
    assert r.code == 0, r.err
    assert sorted(p.name for p in out.iterdir()) == [
        "cloud-fra-prod",
        "edge-paris-01",
        "lab-kubevip",
    ]
    files = tree(out)
    assert files["edge-paris-01/nodes/cp1/apply-day2.sh"][1] == 0o755
    assert files["edge-paris-01/nodes/cp1/haproxy.cfg"][1] == 0o644
    assert files["edge-paris-01/nodes/cp1/backup.sh"][1] == 0o755
    assert "edge-paris-01: 51 create, 0 update, 0 identical, 0 remove" in r.err
    state = json.loads((out / "edge-paris-01" / STATE_FILE).read_text())
    assert len(state["files"]) == 51 and state["cluster"] == "edge-paris-01"


def test_same_bytes_whatever_the_folder(hacc, tmp_path, monkeypatch) -> None:
    a, b = tmp_path / "a", tmp_path / "deep" / "b"
    assert hacc("build", *map(str, EXAMPLES), "-o", str(a)).code == 0
    monkeypatch.chdir(tmp_path)
    assert hacc("build", *map(str, EXAMPLES), "-o", "deep/b").code == 0
    # Only the state files differ: each records where its spec is, relative to its folder (and
    # so the digest of its inputs).
    ta, tb = tree(a), tree(b)
    for name, (data, mode) in ta.items():
        if name.endswith(STATE_FILE):
            doc_a, doc_b = json.loads(data), json.loads(tb[name][0])
            assert doc_a.pop("spec") != doc_b.pop("spec")
            assert doc_a.pop("inputs", None) != doc_b.pop("inputs", None)
            assert doc_a == doc_b
        else:
            assert tb[name] == (data, mode), name
    assert ta.keys() == tb.keys()


def test_rebuild_rewrites_nothing(hacc, tmp_path) -> None:
    out = tmp_path / "out"
    hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out))
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out), "-q")
    assert r.code == 0
    assert r.err == "edge-paris-01: 0 create, 0 update, 51 identical, 0 remove\n"
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_removing_a_node_removes_exactly_its_files(hacc, tmp_path) -> None:
    out = tmp_path / "out"
    spec = tmp_path / "spec.yaml"
    text = KEEPALIVED_EXAMPLE.read_text()
    spec.write_text(text)
    hacc("build", str(spec), "-o", str(out))
    before = tree(out)
    spec.write_text(
        replaced(text, "      - {name: w2, address: 198.18.10.22, interface: ens4}\n", "")
    )
    r = hacc("build", str(spec), "-o", str(out))
    assert r.code == 0, r.err
    after = tree(out)
    removed = set(before) - set(after)
    assert removed == {p for p in before if p.startswith("edge-paris-01/nodes/w2/")}
    assert not (out / "edge-paris-01/nodes/w2").exists()
    changed = {p for p in after if after[p] != before[p]}
    # cp1 no longer registers w2's join token; no control-plane node labels w2 any more.
    assert changed == {
        "edge-paris-01/RUNBOOK.md",
        "edge-paris-01/nodes/cp1/user-data.yaml",
        "edge-paris-01/nodes/cp2/user-data.yaml",
        "edge-paris-01/nodes/cp3/user-data.yaml",
        f"edge-paris-01/{STATE_FILE}",
    }


def test_files_hacc_did_not_write_are_never_touched(hacc, tmp_path) -> None:
    out = tmp_path / "out"
    hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out))
    mine = out / "edge-paris-01" / "nodes" / "cp1" / "notes.txt"
    mine.write_text("my notes\n")
    assert hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out)).code == 0
    assert mine.read_text() == "my notes\n"


def test_an_unowned_file_in_the_way_stops_the_build_before_any_write(hacc, tmp_path) -> None:
    out = tmp_path / "out"
    blocker = out / "lab-kubevip" / "RUNBOOK.md"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("someone else's\n")
    r = hacc("build", *map(str, EXAMPLES), "-o", str(out))
    assert r.code == 1
    assert "was not written by hacc" in r.err and "Traceback" not in r.err
    assert tree(out) == {
        "lab-kubevip/RUNBOOK.md": (b"someone else's\n", blocker.stat().st_mode & 0o777)
    }


def test_hand_edited_file_is_replaced_and_reported(hacc, tmp_path) -> None:
    out = tmp_path / "out"
    hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out))
    target = out / "edge-paris-01" / "nodes" / "cp2" / "haproxy.cfg"
    original = target.read_bytes()
    target.write_text("# edited\n")
    os.chmod(target, 0o600)
    r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out), "-q")
    assert f"   update {target} (edited by hand; replaced)" in r.err
    assert target.read_bytes() == original and target.stat().st_mode & 0o777 == 0o644


def test_bad_spec_leaves_previous_output_untouched(hacc, tmp_path) -> None:
    out = tmp_path / "out"
    spec = tmp_path / "spec.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    hacc("build", str(spec), "-o", str(out))
    before = tree(out)
    spec.write_text(replaced(KEEPALIVED_EXAMPLE.read_text(), "port: 8443", "port: 16443"))
    r = hacc("build", str(spec), "-o", str(out))
    assert r.code == 1
    assert f"{spec}:22:13: error[HACC207]" in r.err and r.err.endswith("1 error; nothing written\n")
    assert tree(out) == before


def test_warnings_build_unless_strict(hacc, tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        replaced(KEEPALIVED_EXAMPLE.read_text(), "channel: 1.32/stable", "channel: latest/stable")
    )
    assert hacc("build", str(spec), "-o", str(tmp_path / "a")).code == 0
    r = hacc("build", "--strict", str(spec), "-o", str(tmp_path / "b"))
    assert r.code == 1 and "error[HACC210]" in r.err
    assert not (tmp_path / "b").exists()


def test_two_specs_one_cluster_name(hacc, tmp_path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text(KEEPALIVED_EXAMPLE.read_text())
    r = hacc("build", str(KEEPALIVED_EXAMPLE), str(copy), "-o", str(tmp_path / "out"))
    assert r.code == 1
    assert (
        f"{copy}:6:9: error[HACC222]: cluster 'edge-paris-01' is also built from {KEEPALIVED_EXAMPLE}"
        in r.err
    )
    assert not (tmp_path / "out").exists()
    assert hacc("validate", str(KEEPALIVED_EXAMPLE), str(copy)).code == 1


def _incompressible(kib: int, seed: str) -> str:
    """`kib` KiB of base64 text that gzip cannot shrink much (as a certificate bundle would)."""
    import base64
    import hashlib

    raw = b"".join(hashlib.sha512(f"{seed}-{i}".encode()).digest() for i in range(kib * 12))
    text = base64.b64encode(raw).decode()[: kib * 1024]
    return "\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + "\n"


@pytest.mark.parametrize(
    ("example", "kib", "expected", "limit"),
    [
        ("external-lb", 24, 5, "16384-byte limit of EC2"),
        ("keepalived-haproxy", 24, 0, ""),  # VIP modes never run on EC2
        ("keepalived-haproxy", 96, 3, "65536-byte limit of OpenStack and Azure"),
    ],
)
def test_oversized_user_data_is_a_located_warning(
    hacc, tmp_path, example, kib, expected, limit
) -> None:
    """What counts is the gzip-compressed size (materialize writes user-data.yaml.gz)."""
    data = yaml.safe_load((REPO / "examples" / f"{example}.yaml").read_text())
    for i, node in enumerate(data["spec"]["controlPlane"]["nodes"]):
        chunks = [_incompressible(min(48, kib - k), f"{i}-{k}") for k in range(0, kib, 48)]
        node["extensions"] = {
            "files": [
                {"path": f"/etc/site/bundle-{j}.pem", "content": c} for j, c in enumerate(chunks)
            ]
        }
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data))
    r = hacc("build", str(spec), "-o", str(tmp_path / "out"))
    assert r.code == 0, r.err
    warnings = [line for line in r.err.splitlines() if "warning[HACC223]" in line]
    # The control-plane nodes carry the files, workers do not.
    assert len(warnings) == expected
    if expected:
        assert warnings[0].startswith(f"{spec}:") and f"over the {limit}" in warnings[0]
        assert "gzip-compressed" in warnings[0]


def test_compressible_user_data_over_the_limit_is_no_warning(hacc, tmp_path) -> None:
    """40 KiB that gzip shrinks below EC2's 16 KiB: the provisioner gets user-data.yaml.gz."""
    data = yaml.safe_load((REPO / "examples" / "external-lb.yaml").read_text())
    data["spec"]["extensions"] = {
        "files": [{"path": "/etc/site/motd", "content": "maintained by the platform team\n" * 1300}]
    }
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data))
    r = hacc("build", str(spec), "-o", str(tmp_path / "out"))
    assert r.code == 0 and "HACC223" not in r.err, r.err
    assert len((tmp_path / "out/cloud-fra-prod/nodes/cp-a1/user-data.yaml").read_bytes()) > 16384


def test_unreadable_state_is_a_clear_error(hacc, tmp_path) -> None:
    out = tmp_path / "out"
    (out / "edge-paris-01").mkdir(parents=True)
    (out / "edge-paris-01" / STATE_FILE).write_text("{not json")
    r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out))
    assert r.code == 1 and "is not a hacc state file" in r.err


def test_an_invalid_artifact_is_an_internal_error(hacc, tmp_path, monkeypatch) -> None:
    from hacc.targets import user_data

    original = user_data.cloud_config

    def broken(cluster, node):
        doc = original(cluster, node)
        doc["write_files"][0]["permissions"] = 644  # what YAML 1.1 would make of an unquoted mode
        return doc

    monkeypatch.setattr(user_data, "cloud_config", broken)
    r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(tmp_path / "out"))
    assert r.code == 3
    assert (
        "nodes/cp1/user-data.yaml: write_files/0/permissions" in r.err and "Traceback" not in r.err
    )
    assert not (tmp_path / "out").exists()


def test_check_in_a_clone_with_autocrlf_names_line_endings(hacc, tmp_path) -> None:
    """A clone with core.autocrlf=true gets CRLF files: --check says so, not "edited by hand"."""
    import shutil
    import subprocess

    from conftest import KEEPALIVED_EXAMPLE

    origin = tmp_path / "origin"
    origin.mkdir()
    shutil.copy(KEEPALIVED_EXAMPLE, origin / "ha-cluster.yaml")
    assert hacc("build", str(origin / "ha-cluster.yaml"), "-o", str(origin / "out")).code == 0
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", str(origin)], check=True)
    subprocess.run([*git, "-C", str(origin), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(origin), "commit", "-qm", "build"], check=True)
    clone = tmp_path / "clone"
    subprocess.run(
        [*git, "-c", "core.autocrlf=true", "clone", "-q", str(origin), str(clone)], check=True
    )
    r = hacc("build", "--check", str(clone / "ha-cluster.yaml"), "-o", str(clone / "out"))
    assert r.code == 1
    lines = [line for line in r.err.splitlines() if "/out/" in line]
    assert lines and all("line endings are CRLF" in line for line in lines), r.err
    assert "core.autocrlf" in r.err and "edited by hand" not in r.err
