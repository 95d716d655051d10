"""What a rebuilt spec means for the running cluster, as a procedure of live-node steps.

`hacc plan` knows what its last build wrote (the files on disk and the state file) and what the
spec produces now; from the difference this module orders the steps a running cluster needs,
so that no step depends on one that has not run yet:

1. certificate SANs and kube-apiserver flags (apply-day2.sh) on every control-plane node, one
   at a time: nothing may reach the apiserver by a name or address its certificate lacks;
2. the DNS record of the endpoint's name;
3. join tokens: a rotated cluster token on every control-plane node, the old workers' tokens
   revoked, each new worker's token registered before the worker boots;
4. workers pinned to the VIP told both the old and the new address before the VIP moves;
5. departing control-plane nodes stop keepalived and HAProxy (they stay in the datastore);
6. the load-balancer configurations on every control-plane node that needs one (and the staged
   copies a bootstrap re-run installs), the VIP holder last: the VIP moves with it;
7. control-plane membership, add before remove: each new node is waited for until dqlite lists
   it, then each departing node leaves and is removed, the voters waited for after each;
8. pinned workers left with the new address only; new workers booted, old ones removed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from hacc.compiler.model import KEEPALIVED_HAPROXY, VIP_MODES, Cluster, Node
from hacc.errors import HaccError
from hacc.targets import keepalived
from hacc.targets.artifact import LB_PATHS
from hacc.targets.procedure import Phase, Procedure, Step
from hacc.targets.quoting import sh
from hacc.targets.user_data import LIB, PROVIDER_SOURCE, lb_file_list, provider_yaml

SNAP_DATA = "/var/snap/microk8s/current"
PROVIDER_PATH = f"{SNAP_DATA}/args/traefik/provider.yaml"
CLUSTER_TOKENS = f"{SNAP_DATA}/credentials/cluster-tokens.txt"
PERSISTENT_TOKENS = f"{SNAP_DATA}/credentials/persistent-cluster-tokens.txt"
RELOAD = {"haproxy.cfg": "haproxy", "keepalived.conf": "keepalived"}
# verify.sh's first comment names the node it checks: the address of a node that left the spec.
VERIFY_HEADER = re.compile(
    r"^# Checks ([a-z0-9-]{1,63}) \((control plane|worker), ([0-9.]{7,15})\)", re.M
)
SAN_LINE = re.compile(r"^SAN_(DNS|IP)='([^']*)'", re.M)
FLAG_LINE = re.compile(r"^(SET|UNSET)_FLAGS='([^']*)'", re.M)


@dataclass(frozen=True)
class FileChange:
    """One pending change of the build, as `hacc plan` found it."""

    path: str
    action: str  # create | update | remove
    kind: str  # the artifact kind's name
    node: str | None
    old: str | None  # what the last build wrote (update, remove)
    new: str | None  # what the spec produces now (create, update)


@dataclass(frozen=True)
class OldNode:
    name: str
    address: str | None  # None when the last build's files do not say
    control_plane: bool


@dataclass(frozen=True)
class Delta:
    cluster: Cluster  # as the spec says now
    changes: tuple[FileChange, ...]
    old_endpoint: str | None  # the state file's endpoint text: https://HOST:PORT[ (ADDRESS)]
    new_endpoint: str
    old_token: str | None  # the state file's join-token reference
    new_token: str

    def of(self, node: str, name: str) -> FileChange | None:
        return next(
            (c for c in self.changes if c.node == node and c.path.rsplit("/", 1)[-1] == name),
            None,
        )

    @property
    def added(self) -> list[Node]:
        created = {c.node for c in self.changes if c.kind == "user-data" and c.action == "create"}
        return [n for n in self.cluster.nodes if n.name in created]

    @property
    def removed(self) -> list[OldNode]:
        out = []
        for c in self.changes:
            if c.kind == "verify" and c.action == "remove" and c.node:
                m = VERIFY_HEADER.search(c.old or "")
                ok = m is not None and m.group(1) == c.node and _ipv4(m.group(3))
                out.append(
                    OldNode(
                        c.node,
                        m.group(3) if m and ok else None,
                        bool(m and m.group(2) == "control plane"),
                    )
                )
        return out

    @property
    def token_rotated(self) -> bool:
        return self.old_token is not None and self.old_token != self.new_token


def _ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


def endpoint_parts(text: str) -> tuple[str, int, str | None]:
    """(host, port, address) of an endpoint text as the state file records it."""
    m = re.fullmatch(r"https://([A-Za-z0-9.-]{1,253}):([0-9]{1,5})( \(([0-9.]{7,15})\))?", text)
    if not m:
        return text, 0, None
    host, port, address = m.group(1), int(m.group(2)), m.group(4)
    if address is None and _ipv4(host):
        address = host
    return host, port, address


def server(text: str) -> str:
    """The gates' endpoint: the address when there is one (no DNS needed on the nodes)."""
    host, port, address = endpoint_parts(text)
    return f"https://{address or host}:{port}"


