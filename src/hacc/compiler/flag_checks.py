"""Checks of what MicroK8s runs: the track, the kube-apiserver and kubelet flags that track's
Kubernetes accepts and the ones MicroK8s sets itself, and the addons the track ships."""

from __future__ import annotations

from collections.abc import Iterator

from hacc.compiler import known
from hacc.compiler.loader import Document, Path_
from hacc.compiler.model import Cluster, Flags
from hacc.compiler.rules import APISERVER_ARGS, KUBELET_ARGS, MICROK8S, err, rule, warn
from hacc.diagnostics import Diagnostic

_DATASTORE = (
    "MicroK8s runs the apiserver on its dqlite datastore through kine "
    "(default-args/kube-apiserver: --etcd-servers=unix://${SNAP_DATA}/var/kubernetes/backend/"
    "kine.sock:12379); another datastore cuts the apiserver off the cluster's data and its HA"
)
_CERTS = (
    "MicroK8s creates this file under ${SNAP_DATA}/certs and keeps it there on every node "
    "(join, refresh-certs); another path is missing on the other nodes and is never renewed"
)
_SERVICE_RANGE = (
    "MicroK8s's certificates (csr.conf.template: IP.2 = 10.152.183.1) and the dns addon "
    "(10.152.183.10) are made for 10.152.183.0/24"
)
# Flags MicroK8s sets itself (canonical/microk8s microk8s-resources/default-args/kube-apiserver
# and kubelet), with why a spec must leave them alone.
OWNED = {
    "kube-apiserver": {
        **dict.fromkeys(("--etcd-servers", "--storage-backend", "--etcd-prefix"), _DATASTORE),
        **dict.fromkeys(("--etcd-cafile", "--etcd-certfile", "--etcd-keyfile"), _DATASTORE),
        **dict.fromkeys(
            (
                "--cert-dir",
                "--client-ca-file",
                "--tls-cert-file",
                "--tls-private-key-file",
                "--service-account-key-file",
                "--service-account-signing-key-file",
                "--kubelet-client-certificate",
                "--kubelet-client-key",
                "--kubelet-certificate-authority",
                "--requestheader-client-ca-file",
                "--proxy-client-cert-file",
                "--proxy-client-key-file",
            ),
            _CERTS,
        ),
        "--service-cluster-ip-range": _SERVICE_RANGE,
    },
    "kubelet": {
        "--kubeconfig": "MicroK8s writes the kubelet's credentials to "
        "${SNAP_DATA}/credentials/kubelet.config on every node, and the join rewrites them",
        **dict.fromkeys(("--cert-dir", "--client-ca-file"), _CERTS),
        **dict.fromkeys(("--tls-cert-file", "--tls-private-key-file"), _CERTS),
        "--root-dir": "MicroK8s keeps the kubelet's state in ${SNAP_COMMON}/var/lib/kubelet, "
        "where its containerd and CSI paths expect it",
        "--container-runtime-endpoint": "MicroK8s's containerd listens on "
        "${SNAP_COMMON}/run/containerd.sock",
        "--containerd": "MicroK8s's containerd listens on ${SNAP_COMMON}/run/containerd.sock",
        "--port": "the apiserver reaches every kubelet on 10250 (logs, exec, metrics)",
    },
}
# kubelet flags that name one node: `kubeletArgs` reaches every node.
PER_NODE = {
    "--node-ip": "every node would claim the same address",
    "--hostname-override": "every node would register under the same name",
}


@rule
def track_exists(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    track = c.track
    if track is not None and track > known.newest():
        newest = known.text(known.newest())
        yield warn(
            doc,
            (*MICROK8S, "channel"),
            "HACC247",
            f"MicroK8s track {known.text(track)} is newer than the newest hacc knows ({newest}): "
            f"if it is not published yet the snap install fails at boot; use {newest}/stable, "
            "or update hacc",
        )


def _closest(name: str, candidates: frozenset[str] | set[str]) -> str | None:
    import difflib  # only for a spec that has a problem: keeps `validate` of a good one fast

    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.75)
    return close[0] if close else None


def _hint(flag: str, candidates: frozenset[str]) -> str:
    close = _closest(flag, candidates)
    return f"; did you mean {close}?" if close else ""


