"""`hacc upgrade`: a rolling, quorum-keeping upgrade of a running cluster to the next channel,
or to the newest revision of the channel it follows (`--to` the spec's own channel).

The procedure is compiled from the spec like every other artifact: a script the operator runs
from a workstation that reaches every node with ssh, and a Markdown page of the same steps.
Kubernetes's version-skew policy lets kube-apiservers differ by one minor version at most, so
one upgrade moves one minor version; control-plane nodes go one by one (dqlite keeps writing
while two of its three voters are up), each gated on the cluster being healthy through its
endpoint; workers follow in batches of `spec.workers.upgradeBatchSize`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hacc.compiler.model import CHANNEL, Cluster, Node
from hacc.errors import HaccError


@dataclass(frozen=True)
class Channel:
    text: str
    track: str  # 1.33, 1.33-strict or latest
    minor: tuple[int, int] | None  # None for latest
    strict: bool

    @property
    def slug(self) -> str:
        return self.text.replace("/", "-")

    @property
    def risk(self) -> str:
        return self.text.split("/")[1]

    def next_minor(self, risk: str) -> str:
        """The channel one minor version on, on `risk`."""
        assert self.minor is not None
        return f"{self.minor[0]}.{self.minor[1] + 1}{'-strict' if self.strict else ''}/{risk}"

    @property
    def kubelet_prefix(self) -> str:
        """What a node of this channel reports as its kubelet version, up to the patch."""
        assert self.minor is not None  # check_step refused `latest`
        return f"v{self.minor[0]}.{self.minor[1]}."


def channel(text: str) -> Channel:
    m = CHANNEL.fullmatch(text)
    if not m:
        raise HaccError(
            f"{text!r} is not a snap channel of MicroK8s: give <track>/<risk>, such as 1.33/stable"
        )
    minor = (int(m.group(2)), int(m.group(3))) if m.group(2) else None
    return Channel(text, m.group(1), minor, bool(m.group(4)))


def check_step(old: Channel, new: Channel) -> None:
    """Refuse what a rolling `snap refresh` cannot do safely in one procedure."""
    if old.minor is None or new.minor is None:
        raise HaccError(
            f"{old.text} -> {new.text}: a `latest` track names no version, so the version skew "
            "cannot be checked; pin numbered tracks (the nodes' track: `snap list microk8s`)"
        )
    if old.strict != new.strict:
        raise HaccError(
            f"{old.text} -> {new.text}: strict and classic confinement are different snaps to "
            "`snap refresh`; changing confinement means reinstalling each node"
        )
    if new.minor < old.minor:
        raise HaccError(
            f"{old.text} -> {new.text} is a downgrade, which MicroK8s does not support (and "
            "`snap revert` on a control-plane node would take its datastore back in time too)"
        )
    if new.minor[0] != old.minor[0] or new.minor[1] > old.minor[1] + 1:
        raise HaccError(
            f"{old.text} -> {new.text} skips minor versions: Kubernetes's version-skew policy "
            "allows kube-apiservers one minor version apart, so upgrade one minor at a time: "
            f"first to {old.next_minor(new.risk)}"
        )


@dataclass(frozen=True)
class Procedure:
    cluster: Cluster
    old: Channel
    new: Channel
    batches: tuple[tuple[Node, ...], ...]  # worker batches, in spec order

    @property
    def in_track(self) -> bool:
        """A refresh to the newest revision of the channel the nodes already follow: snap
        refreshes are held on every node (bootstrap.sh), so this is how they arrive."""
        return self.old.text == self.new.text

    @property
    def version(self) -> str:
        """The kubelet version prefix a node reports once refreshed, such as `v1.33.`."""
        return self.new.kubelet_prefix

    @property
    def old_version(self) -> str:
        return self.old.kubelet_prefix

    @property
    def server(self) -> str:
        """The endpoint the gates use from a control-plane node: the VIP or load balancer
        address (no DNS needed on the node), else the DNS name."""
        ep = self.cluster.endpoint
        host = ep.address or ep.dns_name
        return f"https://{host}:{ep.port}"

    @property
    def voters(self) -> int:
        """dqlite voters a healthy cluster has: three once it has three control-plane nodes."""
        return min(3, len(self.cluster.control_plane))

    def helper(self, node: Node) -> Node:
        """The control-plane node that drains, watches and uncordons `node`: never itself."""
        return next(n for n in self.cluster.control_plane if n != node)

    @property
    def slug(self) -> str:
        return f"upgrade-{self.cluster.name}-{self.new.slug}"


def procedure(cluster: Cluster, to: str, frm: str | None = None) -> Procedure:
    old = channel(frm or cluster.channel)
    new = channel(to)
    check_step(old, new)  # the same channel: an in-track refresh, with the same gates
    if len(cluster.control_plane) < 3:
        raise HaccError(
            f"{cluster.name} has {len(cluster.control_plane)} control-plane node(s): dqlite keeps "
            "quorum through a node's refresh only with three or more, so there is no rolling "
            "upgrade to plan; refresh in a maintenance window (`sudo snap refresh microk8s "
            f"--channel={to}` on each node) or add control-plane nodes first"
        )
    size = cluster.upgrade_batch
    workers = cluster.workers
    batches = tuple(workers[i : i + size] for i in range(0, len(workers), size))
    return Procedure(cluster, old, new, batches)


def script(p: Procedure) -> str:
    from hacc.targets.base import render_template

    return render_template("upgrade.sh.j2", p.cluster, p=p)


def page(p: Procedure) -> str:
    from hacc.targets.base import render_template

    return render_template("UPGRADE.md.j2", p.cluster, comment="<!--", p=p)