def _san_summary(old: str | None, new: str | None) -> str:
    def sans(text: str | None) -> set[str]:
        return {v for _, line in SAN_LINE.findall(text or "") for v in line.split()}

    def flags(text: str | None) -> set[tuple[str, str]]:
        return set(FLAG_LINE.findall(text or ""))

    added = sorted(sans(new) - sans(old))
    what = []
    if added:
        what.append("adds SANs " + ", ".join(added) + " (refresh-certs --cert server.crt)")
    if flags(new) != flags(old):
        what.append("sets kube-apiserver flags")
    return "; ".join(what) or "brings the node to the spec"


def procedure(d: Delta, out: str) -> Procedure | None:
    """The live-node steps `d` needs, in a safe order; None when the running cluster needs
    nothing. `out`: the cluster's build folder as the script finds it (relative to the
    script's folder, or absolute)."""
    c = d.cluster
    added = {n.name for n in d.added}
    removed = d.removed
    staying = [n for n in c.control_plane if n.name not in added]
    if not staying:
        raise HaccError(
            f"{c.name}: no control-plane node stays from the last build to the spec, so no step "
            "can keep the cluster's datastore; replace control-plane nodes a few at a time, "
            "building and running each change"
        )
    via = staying[0].address
    old_ep = d.old_endpoint or d.new_endpoint
    old_server, new_server = server(old_ep), server(d.new_endpoint)
    old_host, old_port, old_address = endpoint_parts(old_ep)
    new_host, new_port, new_address = endpoint_parts(d.new_endpoint)
    moved = (old_address, old_port) != (new_address, new_port)
    old_cp = " ".join([n.name for n in staying] + [n.name for n in removed if n.control_plane])
    new_cp = " ".join(n.name for n in c.control_plane)
    phases: list[Phase] = []
    texts: list[tuple[str, str]] = []

    def phase(
        title: str,
        steps: list[Step],
        srv: str,
        cp: str,
        *,
        gated: bool = True,
        server_after: str = "",
    ) -> None:
        if steps:
            phases.append(Phase(title, srv, tuple(steps), gated, via, cp, server_after or srv))

    # 1. SANs and flags, every staying control-plane node, one at a time.
    steps = []
    for n in staying:
        ch = d.of(n.name, "apply-day2.sh")
        if ch is None or ch.action != "update":
            continue
        steps.append(
            Step(
                f"{n.name}:apply-day2",
                n.name,
                f"apply-day2.sh: {_san_summary(ch.old, ch.new)}",
                (
                    f'push {n.address} "$OUT"/{sh(ch.path)} {LIB}/apply-day2.sh 0755',
                    f"run {n.address} bash {LIB}/apply-day2.sh",
                ),
                why="the certificate must carry a new name or address before anything uses it "
                "(scripts/wrappers/refresh_certs.py in canonical/microk8s re-renders csr.conf "
                "from csr.conf.template)",
                back=f"apply-day2.sh keeps a backup of each file it edits on {n.name}; "
                "sudo microk8s refresh-certs --undo restores the certificates it replaced",
            )
        )
    phase("Certificate SANs and kube-apiserver flags", steps, old_server, old_cp)

    # 2. The endpoint's DNS record.
    if c.endpoint.dns_name and new_address and (new_host != old_host or moved):
        phase(
            "The endpoint's DNS record",
            [
                Step(
                    "dns",
                    "DNS",
                    f"{c.endpoint.dns_name} resolves to {new_address}",
                    (f"resolves {sh(c.endpoint.dns_name)} {new_address}",),
                    why="clients that use the name follow the record; the certificates already "
                    "carry it",
                    back="point the record back at the old address",
                )
            ],
            old_server,
            old_cp,
            gated=False,
        )

    # 3. Tokens: before any node boots with the new user-data.
    steps = []
    old_names = " ".join(
        [w.name for w in c.workers if w.name not in added]
        + [o.name for o in removed if not o.control_plane]
    )
    if d.token_rotated:
        texts.append(("NEW_TOKEN_FILE", '"$TOKENS"/join-token'))
        for n in staying:
            steps.append(
                Step(
                    f"{n.name}:cluster-token",
                    n.name,
                    "the rotated cluster token replaces the old one "
                    "(persistent-cluster-tokens.txt)",
                    (f'push {n.address} "$NEW_TOKEN_FILE" {PERSISTENT_TOKENS} 0660 {_group(c)}',),
                    why="the cluster-agent checks persistent-cluster-tokens.txt before "
                    "cluster-tokens.txt at every join (pkg/snap/snap.go in "
                    "canonical/microk8s-cluster-agent); a token no longer in it admits nobody",
                    back="install the old token again from the old materialized folder",
                )
            )
            steps.append(
                Step(
                    f"{n.name}:revoke-worker-tokens",
                    n.name,
                    "the old workers' single-use tokens revoked (cluster-tokens.txt)",
                    (f"revoke_worker_tokens {n.address} {CLUSTER_TOKENS} {old_names}",),
                    why="a worker token registered without a TTL stays valid until a join "
                    "spends it (ConsumeClusterToken, pkg/snap/snap.go), and the old cluster "
                    "token computes it",
                )
            )
    new_workers = [w for w in c.workers if w.name in added]
    registrar = c.first if c.first.name not in added else staying[0]
    unjoined = new_workers if not d.token_rotated else list(c.workers)
    for w in unjoined:
        steps.append(
            Step(
                f"{w.name}:token",
                registrar.name,
                f"register {w.name}'s single-use join token (microk8s add-node --token)",
                (f"register_token {registrar.address} {w.name} {CLUSTER_TOKENS}",),
                why="the first node registers workers' tokens only at its first boot; a worker "
                "that has joined is skipped (its token stays spent)",
            )
        )
    phase("Join tokens", steps, old_server, old_cp, gated=False)

    # 4. Pinned workers learn the new address before the VIP moves.
    pinned = c.worker_endpoint == "vip" and c.mode in VIP_MODES
    old_workers = [w for w in c.workers if w.name not in added]
    if pinned and moved and old_address:
        both = provider_yaml(c, extra=f"{old_address}:{old_port}")
        texts.append(("PROVIDER_BOTH", sh(both)))
        texts.append(("PROVIDER_NEW", sh(provider_yaml(c))))
        steps = [
            Step(
                f"{w.name}:provider-both",
                w.name,
                f"apiserver-proxy: {old_address}:{old_port} and {new_address}:{new_port}",
                (
                    f'push_text {w.address} "$PROVIDER_BOTH" {PROVIDER_PATH} 0644',
                    f"run {w.address} snap restart microk8s.daemon-apiserver-proxy",
                ),
                why="the apiserver-proxy dials its servers in turn and skips one that refuses "
                "(pkg/proxy/userspace.go in canonical/microk8s-cluster-agent), so a worker "
                "with both addresses keeps the API while the VIP moves",
                back="the old provider.yaml, with the old address only, in the last build's "
                f"{w.name} user-data",
            )
            for w in old_workers
        ]
        phase("Workers pinned to the VIP: both addresses", steps, old_server, old_cp)

    # 5. Departing control-plane nodes stop their load balancer: once the others' keepalived
    # no longer lists them as peers they would hear no advert and take the VIP as well.
    steps = []
    if c.mode == KEEPALIVED_HAPROXY:
        for o in removed:
            if o.control_plane and o.address:
                steps.append(
                    Step(
                        f"{o.name}:load-balancer-off",
                        o.name,
                        "stop keepalived and HAProxy (it stays a datastore node for now)",
                        (f"quiesce {o.address} {o.name}",),
                        why="keepalived sends its adverts to its unicast peers only, and a node "
                        "that hears none from a higher priority holds the VIP",
                        back=f"sudo systemctl start keepalived haproxy on {o.name}",
                    )
                )
    phase("Departing control-plane nodes: load balancer off", steps, old_server, old_cp)

    # 6. Load-balancer configurations, the VIP holder last: every peer and backend of the
    # spec, new nodes included (a peer not booted yet is only an address nobody answers).
    steps = []
    if c.mode == KEEPALIVED_HAPROXY:
        priority = keepalived.priorities(c)
        files = lb_file_list(c)
        for n in sorted(staying, key=lambda n: priority[n.name]):
            changed = [
                (name, mode, ch)
                for name, _, mode in files
                if (ch := d.of(n.name, name)) is not None and ch.action in ("update", "create")
            ]
            if not changed:
                continue
            lines: list[str] = []
            for name, mode, ch in changed:
                lines.append(f'push {n.address} "$OUT"/{sh(ch.path)} {LB_PATHS[name]} {mode}')
                lines.append(f'push {n.address} "$OUT"/{sh(ch.path)} {LIB}/{name} {mode}')
            for name, _, _ in changed:
                if name in RELOAD:
                    lines.append(f"run {n.address} systemctl reload {RELOAD[name]}")
            steps.append(
                Step(
                    f"{n.name}:load-balancer",
                    n.name,
                    "install "
                    + ", ".join(name for name, _, _ in changed)
                    + f" (and the staged copies in {LIB}), reload",
                    tuple(lines),
                    why="keepalived elects by priority, so the VIP moves when its holder "
                    f"({max(staying, key=lambda n: priority[n.name]).name}) reloads; the "
                    "staged copies are what a bootstrap re-run installs",
                    back=f"the last build's files for {n.name} (Git), installed the same way",
                )
            )
    if c.mode != KEEPALIVED_HAPROXY and pinned and moved and old_address:
        steps.append(
            Step(
                "endpoint-moved",
                "GitOps",
                f"the kube-vip manifest applied: the control plane answers through {new_server}",
                (f"await_endpoint {via} {new_server}",),
                why="kube-vip's manifest is GitOps-reconciled; the workers keep both addresses "
                "until the new one answers",
            )
        )
    phase(
        "Load-balancer configurations, the VIP holder last",
        steps,
        old_server,
        " ".join(n.name for n in staying),
        server_after=new_server,
    )

    # 7. Control-plane membership, add before remove (a dead node first: it cannot leave).
    steps = [
        Step(
            f"{o.name}:remove-if-dead",
            staying[0].name,
            f"if ssh cannot reach {o.name}, remove it from the datastore (remove-node --force)",
            (f"remove_if_dead {via} {o.name} {o.address}",),
            why="joining while a dead voter is still listed in dqlite has crashed clusters "
            "(canonical/microk8s#2348)",
        )
        for o in removed
        if o.control_plane and o.address and added
    ]
    for n in c.control_plane:
        if n.name in added:
            steps.append(
                Step(
                    f"{n.name}:joined",
                    n.name,
                    f"boot {n.name} with its user-data; wait until dqlite lists it",
                    (f"await_datastore {via} {n.address} {n.name}", f"await_voters {via}"),
                    why="a new node is a datastore node before any old one leaves, so dqlite "
                    "never drops below its voters (`microk8s status`, "
                    "scripts/wrappers/status.py in canonical/microk8s)",
                    back=f"sudo microk8s leave on {n.name}, then sudo microk8s "
                    f"remove-node {n.name} on another control-plane node",
                )
            )
    for o in removed:
        if o.control_plane:
            steps += departure(o, via, staying[0].name)
    kept = " ".join(n.name for n in staying)
    # Not gated: a gate wants every voter, and a dead departing node is one short until its
    # replacement joins; each step waits for the voters itself.
    phase("Control-plane membership: add before remove", steps, old_server, kept, gated=False)

    # 8. Workers: the new address only; new workers boot; old ones go.
    steps = []
    if pinned and moved and old_address:
        for w in old_workers:
            steps.append(
                Step(
                    f"{w.name}:provider-new",
                    w.name,
                    f"apiserver-proxy: {new_address}:{new_port} only (and the staged copy)",
                    (
                        f'push_text {w.address} "$PROVIDER_NEW" {PROVIDER_PATH} 0644',
                        f'push_text {w.address} "$PROVIDER_NEW" {PROVIDER_SOURCE} 0644',
                        f"run {w.address} snap restart microk8s.daemon-apiserver-proxy",
                    ),
                    why="what the worker's user-data installs at first boot, so a re-run of "
                    "its bootstrap keeps it",
                )
            )
    for w in new_workers:
        steps.append(
            Step(
                f"{w.name}:joined",
                w.name,
                f"boot {w.name} with its user-data; wait until it is Ready",
                (f"await_ready {via} {w.name}",),
                back=f"sudo microk8s leave on {w.name}, then sudo microk8s remove-node "
                f"{w.name} on a control-plane node",
            )
        )
    for o in removed:
        if not o.control_plane:
            steps += departure(o, via, staying[0].name)
    phase("Workers", steps, new_server, new_cp)

    if not phases:
        return None
    return Procedure(
        c,
        f"day2-{c.name}",
        f"Day-2 changes of cluster {c.name} on its running nodes",
        tuple(phases),
        min(3, len(c.control_plane)),
        out=out,
        texts=tuple(texts),
        tokens=any(s.key.endswith(("token", "tokens")) for ph in phases for s in ph.steps),
        old_tokens=d.token_rotated,
    )


