"""`nodes/<cp>/apiserver-args.overlay` and `apply-day2.sh`: apiserver flags and SANs on live nodes."""

from __future__ import annotations

from collections.abc import Iterable

from hacc.compiler.model import Cluster, Node
from hacc.targets.artifact import DAY2, Artifact
from hacc.targets.base import header, is_ip, node_dir, render_template


def applies(cluster: Cluster) -> bool:
    return True


def _lines(items: Iterable[str]) -> str:
    """A newline-separated list, one shell word once the template quotes it (`| sh`)."""
    listed = list(items)
    return "".join(f"\n{item}" for item in listed) + "\n" if listed else ""


def overlay(cluster: Cluster, node: Node) -> str:
    lines = [
        header(cluster).rstrip("\n"),
        f"# kube-apiserver flags hacc manages on {node.name}; apply-day2.sh applies them.",
        "# `set --flag=value` sets or replaces one flag, `unset --flag` removes it;",
        "# every other line of /var/snap/microk8s/current/args/kube-apiserver is left alone.",
    ]
    for flag, value in cluster.apiserver_args:
        lines.append(f"unset {flag}" if value is None else f"set {flag}={value}")
    lines.append("# certificate SANs (csr.conf.template, above #MOREIPS)")
    lines += [f"san {name}" for name in cluster.sans]
    return "\n".join(lines) + "\n"


def script(cluster: Cluster, node: Node) -> str:
    return render_template(
        "apply-day2.sh.j2",
        cluster,
        node=node,
        set_flags=_lines(f"{f}={v}" for f, v in cluster.apiserver_args if v is not None),
        unset_flags=_lines(f for f, v in cluster.apiserver_args if v is None),
        san_dns=_lines(s for s in cluster.sans if not is_ip(s)),
        san_ip=_lines(s for s in cluster.sans if is_ip(s)),
    )


def render(cluster: Cluster) -> list[Artifact]:
    out = []
    for node in cluster.control_plane:
        d = node_dir(node)
        out.append(Artifact(f"{d}/apiserver-args.overlay", overlay(cluster, node), DAY2, node.name))
        out.append(
            Artifact(f"{d}/apply-day2.sh", script(cluster, node), DAY2, node.name, executable=True)
        )
    return out
