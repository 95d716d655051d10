"""The spec's extension points as the nodes receive them: labels and taints (through the API,
by a timer on the control-plane nodes), the HTTP(S) proxy (snapd and containerd), extra files
and commands (user-data and the bootstrap script)."""

from __future__ import annotations

import re
from functools import cache

from hacc.compiler.model import POD_NETWORK, Cluster, Node
from hacc.targets.base import header, render_template
from hacc.targets.quoting import sh

LIB = "/usr/local/lib/hacc"
LABEL_SCRIPT = f"{LIB}/label-nodes.sh"
UNIT = "hacc-node-labels"
UNIT_DIR = "/etc/systemd/system"
# microk8s-resources/default-args/kube-apiserver --service-cluster-ip-range
SERVICE_NETWORK = "10.152.183.0/24"


def labelled(cluster: Cluster) -> tuple[Node, ...]:
    return tuple(n for n in cluster.nodes if n.extensions.labels or n.extensions.taints)


def label_script(cluster: Cluster) -> str:
    return render_template("label-nodes.sh.j2", cluster, nodes=labelled(cluster), unit=UNIT)


def units(cluster: Cluster) -> dict[str, str]:
    """The oneshot service and the timer that runs it until every node is labelled."""
    what = f"hacc: the spec's node labels and taints (cluster {cluster.name})"
    head = header(cluster).splitlines(keepends=True)[0]
    return {
        f"{UNIT_DIR}/{UNIT}.service": head
        + f"[Unit]\nDescription={what}\nAfter=snap.microk8s.daemon-kubelite.service\n\n"
        f"[Service]\nType=oneshot\nExecStart={LABEL_SCRIPT}\n",
        f"{UNIT_DIR}/{UNIT}.timer": head + f"[Unit]\nDescription={what}\n\n"
        "[Timer]\nOnActiveSec=0\nOnUnitInactiveSec=60s\n\n"
        "[Install]\nWantedBy=timers.target\n",
    }


def no_proxy(cluster: Cluster) -> str:
    """What containerd reaches directly: the spec's list, then what the cluster needs."""
    ep = cluster.endpoint
    own = ["127.0.0.1", "localhost", POD_NETWORK, SERVICE_NETWORK, ".svc", ".cluster.local"]
    nodes = [cluster.subnet] if cluster.subnet else [n.address for n in cluster.nodes]
    names = [*(cluster.proxy.no_proxy if cluster.proxy else ()), *own, *nodes]
    names += [a for a in (ep.address, ep.dns_name) if a]
    return ",".join(dict.fromkeys(names))


def containerd_env(cluster: Cluster) -> dict[str, str]:
    """extraContainerdEnv: written to args/containerd-env before containerd first starts
    (microk8s-cluster-agent pkg/k8sinit/apply.go; the variables microk8s-resources/default-args/
    containerd-env documents for proxied sites)."""
    p = cluster.proxy
    if p is None:
        return {}
    env = {}
    if p.http:
        env["HTTP_PROXY"] = p.http
    if p.https:
        env["HTTPS_PROXY"] = p.https
    env["NO_PROXY"] = no_proxy(cluster)
    return env


def snapd_proxy(cluster: Cluster) -> list[str]:
    """`snap set system` arguments: snapd's own proxy options (proxy.http, proxy.https)."""
    p = cluster.proxy
    if p is None:
        return []
    parts = [f"proxy.http={p.http}" if p.http else "", f"proxy.https={p.https}" if p.https else ""]
    return [x for x in parts if x]


def command_env(cluster: Cluster) -> list[str]:
    """`env` arguments that give the spec's commands the proxy (both spellings:
    curl reads only the lower-case http_proxy, other tools only the upper-case)."""
    p = cluster.proxy
    if p is None or not (p.http or p.https):
        return []
    pairs = {"http_proxy": p.http, "https_proxy": p.https, "no_proxy": no_proxy(cluster)}
    words = [f"{k}={v}" for k, v in pairs.items() if v]
    words += [f"{k.upper()}={v}" for k, v in pairs.items() if v]
    return words


def items(cluster: Cluster) -> dict[str, list[str]]:
    """What each node receives from the extension points, one line per item (`*`: every node),
    recorded in the state file so that `plan` can say what a change means for running nodes."""
    import hashlib

    out: dict[str, list[str]] = {}
    if cluster.proxy:
        p = cluster.proxy
        out["*"] = [f"proxy http={p.http or ''} https={p.https or ''} noProxy={no_proxy(cluster)}"]
    for n in cluster.nodes:
        e = n.extensions
        lines = [f"label {k}={v}" for k, v in e.labels]
        lines += [f"taint {t}" for t in e.taints]
        for f in e.files:
            digest = hashlib.sha256(f.content.encode("utf-8")).hexdigest()[:12]
            lines.append(f"file {f.path} {f.permissions} {f.owner} sha256:{digest}")
        lines += [f"preCommand {c}" for c in e.pre_commands]
        lines += [f"postCommand {c}" for c in e.post_commands]
        if lines:
            out[n.name] = lines
    return out


@cache
def item_shapes() -> dict[str, re.Pattern[str]]:
    """What `items` writes, per kind, from the schema's own patterns: a state file is input, and
    `plan` turns its items into commands for the operator to copy."""
    from hacc.schemas import load_schema

    defs = load_schema()["definitions"]

    def bare(pattern: str) -> str:
        return pattern.removeprefix("^").removesuffix("$")

    key = bare(defs["labels"]["propertyNames"]["pattern"])
    value = bare(defs["labels"]["additionalProperties"]["pattern"])
    f = defs["extraFile"]["properties"]
    from hacc.compiler.printable import PRINTABLE_CHARS

    line = PRINTABLE_CHARS + "+"
    return {
        "label": re.compile(f"(?:{key})=(?:{value})"),
        "taint": re.compile(bare(defs["taints"]["items"]["pattern"])),
        "file": re.compile(
            f"(?:{bare(f['path']['pattern'])}) (?:{bare(f['permissions']['pattern'])}) "
            f"(?:{bare(f['owner']['pattern'])}) sha256:[0-9a-f]{{12}}"
        ),
        "preCommand": re.compile(line),
        "postCommand": re.compile(line),
        "proxy": re.compile(line),
    }


def item_ok(item: str) -> bool:
    kind, _, rest = item.partition(" ")
    shape = item_shapes().get(kind)
    return shape is not None and shape.fullmatch(rest) is not None


def live_step(node: str, item: str, added: bool) -> str:
    """What a running node needs for an item that changed (cloud-init does not run again)."""

    kind, _, rest = item.partition(" ")
    on_cp = "on a control-plane node: sudo microk8s kubectl"
    if kind == "label":
        key = rest.split("=", 1)[0]
        return f"{on_cp} label node {node} {sh(rest if added else key + '-')} --overwrite"
    if kind == "taint":
        return f"{on_cp} taint node {node} {sh(rest if added else rest + '-')}" + (
            " --overwrite" if added else ""
        )
    if kind == "file":
        path = rest.split(" ", 1)[0]
        return f"copy {path} to {node}" if added else f"remove {path} from {node} if it should go"
    if kind == "proxy":
        return (
            "on every node: sudo snap set system proxy.http=... proxy.https=..., edit "
            "/var/snap/microk8s/current/args/containerd-env, then sudo snap restart "
            "microk8s.daemon-containerd (RUNBOOK.md section 11)"
        )
    return f"run it on {node} if it is still needed" if added else "nothing to undo by hacc"
