"""A control-plane node's apply-day2.sh on the node bench (bench/day2.sh): MicroK8s's default
files laid over the real paths in private namespaces, kubelite running the apiserver on :16443
(bench/fake_kubelite.py: kubelite exits on a flag the apiserver rejects, as the kubelite patch in
canonical/microk8s makes it). A change that keeps the apiserver down must not end in exit 0: the
script waits for /readyz, puts its backups back and says so."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from artifacts import with_apiserver_args
from conftest import REPO
from hacc.targets import render_cluster
from realtools import require_root, tool

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parent / "bench"
DEFAULTS = REPO / "tests" / "fixtures" / "microk8s"
SNAP = "var/snap/microk8s/current"
REJECTED = "--enable-bogus-flag"  # a flag kube-apiserver does not define


@dataclass
class Day2:
    rc: int
    output: str
    events: list[str]
    args_before: str
    args_after: str
    ready_after: bool


def run_day2(tmp_path: Path, extra_args: str = "") -> Day2:
    require_root()
    tool("unshare")
    tool("curl")
    cluster = with_apiserver_args(tmp_path, extra_args)
    node = cluster.control_plane[1]
    arts = {a.path: a.content for a in render_cluster(cluster)}
    work = tmp_path / "node"
    (work / "ov").mkdir(parents=True)
    tree = work / "tree" / SNAP
    (tree / "args").mkdir(parents=True)
    (tree / "certs").mkdir()
    shutil.copy(DEFAULTS / "kube-apiserver", tree / "args" / "kube-apiserver")
    shutil.copy(DEFAULTS / "csr.conf.template", tree / "certs" / "csr.conf.template")
    (work / "apply-day2.sh").write_text(arts[f"nodes/{node.name}/apply-day2.sh"])
    (work / "rejected-flags").write_text(REJECTED + "\n")
    fakes = work / "fakes"
    fakes.mkdir()
    for name in ("snap", "microk8s", "stop-kubelite"):
        (fakes / name).symlink_to(BENCH / "fake_kubelite.py")
    subprocess.run(
        [tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-keyout", str(work / "apiserver.key"), "-out", str(work / "apiserver.crt"),
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    prefix = ipaddress.ip_network(cluster.subnet or "", strict=False).prefixlen
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--net", "--fork", "--kill-child",
         "bash", str(BENCH / "day2.sh"), str(work), node.interface, f"{node.address}/{prefix}"],
        env=env, check=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return Day2(
        int((work / "rc").read_text()),
        (work / "output").read_text(),
        (work / "events").read_text().splitlines(),
        (DEFAULTS / "kube-apiserver").read_text(),
        (work / "kube-apiserver.after").read_text(),
        (work / "readyz.after").read_text() == "ok",
    )


@pytest.fixture(autouse=True)
def host_untouched():
    before = os.path.lexists("/var/snap")
    yield
    assert os.path.lexists("/var/snap") == before


def test_a_good_change_waits_for_the_apiserver_and_keeps_the_change(tmp_path) -> None:
    r = run_day2(tmp_path)
    assert r.rc == 0, r.output
    assert "the apiserver is ready" in r.output
    assert "--authorization-mode=RBAC,Node" in r.args_after.splitlines()
    # SANs changed too, so the certificate was refreshed (which restarts kubelite).
    assert r.events == ["restart kubelite", "kubelite started", "refresh-certs server.crt",
                        "kubelite started"]  # fmt: skip
    assert r.ready_after


def test_a_flag_the_apiserver_rejects_is_rolled_back_and_fails(tmp_path) -> None:
    r = run_day2(tmp_path, f'      {REJECTED}: "true"\n')
    assert r.rc == 1, r.output
    assert f"kubelite exited: Error: unknown flag: {REJECTED}" in r.events
    assert "restoring the backups" in r.output
    assert "the backups are back and the apiserver is ready again" in r.output
    # The node ends as it was: MicroK8s's own args file, the apiserver answering.
    assert r.args_after == r.args_before
    assert r.ready_after
