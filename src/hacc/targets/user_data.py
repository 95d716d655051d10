"""`nodes/<node>/user-data.yaml`: the #cloud-config that turns a fresh machine into this node.

cloud-init order (reference/ecosystem.md 3d): write_files (init stage) stages hacc's files under
/usr/local/lib/hacc; packages (config stage) installs keepalived and HAProxy, which stay idle
(Debian's keepalived.service needs /etc/keepalived/keepalived.conf); runcmd (final stage) runs
the bootstrap script. The script puts the launch configuration in place before every install
attempt, and the load-balancer configurations only once the node's certificate is pinned.
"""

from __future__ import annotations

from typing import Any

from hacc.compiler.model import KEEPALIVED_HAPROXY, VIP_MODES, Cluster, Node
from hacc.targets import backup, extensions, haproxy, keepalived, launch_config
from hacc.targets.artifact import USER_DATA, Artifact
from hacc.targets.base import (
    dump_yaml,
    header,
    node_dir,
    render_template,
    worker_token_placeholder,
)

LIB = extensions.LIB
BOOTSTRAP_PATH = f"{LIB}/bootstrap.sh"
LAUNCH_SOURCE = f"{LIB}/microk8s-launch.yaml"  # the pristine copy, outside snapd's reach


RESUME_UNIT = "hacc-bootstrap-resume"
TOKEN_UNIT = "hacc-worker-tokens"
TOKEN_SCRIPT = f"{LIB}/worker-tokens.sh"


def token_units(cluster: Cluster) -> dict[str, str]:
    """The oneshot service and the timer that keep the workers' tokens registered on a
    control-plane node until every worker has joined (worker-tokens.sh)."""
    head = header(cluster).splitlines(keepends=True)[0]
    what = f"hacc: the workers' join tokens (cluster {cluster.name})"
    return {
        f"{extensions.UNIT_DIR}/{TOKEN_UNIT}.service": head
        + f"[Unit]\nDescription={what}\nAfter=snap.microk8s.daemon-kubelite.service\n\n"
        f"[Service]\nType=oneshot\nExecStart={TOKEN_SCRIPT}\n",
        f"{extensions.UNIT_DIR}/{TOKEN_UNIT}.timer": head + f"[Unit]\nDescription={what}\n\n"
        "[Timer]\nOnActiveSec=60s\nOnUnitInactiveSec=60s\n\n"
        "[Install]\nWantedBy=timers.target\n",
    }


def resume_units(cluster: Cluster) -> dict[str, str]:
    """A path unit, inert until the bootstrap arms it when it gives up waiting for the launch
    configuration: the cluster-agent keeps retrying the join (microk8s-cluster-agent
    cmd/cluster-agent.go), and a join that lands later must not leave the node half-configured,
    so the applied file's appearance runs the bootstrap again to finish (systemd.path
    PathExists=)."""
    from hacc.targets.launch_config import PATH_ON_NODE

    head = header(cluster).splitlines(keepends=True)[0]
    applied = f"{PATH_ON_NODE.rsplit('/', 1)[0]}/etc/launcher/install.yaml.applied"
    what = f"hacc: finish the bootstrap after a late join (cluster {cluster.name})"
    return {
        f"{extensions.UNIT_DIR}/{RESUME_UNIT}.path": head
        + f"[Unit]\nDescription={what}\n\n[Path]\nPathExists={applied}\n"
        f"Unit={RESUME_UNIT}.service\n\n[Install]\nWantedBy=multi-user.target\n",
        f"{extensions.UNIT_DIR}/{RESUME_UNIT}.service": head
        + f"[Unit]\nDescription={what}\nAfter=snap.microk8s.daemon-cluster-agent.service\n\n"
        f"[Service]\nType=oneshot\nExecStart=/bin/bash {BOOTSTRAP_PATH}\n",
    }


JOIN_SOURCE = f"{LIB}/microk8s-launch-join.yaml"  # node 1's, joining instead of founding