def departure(o: OldNode, via: str, remover: str) -> list[Step]:
    """A node that left the spec leaves the cluster itself (when ssh reaches it), then a
    remaining control-plane node deletes its Node; for a control-plane node, each waits for
    the datastore's voters (dqlite promotes a stand-by: go-dqlite app/roles.go)."""
    wait = (f"await_voters {via}",) if o.control_plane else ()
    what = "the datastore" if o.control_plane else "the cluster"
    steps = []
    if o.address:
        steps.append(
            Step(
                f"{o.name}:leave",
                o.name,
                f"{o.name} leaves {what} (microk8s leave)",
                (f"leave {o.address} {o.name}", *wait),
                why="leave takes the node out of dqlite itself (scripts/wrappers/leave.py in "
                "canonical/microk8s); remove-node refuses a node still registered there "
                "without --force (scripts/wrappers/remove_node.py)",
            )
        )
    remove = (
        f"remove_node {via} {o.name} {o.address}"
        if o.address
        else f"run {via} microk8s remove-node {o.name} --force"
    )
    steps.append(
        Step(
            f"{o.name}:remove-node",
            remover,
            f"remove {o.name}'s Node (microk8s remove-node)"
            + (", then wait for the voters" if wait else ""),
            (remove, *wait),
            why="the Node object stays after leave until remove-node deletes it",
        )
    )
    return steps


def _group(c: Cluster) -> str:
    # The token files' group (actions/common/utils.sh get_microk8s_group in canonical/microk8s).
    return "snap_microk8s" if "-strict/" in c.channel else "microk8s"
