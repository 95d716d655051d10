"""Every bench's node trees against the reference's file lists (bench/node_tree.py, from
shared/reference/microk8s-lifecycle.md): a file a real node has, with its mode, cannot go
missing from a fake. The bootstrap bench's trees, which need its namespaces, are walked in
tests/test_bootstrap_bench.py (test_the_bootstrap_leaves_microk8s_modes_alone and the joins)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import node_tree
from test_verify_node import prepare

CLUSTER = [
    ("cp1", "198.18.10.11", True, 1),
    ("cp2", "198.18.10.12", True, 2),
    ("w1", "198.18.10.21", False, 1),
]


@pytest.mark.parametrize(("node", "kind"), [("cp2", "control plane"), ("w1", "worker")])
def test_the_verify_bench(tmp_path, node, kind) -> None:
    b = prepare(tmp_path, node)
    assert node_tree.differences(b.tree, kind) == []
    assert node_tree.differences(b.work / "first", "served a join") == []


def test_the_upgrade_bench(tmp_path) -> None:
    """test_upgrade.py's cluster, as laid, and after a refresh of each node."""
    roots = node_tree.lay_cluster(tmp_path, CLUSTER)
    kinds = {"cp1": "served a join", "cp2": "control plane", "w1": "worker"}
    for name, root in roots.items():
        assert node_tree.differences(root, kinds[name]) == [], name
        node_tree.refresh(root)
        assert node_tree.differences(root, kinds[name]) == [], name


def test_a_file_missing_or_with_another_mode_is_named(tmp_path) -> None:
    """The walk itself: it names what differs."""
    root = node_tree.lay_cluster(tmp_path, CLUSTER[:1])["cp1"]
    (root / node_tree.DATA / "certs/ca.key").unlink()
    (root / node_tree.LOCKS).chmod(0o700)
    assert node_tree.differences(root, "installed") == [
        "certs/ca.key: missing",
        "var/lock/: mode 0700, the reference says 0770",
    ]


def test_the_lists_hold_what_a_join_changes() -> None:
    joined, worker = node_tree.files("control plane"), node_tree.files("worker")
    assert {"certs/ca.key.backup", "var/lock/no-cert-reissue"} <= joined.keys()
    assert "certs/ca.key" in worker and "certs/ca.remote.crt" in worker
    assert "var/lock/no-apiserver-proxy" not in worker
    assert all(Path(p).name for p in joined)
