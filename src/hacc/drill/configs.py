"""What the drill runs: the generated keepalived and HAProxy configurations, with only addresses
and file paths moved into the lab, plus a certificate per fake apiserver.

Every other line stays as generated, so the drill measures hacc's tuning. After remapping, every
IPv4 literal must lie in the lab network or on loopback; anything else stops the drill, so no
configuration can send a packet outside the namespaces.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hacc.compiler.model import APISERVER_PORT, MICROK8S_SANS, Cluster
from hacc.drill.lab import LAB_NET, VIP, LabError, node_address
from hacc.targets import haproxy, keepalived, monitoring, render_cluster

IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
CHECK_SCRIPT = keepalived.CHECK_SCRIPT_PATH
NOTIFY_SCRIPT = keepalived.NOTIFY_SCRIPT_PATH
STATS_SOCKET = "/run/haproxy/admin.sock"


@dataclass
class NodeFiles:
    keepalived_conf: str
    haproxy_cfg: str
    scripts: dict[str, str] = field(default_factory=dict)  # lab path -> content


@dataclass
class LabConfig:
    label: str
    nodes: list[tuple[str, str]]  # (name, interface), in priority order
    files: dict[str, NodeFiles]
    port: int
    server_name: str  # what the client verifies the certificate against
    sans: list[str]
    cert_days: int = 2  # how long the lab's certificates are valid


class UnsafeConfig(Exception):
    pass


def remap(text: str, addresses: dict[str, str], paths: dict[str, str]) -> str:
    for old, new in paths.items():  # first: a replaced text may hold addresses
        text = text.replace(old, new)
    text = IPV4.sub(lambda m: addresses.get(m.group(1), m.group(1)), text)
    lab = ipaddress.ip_network(LAB_NET)
    for literal in IPV4.findall(text):
        address = ipaddress.ip_address(literal)
        if not (address in lab or address.is_loopback or address.is_unspecified):
            raise UnsafeConfig(f"{literal} would leave the lab network {LAB_NET}")
    return text


def from_cluster(cluster: Cluster, labdir: Path) -> LabConfig:
    """The generated configurations of a keepalived-haproxy cluster, moved into the lab."""
    artifacts = {a.path: a.content for a in render_cluster(cluster)}
    assert cluster.endpoint.address is not None
    addresses = {n.address: node_address(i) for i, n in enumerate(cluster.control_plane)}
    addresses[cluster.endpoint.address] = VIP
    files = {}
    for node in cluster.control_plane:
        d = labdir / node.name
        paths = {
            CHECK_SCRIPT: str(d / "check-apiserver.sh"),
            NOTIFY_SCRIPT: str(d / "keepalived-notify.sh"),
            STATS_SOCKET: str(d / "haproxy.sock"),
            haproxy.PID_FILE: str(d / "haproxy.pid"),
            # the node exporter's textfile directory, and who may scrape: the lab's own
            monitoring.TEXTFILE_DIR: str(d / "textfile"),
            " ".join(cluster.monitoring.scrape_from): LAB_NET,
        }
        prefix = f"nodes/{node.name}/"
        scripts = {
            paths[path]: remap(artifacts[prefix + path.rsplit("/", 1)[1]], addresses, paths)
            for path in (CHECK_SCRIPT, NOTIFY_SCRIPT)
            if prefix + path.rsplit("/", 1)[1] in artifacts
        }
        files[node.name] = NodeFiles(
            remap(artifacts[prefix + "keepalived.conf"], addresses, paths),
            remap(artifacts[prefix + "haproxy.cfg"], addresses, paths),
            scripts,
        )
    name = cluster.endpoint.dns_name or VIP
    return LabConfig(
        f"hacc {cluster.profile}",
        [(n.name, n.interface) for n in cluster.control_plane],
        files,
        cluster.endpoint.port,
        name,
        [s if s != cluster.endpoint.address else VIP for s in cluster.sans],
    )


# The kubeadm HA guide's configuration (kubernetes/kubeadm docs/ha-considerations.md, as quoted
# in reference/load-balancers.md section 1.1), for the same nodes. Changes, only so it starts:
# enable_script_security + script_user (keepalived -t exits 6 and 5 without them), the HAProxy
# port 8443 (16443 belongs to the apiserver) and MicroK8s's apiserver port 16443 as backends.
KUBEADM_KEEPALIVED = """! /etc/keepalived/keepalived.conf
! Configuration File for keepalived
global_defs {{
    router_id LVS_DEVEL
    script_user root
    enable_script_security
}}
vrrp_script check_apiserver {{
  script "{script}"
  interval 3
  weight -2
  fall 10
  rise 2
}}