def via_source(via: Node) -> str:
    """Where the bootstrap writes the launch configuration that joins through `via`: the
    staged one with `via`'s address in its join URL (one copy of the apiserver flags only)."""
    return f"{LIB}/microk8s-launch-via-{via.name}.yaml"


WORKER_TOKENS = f"{LIB}/worker-join-tokens"
PROVIDER_SOURCE = f"{LIB}/apiserver-proxy-provider.yaml"
# Load-balancer files: staged here, installed at their real path by the bootstrap script.
LB_FILES = (
    ("haproxy.cfg", haproxy.CONF_PATH, "0644"),
    ("keepalived.conf", keepalived.CONF_PATH, "0644"),
    ("check-apiserver.sh", keepalived.CHECK_SCRIPT_PATH, "0755"),
    ("keepalived-notify.sh", keepalived.NOTIFY_SCRIPT_PATH, "0755"),
)


def applies(cluster: Cluster) -> bool:
    return True


def _file(path: str, content: str, permissions: str) -> dict[str, Any]:
    # permissions are always quoted strings: YAML 1.1 would read 0644 as an integer.
    return {"path": path, "owner": "root:root", "permissions": permissions, "content": content}


def install_flags(cluster: Cluster) -> list[str]:
    strict = "-strict/" in cluster.channel
    return ([] if strict else ["--classic"]) + [f"--channel={cluster.channel}"]


def provider_yaml(cluster: Cluster, extra: str | None = None) -> str:
    """The apiserver-proxy's Traefik-compatible provider file, with the VIP as the only server;
    `extra` (HOST:PORT) lists a second one first, while a day-2 procedure moves the VIP."""
    ep = cluster.endpoint
    also = f'        - address: "{extra}"\n' if extra else ""
    return (
        "tcp:\n"
        "  routers:\n"
        "    Router-1:\n"
        '      rule: "HostSNI(`*`)"\n'
        '      service: "kube-apiserver"\n'
        "      tls:\n"
        "        passthrough: true\n"
        "  services:\n"
        "    kube-apiserver:\n"
        "      loadBalancer:\n"
        "        servers:\n" + also + f'        - address: "{ep.address}:{ep.port}"\n'
    )


def worker_tokens(cluster: Cluster) -> str:
    """`NAME TOKEN` per worker: every control-plane node registers each as a single-use join
    token."""
    return "".join(f"{w.name} {worker_token_placeholder(w)}\n" for w in cluster.workers)


def lb_file_list(cluster: Cluster) -> tuple[tuple[str, str, str], ...]:
    """The load-balancer files of this cluster (the notify script only with monitoring)."""
    return tuple(
        f for f in LB_FILES if cluster.monitoring.enabled or f[0] != "keepalived-notify.sh"
    )


def lb_content(cluster: Cluster, node: Node, name: str) -> str:
    if name == "haproxy.cfg":
        return haproxy.conf(cluster, node)
    if name == "keepalived.conf":
        return keepalived.conf(cluster, node)
    if name == "keepalived-notify.sh":
        return keepalived.notify_script(cluster, node)
    return keepalived.check_script(cluster, node)


