"""backup.sh against a control-plane node's tree and a fake `microk8s dbctl`.

The fake copies what canonical/microk8s `scripts/wrappers/dbctl.py` and k8s-dqlite
`pkg/migrator/migrator.go BackupDqlite` do (reference/microk8s-lifecycle.md section 5.1): refuse
on a worker (`clustered.lock`, exit 1) and without `kine.sock:12379` and the `ha-cluster` lock
(exit 10); write `NAME.tar.gz` in the current folder, holding `NAME/` with one `N.key` and one
`N.data` per key. It can also misbehave as dbctl has: the empty archive of canonical/microk8s#4259
(213-215 bytes, a folder with nothing in it) and the hang without quorum of #2348. It is not
MicroK8s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import KEEPALIVED_EXAMPLE, replaced
from hacc.compiler.frontend import analyze_text
from hacc.targets import backup
from realtools import run, tool

FAKE_MICROK8S = r"""#!/usr/bin/env python3
# A stand-in for `microk8s dbctl backup -o NAME`; see the module docstring of tests/test_backup.py.
import io, os, sys, tarfile, time
snap = os.environ["HACC_SNAP_DATA"]
mode = os.environ.get("FAKE_DBCTL", "ok")
if sys.argv[1:3] != ["dbctl", "backup"] or sys.argv[3] != "-o":
    sys.exit(f"fake microk8s: unexpected {sys.argv[1:]}")
if os.path.exists(f"{snap}/var/lock/clustered.lock"):
    print("This command is only available on control plane nodes."); sys.exit(1)
if not (os.path.exists(f"{snap}/var/kubernetes/backend/kine.sock:12379")
        and os.path.exists(f"{snap}/var/lock/ha-cluster")):
    print("Please ensure the kubernetes apiserver is running and HA is enabled."); sys.exit(10)
if mode == "hang":
    time.sleep(3600)
name = sys.argv[4].removesuffix(".tar.gz")
with tarfile.open(f"{name}.tar.gz", "w:gz") as tar:
    folder = tarfile.TarInfo(name); folder.type = tarfile.DIRTYPE; folder.mode = 0o700
    tar.addfile(folder)
    if mode != "empty":
        for i in range(40):
            for suffix, data in (("key", f"/registry/pods/default/p{i}"), ("data", "x" * 200)):
                raw = (data * 3).encode()
                info = tarfile.TarInfo(f"{name}/{i}.{suffix}"); info.size = len(raw); info.mode = 0o640
                tar.addfile(info, io.BytesIO(raw))
