"""`nodes/<node>/user-data.yaml`: the #cloud-config that turns a fresh machine into this node.

cloud-init order (reference/ecosystem.md 3d): write_files (init stage) puts the launch
configuration in place before anything installs MicroK8s; packages (config stage) installs
keepalived and HAProxy with their configuration already there; runcmd (final stage) runs the
bootstrap script, which installs MicroK8s and waits for the join with bounded retries.
"""

from __future__ import annotations

from typing import Any

from hacc.compiler.model import KEEPALIVED_HAPROXY, VIP_MODES, Cluster, Node
from hacc.targets import haproxy, keepalived, launch_config
from hacc.targets.base import Artifact, dump_yaml, header, node_dir, render_template

BOOTSTRAP_PATH = "/usr/local/lib/hacc/bootstrap.sh"
PROVIDER_SOURCE = "/usr/local/lib/hacc/apiserver-proxy-provider.yaml"
EC2_LIMIT = 16384  # bytes of raw user-data EC2 accepts


def applies(cluster: Cluster) -> bool:
    return True


def _file(path: str, content: str, permissions: str) -> dict[str, Any]:
    # permissions are always quoted strings: YAML 1.1 would read 0644 as an integer.
    return {"path": path, "owner": "root:root", "permissions": permissions, "content": content}


def install_flags(cluster: Cluster) -> str:
    strict = "-strict/" in cluster.channel
    return ("" if strict else "--classic ") + f"--channel={cluster.channel}"


def provider_yaml(cluster: Cluster) -> str:
    # The apiserver-proxy's Traefik-compatible provider file, with the VIP as the only server.
    ep = cluster.endpoint
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
        "        servers:\n"
        f'        - address: "{ep.address}:{ep.port}"\n'
    )


def cloud_config(cluster: Cluster, node: Node) -> dict[str, Any]:
    load_balancer = node.is_control_plane and cluster.mode == KEEPALIVED_HAPROXY
    pin_vip = (
        not node.is_control_plane and cluster.worker_endpoint == "vip" and cluster.mode in VIP_MODES
    )
    files = [_file(launch_config.PATH_ON_NODE, launch_config.text(cluster, node), "0600")]
    if load_balancer:
        files.append(_file(keepalived.CONF_PATH, keepalived.conf(cluster, node), "0644"))
        files.append(
            _file(keepalived.CHECK_SCRIPT_PATH, keepalived.check_script(cluster, node), "0755")
        )
        files.append(_file(haproxy.CONF_PATH, haproxy.conf(cluster, node), "0644"))
    if pin_vip:
        files.append(_file(PROVIDER_SOURCE, provider_yaml(cluster), "0644"))
    bootstrap = render_template(
        "bootstrap.sh.j2",
        cluster,
        node=node,
        role="control plane" if node.is_control_plane else "worker",
        install_flags=install_flags(cluster),
        pin_vip=pin_vip,
        provider_source=PROVIDER_SOURCE,
        load_balancer=load_balancer,
        haproxy_conf=haproxy.CONF_PATH,
        keepalived_conf=keepalived.CONF_PATH,
    )
    files.append(_file(BOOTSTRAP_PATH, bootstrap, "0700"))
    doc: dict[str, Any] = {"hostname": node.name, "preserve_hostname": False}
    if load_balancer:
        doc["package_update"] = True
        doc["packages"] = ["curl", "haproxy", "keepalived"]
    doc["write_files"] = files
    doc["runcmd"] = [f"bash {BOOTSTRAP_PATH}"]
    return doc


def text(cluster: Cluster, node: Node) -> str:
    return "#cloud-config\n" + header(cluster) + dump_yaml(cloud_config(cluster, node))


def render(cluster: Cluster) -> list[Artifact]:
    return [Artifact(f"{node_dir(n)}/user-data.yaml", text(cluster, n)) for n in cluster.nodes]
