"""One generated file, and what the rest of hacc needs to know about it.

Each target says, on every artifact it returns, what kind of file it is and which node it
belongs to. The writer, the planner, the self-check, the size check and `materialize` read
that from here instead of guessing it from the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from hacc.digests import digest

# What a change to an artifact means for a running cluster (`hacc plan`).
FIRST_BOOT = "first boot only"
GITOPS = "GitOps-reconciled"
LIVE_NODE = "live-node step"
DOCS = "documentation"
PROMETHEUS = "Prometheus reload"

EC2_LIMIT = 16384  # bytes of raw user-data EC2 accepts


@dataclass(frozen=True)
class Kind:
    name: str
    impact: str  # FIRST_BOOT, GITOPS, LIVE_NODE or DOCS
    check: str | None = None  # the build's self-check: "cloud-config" or "launch-config"
    size_limit: int | None = None  # a warning (HACC223) above this many bytes
    secret: bool = False  # carries join-token placeholders that `materialize` fills


USER_DATA = Kind("user-data", FIRST_BOOT, "cloud-config", EC2_LIMIT, secret=True)
LAUNCH_CONFIG = Kind("launch-config", FIRST_BOOT, "launch-config")
LOAD_BALANCER = Kind("load-balancer", LIVE_NODE)  # keepalived.conf, haproxy.cfg, check script
DAY2 = Kind("day2", LIVE_NODE)
BACKUP = Kind("backup", LIVE_NODE)  # staged at first boot; a changed one is copied to the node
MANIFEST = Kind("manifest", GITOPS)
GITOPS_OBJECT = Kind("gitops", GITOPS)
EXTERNAL_LB = Kind("external-lb", LIVE_NODE)
RUNBOOK = Kind("runbook", DOCS)
VERIFY = Kind("verify", DOCS)  # a read-only check, run by hand on the node
MONITORING = Kind("monitoring", PROMETHEUS)  # monitoring/: for a Prometheus outside the cluster
KINDS = {
    k.name: k
    for k in (
        USER_DATA,
        LAUNCH_CONFIG,
        LOAD_BALANCER,
        DAY2,
        BACKUP,
        MANIFEST,
        GITOPS_OBJECT,
        EXTERNAL_LB,
        RUNBOOK,
        VERIFY,
        MONITORING,
    )
}


@dataclass(frozen=True)
class Artifact:
    path: str  # relative to OUT/<cluster>/, always with '/'
    content: str
    kind: Kind
    node: str | None = None  # the node it is for, if any
    executable: bool = False

    @cached_property
    def data(self) -> bytes:
        return self.content.encode("utf-8")

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """Pickled as plain values, its kind by name: a fleet's artifacts travel between
        processes (hacc.outdir.parallel), and a dataclass's generic pickling costs several times
        more. As its bytes and their digest, computed in the worker: the process that receives
        a fleet's artifacts writes bytes and keeps one copy of them (see Encoded)."""
        return Encoded, (
            self.path,
            self.data,
            self.kind.name,
            self.node,
            self.executable,
            self.digest,
        )

    @cached_property
    def digest(self) -> str:
        """sha256 of `data`, as state files record it."""
        return digest(self.data)

    @property
    def size(self) -> int:
        """Bytes in `data`."""
        return len(self.data)

    @classmethod
    def read_back(
        cls, path: str, data: bytes, kind: Kind, node: str | None, *, executable: bool, digest: str
    ) -> Artifact:
        """An artifact as found on disk (`data` must be UTF-8, `digest` its checked sha256): its
        bytes and digest are kept, not computed again."""
        data.decode("utf-8")  # raises UnicodeDecodeError, as a text artifact must not
        return Encoded(path, data, kind.name, node, executable, digest)


class Encoded(Artifact):
    """An artifact held as its UTF-8 bytes alone, its text decoded again whenever asked for (a
    rare need: the diff of a plan, materialize). A fleet's output, read back from its folders
    or received from the workers that rendered it, is then in memory once, not twice."""

    def __init__(  # noqa: PLR0917 -- the fields, in pickling's positional order
        self,
        path: str,
        data: bytes,
        kind: str,
        node: str | None,
        executable: bool,
        digest: str,
    ) -> None:
        # The dataclass's __init__ would set `content`, which here is the decoded bytes.
        set_field = object.__setattr__
        set_field(self, "path", path)
        set_field(self, "kind", KINDS[kind])
        set_field(self, "node", node)
        set_field(self, "executable", executable)
        self.__dict__["data"] = data  # what the cached properties would compute
        self.__dict__["digest"] = digest

    @property
    def content(self) -> str:
        return self.data.decode("utf-8")


# Where the bootstrap installs each load-balancer file on a node (targets/user_data.py LB_FILES).
LB_PATHS = {
    "haproxy.cfg": "/etc/haproxy/haproxy.cfg",
    "keepalived.conf": "/etc/keepalived/keepalived.conf",
    "check-apiserver.sh": "/etc/keepalived/check-apiserver.sh",
    "keepalived-notify.sh": "/etc/keepalived/keepalived-notify.sh",
}


def impact(
    kind: Kind, node: str | None, action: str = "update", *, name: str = "", new_node: bool = False
) -> tuple[str, str]:
    """What creating, updating or removing an artifact of `kind` (file `name`, for `node`) means
    for a running cluster, and the step it needs. `new_node`: the node itself is new in this
    change (its user-data is created too), so nothing of it runs yet."""
    if node and new_node and action == "create":
        what = "with it" if kind is USER_DATA else "with its user-data"
        return FIRST_BOOT, f"boot the new node {node} {what} (RUNBOOK.md section 3)"
    if node and action == "remove":
        if kind is USER_DATA:
            return (
                LIVE_NODE,
                f"{node} left the spec: it leaves the cluster as a live step (microk8s leave, "
                "then remove-node: hacc plan --script)",
            )
        return LIVE_NODE, f"{node} left the spec"
    where = LB_PATHS.get(name, "/etc")
    hints = {
        "user-data": f"read at first boot only: a node booted from it gets it; a live {node} "
        "needs only the live steps (hacc plan --script)",
        "launch-config": f"read at first boot only: a node booted from it gets it; a live {node} "
        "needs only the live steps (hacc plan --script)",
        "load-balancer": f"copy it to {where} on {node}, then systemctl reload haproxy keepalived",
        "day2": f"run apply-day2.sh on {node} (RUNBOOK.md section 5): may refresh certificates "
        "and restart kubelite",
        "backup": f"copy it to /usr/local/lib/hacc/backup.sh on {node} (RUNBOOK.md section 12); "
        "its timer runs it",
        "manifest": "Argo CD / Flux apply it",
        "gitops": "apply once to the GitOps controller",
        "external-lb": "apply it to your load balancer (RUNBOOK.md section 7)",
        "runbook": "",
        "verify": f"copy to {node} and run it there to check the node",
        "monitoring": "load it into your Prometheus or blackbox exporter and reload it "
        "(RUNBOOK.md section 8)",
    }
    return kind.impact, hints[kind.name]
