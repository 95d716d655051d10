"""The bootstrap bench: a node's generated user-data run as cloud-init would run it, against the
fakes in bench/fake_microk8s.py (sourced MicroK8s behaviour, not MicroK8s), inside a private
mount namespace (overlays over /var, /etc, /usr/local and /root) and a network namespace holding
the node's interface and address. Nothing on the host changes; every process ends with the
namespaces."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.compiler.model import Cluster, Node
from realtools import require_root, tool

BENCH = Path(__file__).resolve().parent / "bench"
FAKES = ("snap", "microk8s", "systemctl", "sleep", "tick", "sysctl", "journalctl")


@dataclass
class Boot:
    rc: int
    output: str
    events: list[dict[str, Any]]
    result: (
        Path  # copies of /var/snap/microk8s (under root/), the bootstrap log, /etc/keepalived, ...
    )
    state: Path  # the fakes' own records
    rerun: tuple[int, str] | None = None  # the second run's exit code and output (`then`)

    def happened(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    @property
    def snap_data(self) -> Path:
        return self.result / "root" / "var/snap/microk8s/current"

    @property
    def launcher(self) -> Path:
        return self.result / "root" / "var/snap/microk8s/common/etc/launcher"

    def read(self, relative: str) -> str:
        return (self.snap_data / relative).read_text()


def boot(
    cluster: Cluster,
    node: Node,
    user_data: str,
    work: Path,
    *,
    install_failures: int = 0,
    join: str = "ok",
    persistent_tokens: tuple[str, ...] = (),
    single_use_tokens: tuple[str, ...] = (),
    accepted_tokens: tuple[str, ...] = (),
    cluster_nodes: tuple[str, ...] = (),
    preinstalled: bool = False,
    vip_after: bool = False,
    then: str | None = None,
    clustered_peers: tuple[str, ...] = (),
) -> Boot:
    """Boot `node`; with `then` (a bash script run on the node afterwards, as a day-2 step
    would), run the bootstrap a second time and record that run in `Boot.rerun`, unless `then`
    created $work/no-rerun (nothing would start it)."""
    require_root()
    tool("unshare")
    work.mkdir(parents=True)
    (work / "ov").mkdir()
    state = work / "state"
    state.mkdir()
    fakes = work / "fakes"
    fakes.mkdir()
    for name in FAKES:
        (fakes / name).symlink_to(BENCH / "fake_microk8s.py")
    config = {
        "install_failures": install_failures,
        "join": join,
        "contacted": cluster.first.address,
        "contacted_tokens": {
            "persistent": list(persistent_tokens),
            "single_use": list(single_use_tokens),
        },
        "accepted_tokens": list(accepted_tokens),  # held as persistent by the contacted node
        "cluster_nodes": [node.name, *cluster_nodes],
        "vip": cluster.endpoint.address,
        "interface": node.interface,
    }
    (work / "config.json").write_text(json.dumps(config))
    (work / "user-data.yaml").write_text(user_data)
    if then is not None:
        (work / "between.sh").write_text(then)
    prefix = ipaddress.ip_network(cluster.subnet or f"{node.address}/24", strict=False).prefixlen
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "BENCH_CONFIG": str(work / "config.json"),
        "BENCH_STATE": str(state),
        "LANG": "C.UTF-8",
        # control-plane nodes that already run the cluster (their dqlite answers on :19001)
        "BENCH_PEERS": " ".join(clustered_peers),
    }
    vip = cluster.endpoint.address if vip_after and cluster.endpoint.address else "none"
    subprocess.run(
        [
            "unshare", "--mount", "--propagation", "private", "--net", "--fork", "--kill-child",
            "bash", str(BENCH / "boot.sh"), str(work), node.interface,
            f"{node.address}/{prefix}", "yes" if preinstalled else "no", vip,
        ],
        env=env,
        check=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    events_file = state / "events.jsonl"
    events = (
        [json.loads(line) for line in events_file.read_text().splitlines()]
        if events_file.exists()
        else []
    )
    return Boot(
        int((work / "rc").read_text()),
        (work / "output").read_text(),
        events,
        work / "result",
        state,
        (int((work / "rc2").read_text()), (work / "output2").read_text())
        if (work / "rc2").exists()
        else None,
    )


def root_is_unchanged() -> dict[str, bool]:
    """What the bench must never leave on the host."""
    return {
        p: os.path.lexists(p)
        for p in ("/var/snap", "/usr/local/lib/hacc", "/var/log/hacc-bootstrap.log")
    }