def _flag_diagnostics(
    c: Cluster, doc: Document, component: str, args: Flags, where: Path_
) -> Iterator[Diagnostic]:
    data = known.flags(component, c.track)
    on = f"{component} {data.reference}"
    for flag, value in args:
        path = (*where, flag)
        if flag in OWNED[component]:
            if value is not None:
                yield err(
                    doc,
                    path,
                    "HACC241",
                    f"{flag} is set by MicroK8s itself: {OWNED[component][flag]}",
                    key=True,
                )
        elif flag in data.flags:
            continue
        elif flag in data.gone:
            removed_in = data.gone[flag][0]
            yield err(
                doc,
                path,
                "HACC239",
                f"{flag} was removed from {component} in {removed_in}: it refuses to start "
                f"(unknown flag), and kubelite with it{_hint(flag, data.flags)}",
                key=True,
            )
        elif flag in data.ever:
            since = data.removed.get(flag)
            left = f"since {since}" if since is not None else f"in {data.reference}"
            yield warn(
                doc,
                path,
                "HACC240",
                f"{flag} is no longer in {component}'s reference ({left}): it is deprecated "
                f"and hidden, or removed; check that {known.text(c.track or known.newest())} "
                f"still accepts it{_hint(flag, data.flags)}",
                key=True,
            )
        elif data.reference != known.text(c.track or known.newest()):
            yield warn(
                doc,
                path,
                "HACC240",
                f"{flag} is not a flag of {on} (the newest reference hacc has); if "
                f"{known.text(c.track or known.newest())} did not add it, {component} would "
                f"not start{_hint(flag, data.flags)}",
                key=True,
            )
        else:
            yield err(
                doc,
                path,
                "HACC238",
                f"{component} {data.reference} has no flag {flag}: it would refuse to start, "
                f"and kubelite with it{_hint(flag, data.flags)}",
                key=True,
            )


# Codes checks.py already gives these flags.
_HANDLED = {"--tls-san", "--node-labels", "--register-with-taints"}


def _unsupported(c: Cluster) -> bool:
    """A track older than hacc supports (HACC209 refuses it): its flags and addons go unchecked."""
    return c.track is not None and c.track < known.tracks()[0]


@rule
def known_flags(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    if _unsupported(c):
        return
    api = tuple((f, v) for f, v in c.apiserver_args if f not in _HANDLED)
    if api:
        yield from _flag_diagnostics(c, doc, "kube-apiserver", api, APISERVER_ARGS)
    kubelet = []
    for flag, value in c.kubelet_args:
        if flag in PER_NODE and value is not None:
            yield err(
                doc,
                (*KUBELET_ARGS, flag),
                "HACC242",
                f"kubeletArgs apply to every node, so with {flag} {PER_NODE[flag]}; "
                "MicroK8s picks each node's own",
                key=True,
            )
        elif flag not in _HANDLED and flag not in PER_NODE:
            kubelet.append((flag, value))
    if kubelet:
        yield from _flag_diagnostics(c, doc, "kubelet", tuple(kubelet), KUBELET_ARGS)


@rule
def authorization_mode(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    modes = dict(c.apiserver_args).get("--authorization-mode")
    if modes is None:
        return
    listed = set(modes.split(","))
    # Node authorizes the kubelets; AlwaysAllow, a Webhook or ABAC may authorize them instead.
    if not listed & {"Node", "AlwaysAllow", "Webhook", "ABAC"}:
        yield err(
            doc,
            (*APISERVER_ARGS, "--authorization-mode"),
            "HACC243",
            f"--authorization-mode {modes} has no Node authorizer: kubelets get no permissions "
            "and every node goes NotReady; use RBAC,Node",
        )


@rule
def known_addons(c: Cluster, doc: Document) -> Iterator[Diagnostic]:
    track = c.track or known.newest()
    addons_path = (*MICROK8S, "addons")
    data = doc.data.get("spec", {}).get("microk8s", {}).get("addons", [])
    community = False  # the community repository is added (an earlier `community` entry)
    for i, addon in enumerate(c.addons):
        path = (*addons_path, i) if isinstance(data[i], str) else (*addons_path, i, "name")
        if addon.name == "ha-cluster" and addon.disable and len(c.control_plane) > 1:
            yield err(
                doc,
                path,
                "HACC246",
                f"disabling ha-cluster switches MicroK8s off dqlite HA, which these "
                f"{len(c.control_plane)} control-plane nodes depend on; remove the entry",
            )
        if track > known.newest() or _unsupported(c):
            continue  # a track hacc does not know may ship addons it does not know (HACC247)
        ships = known.addons(track)
        repo, _, name = addon.name.rpartition("/")
        if ships.get(name) and (not repo or ships[name] == repo):
            if ships[name] == "community" and not community and not addon.disable:
                # core-addons addons/community/enable runs `microk8s-addons.wrapper repo add`.
                yield err(
                    doc,
                    path,
                    "HACC245",
                    f"{name!r} is a community addon: MicroK8s has its repository only once the "
                    "'community' addon is enabled; list 'community' before it",
                )
            community = community or (name == "community" and not addon.disable)
            continue
        close = _closest(name, set(ships))
        where = f" in the {repo} repository" if repo and name in ships else ""
        yield err(
            doc,
            path,
            "HACC245",
            f"MicroK8s {known.text(track)} has no addon {addon.name!r}{where}: the bootstrap "
            "would wait for it until it gives up" + (f"; did you mean {close!r}?" if close else ""),
        )