"""


@pytest.fixture
def node(tmp_path: Path):
    """The example's cp2 backup.sh, a control-plane tree (the files backup.sh reads, as a joined
    control-plane node has them) and the fake."""
    if os.geteuid() != 0:
        pytest.skip("backup.sh runs as root")
    spec = replaced(
        KEEPALIVED_EXAMPLE.read_text(),
        "  secrets:\n",
        '  backups:\n    keep: 2\n    copyCommand: cp "$HACC_BACKUP_FILE" "$COPY_TO"\n  secrets:\n',
    )
    cluster = analyze_text(spec, "spec.yaml").cluster
    assert cluster is not None
    script = tmp_path / "backup.sh"
    script.write_text(backup.script(cluster, cluster.control_plane[1]))
    script.chmod(0o755)
    snap = tmp_path / "snap" / "current"
    for rel, mode in (
        ("certs/ca.crt", 0o660),
        ("certs/ca.key", 0o660),
        ("certs/serviceaccount.key", 0o660),
        ("certs/server.crt", 0o660),
        ("credentials/cluster-tokens.txt", 0o660),
        ("credentials/callback-token.txt", 0o600),
        ("credentials/client.config", 0o660),
        ("args/kube-apiserver", 0o660),
        ("args/kubelet", 0o660),
        ("var/kubernetes/backend/cluster.crt", 0o660),
        ("var/kubernetes/backend/cluster.key", 0o660),
        ("var/kubernetes/backend/info.yaml", 0o660),
        ("var/kubernetes/backend/cluster.yaml", 0o660),
        ("var/kubernetes/backend/kine.sock:12379", 0o600),
        ("var/lock/ha-cluster", 0o660),
    ):
        path = snap / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{rel}\n")
        path.chmod(mode)
    fake = tmp_path / "microk8s"
    fake.write_text(FAKE_MICROK8S)
    fake.chmod(0o755)
    env = {
        "PATH": os.environ["PATH"],
        "HACC_SNAP_DATA": str(snap),
        "HACC_MICROK8S": str(fake),
        "HACC_BACKUP_DIR": str(tmp_path / "backups"),
        "HACC_TEXTFILE_DIR": str(tmp_path / "textfile"),
        "COPY_TO": str(tmp_path / "offsite"),
    }
    (tmp_path / "offsite").mkdir()

    def runs(**extra: str) -> subprocess.CompletedProcess[str]:
        return run(tool("bash"), str(script), env={**env, **extra})

    return runs, tmp_path


def metrics(folder: Path) -> dict[str, float]:
    text = (folder / "textfile" / "hacc_backup.prom").read_text()
    return {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_a_good_backup_holds_what_a_restore_needs(node) -> None:
    runs, tmp = node
    r = runs()
    assert r.returncode == 0, r.stderr
    (archive,) = (tmp / "backups").glob("edge-paris-01-cp2-*.tar.gz")
    assert archive.stat().st_mode & 0o777 == 0o600
    assert (tmp / "backups").stat().st_mode & 0o777 == 0o700
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = tar.extractfile("./MANIFEST").read().decode()  # type: ignore[union-attr]
    assert {"./datastore.tar.gz", "./snap-data/certs/ca.key", "./MANIFEST"} <= names
    assert "./snap-data/var/kubernetes/backend/cluster.key" in names
    assert "./snap-data/credentials/cluster-tokens.txt" in names
    assert "rows: 40" in manifest and "snap-data/certs/ca.key" in manifest
    m = metrics(tmp)
    assert m["hacc_backup_last_run_success"] == 1
    assert m["hacc_backup_last_success_bytes"] == archive.stat().st_size
    assert (tmp / "offsite" / archive.name).read_bytes() == archive.read_bytes()


def test_an_empty_datastore_archive_is_a_failed_backup(node) -> None:
    runs, tmp = node
    assert runs().returncode == 0
    good = metrics(tmp)
    r = runs(FAKE_DBCTL="empty")
    assert r.returncode == 1 and "empty or no datastore.tar.gz" in r.stderr
    m = metrics(tmp)
    assert m["hacc_backup_last_run_success"] == 0
    # the last good backup is still the one before
    assert (
        m["hacc_backup_last_success_timestamp_seconds"]
        == good["hacc_backup_last_success_timestamp_seconds"]
    )
    assert len(list((tmp / "backups").glob("*.tar.gz"))) == 1


def test_a_hanging_dbctl_is_stopped_and_counted_as_failed(node) -> None:
    runs, tmp = node
    r = runs(FAKE_DBCTL="hang", HACC_BACKUP_TIMEOUT="2")
    assert r.returncode == 1 and "timed out" in r.stderr
    assert metrics(tmp)["hacc_backup_last_run_success"] == 0
    assert metrics(tmp)["hacc_backup_last_success_timestamp_seconds"] == 0
    assert not list((tmp / "backups").glob("*.tar.gz"))
    assert not list((tmp / "backups").glob(".work.*"))  # nothing left behind


def test_dbctl_refusing_fails_the_backup(node) -> None:
    runs, tmp = node
    lock = tmp / "snap" / "current" / "var" / "lock" / "ha-cluster"
    lock.unlink()
    r = runs()
    assert r.returncode == 1 and "exited 10" in r.stderr


def test_a_failed_copy_off_the_node_fails_the_backup_and_keeps_the_archive(node) -> None:
    runs, tmp = node
    r = runs(COPY_TO=str(tmp / "no" / "such" / "folder"))
    assert r.returncode == 1 and "copyCommand failed" in r.stderr
    assert len(list((tmp / "backups").glob("*.tar.gz"))) == 1


def test_only_the_newest_archives_are_kept(node) -> None:
    runs, tmp = node
    backups = tmp / "backups"
    backups.mkdir(mode=0o700)
    for stamp in ("20260101T020000Z", "20260102T020000Z", "20260103T020000Z"):
        (backups / f"edge-paris-01-cp2-{stamp}.tar.gz").write_bytes(b"old")
    other = backups / "edge-paris-01-cp3-20260101T020000Z.tar.gz"  # not this node's
    other.write_bytes(b"old")
    assert runs().returncode == 0
    kept = sorted(p.name for p in backups.glob("edge-paris-01-cp2-*.tar.gz"))
    assert len(kept) == 2 and kept[0] == "edge-paris-01-cp2-20260103T020000Z.tar.gz"
    assert other.exists()


def test_backup_scripts_pass_shellcheck_and_units_pass_systemd_analyze(tmp_path) -> None:
    cluster = analyze_text(KEEPALIVED_EXAMPLE.read_text(), "spec.yaml").cluster
    assert cluster is not None
    for n in cluster.control_plane:
        script = tmp_path / f"{n.name}.sh"
        script.write_text(backup.script(cluster, n))
        r = run(tool("shellcheck"), str(script))
        assert r.returncode == 0, r.stdout
    units = backup.units(cluster, cluster.control_plane[1])
    root = tmp_path / "root"
    shutil.copytree("/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    for path, text in units.items():
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).write_text(text)
    target = root / backup.SCRIPT_PATH.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(backup.script(cluster, cluster.control_plane[1]))
    target.chmod(0o700)
    r = run(tool("systemd-analyze"), "verify", f"--root={root}", *units)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    assert "OnCalendar=*-*-* 02:20:00" in units["/etc/systemd/system/hacc-backup.timer"]


def test_control_plane_nodes_back_up_one_after_another() -> None:
    cluster = analyze_text(KEEPALIVED_EXAMPLE.read_text(), "spec.yaml").cluster
    assert cluster is not None
    times = [backup.at(cluster, n) for n in cluster.control_plane]
    assert times == ["02:00", "02:20", "02:40"]
    assert all(
        not a.path.endswith(f"{w.name}/backup.sh")
        for w in cluster.workers
        for a in backup.render(cluster)
    )