def cloud_config(cluster: Cluster, node: Node) -> dict[str, Any]:
    load_balancer = node.is_control_plane and cluster.mode == KEEPALIVED_HAPROXY
    pin_vip = (
        not node.is_control_plane and cluster.worker_endpoint == "vip" and cluster.mode in VIP_MODES
    )
    # Every control-plane node registers the workers' tokens, so any of them can admit one.
    registers_workers = node.is_control_plane and bool(cluster.workers)
    files = [_file(LAUNCH_SOURCE, launch_config.text(cluster, node), "0600")]
    alternatives = launch_config.join_alternatives(cluster, node)
    if node == cluster.first and alternatives:
        join = launch_config.text(cluster, node, alternatives[0])
        files.append(_file(JOIN_SOURCE, join, "0600"))
    if registers_workers:
        files.append(_file(WORKER_TOKENS, worker_tokens(cluster), "0600"))
        script = render_template(
            "worker-tokens.sh.j2", cluster, unit=TOKEN_UNIT, tokens=WORKER_TOKENS
        )
        files.append(_file(TOKEN_SCRIPT, script, "0700"))
        files += [_file(path, text, "0644") for path, text in token_units(cluster).items()]
    lb_files = lb_file_list(cluster)
    if load_balancer:
        for name, _, mode in lb_files:
            files.append(_file(f"{LIB}/{name}", lb_content(cluster, node, name), mode))
    if pin_vip:
        files.append(_file(PROVIDER_SOURCE, provider_yaml(cluster), "0644"))
    files += [_file(path, text, "0644") for path, text in resume_units(cluster).items()]
    labels = node.is_control_plane and bool(extensions.labelled(cluster))
    if labels:
        files.append(_file(extensions.LABEL_SCRIPT, extensions.label_script(cluster), "0700"))
        files += [_file(path, text, "0644") for path, text in extensions.units(cluster).items()]
    backs_up = node.is_control_plane and backup.applies(cluster)
    if backs_up:
        files.append(_file(backup.SCRIPT_PATH, backup.script(cluster, node), "0700"))
        files += [_file(path, text, "0644") for path, text in backup.units(cluster, node).items()]
    bootstrap = render_template(
        "bootstrap.sh.j2",
        cluster,
        node=node,
        role="control plane" if node.is_control_plane else "worker",
        install_flags=install_flags(cluster),
        lib=LIB,
        launch_source=LAUNCH_SOURCE,
        join_via=[(v.name, v.address, via_source(v)) for v in alternatives],
        join_source=JOIN_SOURCE,
        join_from=(alternatives[0] if node == cluster.first else cluster.first).address
        if alternatives
        else None,
        launch_target=launch_config.PATH_ON_NODE,
        worker_tokens=WORKER_TOKENS if registers_workers else None,
        pin_vip=pin_vip,
        provider_source=PROVIDER_SOURCE,
        load_balancer=load_balancer,
        lb_files=lb_files,
        haproxy_conf=haproxy.CONF_PATH,
        keepalived_conf=keepalived.CONF_PATH,
        snapd_proxy=extensions.snapd_proxy(cluster),
        command_env=extensions.command_env(cluster),
        label_unit=extensions.UNIT if labels else None,
        backup_unit=backup.UNIT if backs_up else None,
        resume_unit=RESUME_UNIT,
        token_script=TOKEN_SCRIPT,
        token_unit=TOKEN_UNIT,
        pre_commands=node.extensions.pre_commands,
        post_commands=node.extensions.post_commands,
    )
    files.append(_file(BOOTSTRAP_PATH, bootstrap, "0700"))
    # The spec's files last: cloud-init's write_files stops at its first failure (an owner the
    # image lacks, say), and hacc's own files, the bootstrap among them, are written before.
    for f in node.extensions.files:
        files.append({**_file(f.path, f.content, f.permissions), "owner": f.owner})
    doc: dict[str, Any] = {"hostname": node.name, "preserve_hostname": False}
    apt_proxy = {
        k: v
        for k, v in (
            ("http_proxy", cluster.proxy.http if cluster.proxy else None),
            ("https_proxy", cluster.proxy.https if cluster.proxy else None),
        )
        if v
    }
    if apt_proxy:  # apt installs the packages below (and what the spec's commands install)
        doc["apt"] = apt_proxy
    if load_balancer:
        doc["package_update"] = True
        doc["packages"] = ["curl", "haproxy", "keepalived"]
    doc["write_files"] = files
    doc["runcmd"] = [f"bash {BOOTSTRAP_PATH}"]
    return doc


def text(cluster: Cluster, node: Node) -> str:
    return "#cloud-config\n" + header(cluster) + dump_yaml(cloud_config(cluster, node))


def render(cluster: Cluster) -> list[Artifact]:
    return [
        Artifact(f"{node_dir(n)}/user-data.yaml", text(cluster, n), USER_DATA, n.name)
        for n in cluster.nodes
    ]