vrrp_instance VI_1 {{
    state {state}
    interface {interface}
    virtual_router_id 51
    priority {priority}
    authentication {{
        auth_type PASS
        auth_pass 42
    }}
    virtual_ipaddress {{
        {vip}
    }}
    track_script {{
        check_apiserver
    }}
}}
"""

KUBEADM_CHECK = """#!/bin/sh

errorExit() {{
    echo "*** $*" 1>&2
    exit 1
}}

curl -sfk --max-time 2 https://localhost:{port}/healthz -o /dev/null || errorExit "Error GET https://localhost:{port}/healthz"
"""

KUBEADM_HAPROXY = """# /etc/haproxy/haproxy.cfg
global
    log stdout format raw local0
    stats socket {socket} mode 600 level admin

defaults
    mode                    http
    log                     global
    option                  httplog
    option                  dontlognull
    option http-server-close
    option forwardfor       except 127.0.0.0/8
    option                  redispatch
    retries                 1
    timeout http-request    10s
    timeout queue           20s
    timeout connect         5s
    timeout client          35s
    timeout server          35s
    timeout http-keep-alive 10s
    timeout check           10s

frontend apiserver
    bind *:{port}
    mode tcp
    option tcplog
    default_backend apiserverbackend

backend apiserverbackend
    option httpchk

    http-check connect ssl
    http-check send meth GET uri /healthz
    http-check expect status 200

    mode tcp
    balance     roundrobin

{servers}"""


def kubeadm(cluster: Cluster, labdir: Path) -> LabConfig:
    """The kubeadm guide's keepalived + HAProxy for the same control-plane nodes, in the lab."""
    port = cluster.endpoint.port
    servers = "".join(
        f"    server {n.name} {node_address(i)}:{APISERVER_PORT} check verify none\n"
        for i, n in enumerate(cluster.control_plane)
    )
    files = {}
    for i, node in enumerate(cluster.control_plane):
        d = labdir / node.name
        script = str(d / "check_apiserver.sh")
        ka = KUBEADM_KEEPALIVED.format(
            script=script,
            state="MASTER" if i == 0 else "BACKUP",
            interface=node.interface,
            priority=101 if i == 0 else 100,
            vip=VIP,
        )
        hp = KUBEADM_HAPROXY.format(socket=d / "haproxy.sock", port=port, servers=servers)
        files[node.name] = NodeFiles(
            remap(ka, {}, {}), remap(hp, {}, {}), {script: KUBEADM_CHECK.format(port=port)}
        )
    base = from_cluster(cluster, labdir)
    return LabConfig("kubeadm guide", base.nodes, files, port, base.server_name, base.sans)


def make_certificates(labdir: Path, config: LabConfig) -> Path:
    """A lab CA and one leaf per node carrying the spec's SANs (VIP moved into the lab)."""
    ca_key, ca_crt = labdir / "ca.key", labdir / "ca.crt"
    run = _openssl
    run(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        str(max(config.cert_days, 2)),
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_crt),
        "-subj",
        "/CN=hacc-drill-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    for i, (name, _) in enumerate(config.nodes):
        issue_leaf(labdir, name, node_sans(config, i), days=config.cert_days)
    return ca_crt


def node_sans(config: LabConfig, index: int) -> list[str]:
    """The SANs MicroK8s's certificate of the node at `index` carries (spec SANs, the node's
    address, MicroK8s's own), moved into the lab."""
    sans = [*config.sans, node_address(index), *MICROK8S_SANS]
    return list(dict.fromkeys(sans))


def issue_leaf(labdir: Path, name: str, sans: list[str], *, days: int) -> None:
    """The apiserver certificate of node `name`, signed by the lab CA, with these SANs."""
    d = labdir / name
    ext = d / "leaf.ext"
    ext.write_text(
        "subjectAltName="
        + ",".join(("IP:" if IPV4.fullmatch(s) else "DNS:") + s for s in sans)
        + "\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
    )
    _openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        str(d / "apiserver.key"),
        "-out",
        str(d / "apiserver.csr"),
        "-subj",
        f"/CN=kube-apiserver-{name}",
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        str(d / "apiserver.csr"),
        "-CA",
        str(labdir / "ca.crt"),
        "-CAkey",
        str(labdir / "ca.key"),
        "-CAcreateserial",
        "-days",
        str(days),
        "-out",
        str(d / "apiserver.crt"),
        "-extfile",
        str(ext),
    )


def _openssl(*args: str) -> None:
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60, check=False)
    if r.returncode != 0:
        raise LabError(f"openssl {args[0]} failed: {r.stderr.strip()[:300]}")
