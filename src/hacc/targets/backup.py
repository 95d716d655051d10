"""`nodes/<control-plane node>/backup.sh` and the systemd timer that runs it each day.

Never on workers: they hold no datastore, and `microk8s dbctl` refuses there
(canonical/microk8s scripts/wrappers/dbctl.py). The control-plane nodes back up one after
another, `spec.backups.staggerMinutes` apart, so the voters never all run dbctl (a read of the
whole datastore through the leader) at the same moment.
"""

from __future__ import annotations

from hacc.compiler.model import Cluster, Node
from hacc.targets import extensions, monitoring
from hacc.targets.artifact import BACKUP, Artifact
from hacc.targets.base import header, node_dir, render_template

SCRIPT_PATH = f"{extensions.LIB}/backup.sh"
UNIT = "hacc-backup"
UNIT_DIR = extensions.UNIT_DIR
LAUNCH_SOURCE = f"{extensions.LIB}/microk8s-launch.yaml"  # hacc.targets.user_data.LAUNCH_SOURCE


def applies(cluster: Cluster) -> bool:
    return cluster.backups is not None


def at(cluster: Cluster, node: Node) -> str:
    """HH:MM, the node's daily backup time."""
    assert cluster.backups is not None
    hour, minute = cluster.backups.time_of(cluster.control_plane.index(node))
    return f"{hour:02d}:{minute:02d}"


def script(cluster: Cluster, node: Node) -> str:
    b = cluster.backups
    assert b is not None
    return render_template(
        "backup.sh.j2",
        cluster,
        node=node,
        at=at(cluster, node),
        script_path=SCRIPT_PATH,
        directory=b.directory,
        textfile_dir=monitoring.TEXTFILE_DIR,
        launch_source=LAUNCH_SOURCE,
        keep=b.keep,
        timeout=b.timeout,
        copy_command=b.copy_command,
    )


def units(cluster: Cluster, node: Node) -> dict[str, str]:
    """The oneshot service and its daily timer (Persistent: a node that was off at its time
    backs up when it comes back)."""
    assert cluster.backups is not None
    what = f"hacc: back up control-plane node {node.name} of cluster {cluster.name}"
    head = header(cluster).splitlines(keepends=True)[0]
    timeout = cluster.backups.timeout + 600  # dbctl's own limit, then the archive and the copy
    return {
        f"{UNIT_DIR}/{UNIT}.service": head
        + f"[Unit]\nDescription={what}\nAfter=snap.microk8s.daemon-k8s-dqlite.service\n\n"
        f"[Service]\nType=oneshot\nExecStart={SCRIPT_PATH}\nTimeoutStartSec={timeout}\n"
        "Nice=10\nIOSchedulingClass=idle\n",
        f"{UNIT_DIR}/{UNIT}.timer": head + f"[Unit]\nDescription={what}\n\n"
        f"[Timer]\nOnCalendar=*-*-* {at(cluster, node)}:00\nPersistent=true\n\n"
        "[Install]\nWantedBy=timers.target\n",
    }


def render(cluster: Cluster) -> list[Artifact]:
    return [
        Artifact(f"{node_dir(n)}/backup.sh", script(cluster, n), BACKUP, n.name, executable=True)
        for n in cluster.control_plane
    ]
