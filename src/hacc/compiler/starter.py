"""The commented starter spec written by `hacc init`."""

from __future__ import annotations

SCHEMA_URL = "./hacluster-v1alpha1.schema.json"  # editor_schema.RELATIVE_URL: works offline

_HEAD = """\
# yaml-language-server: $schema={schema_url}
# A MicroK8s high-availability cluster for hacc. Validate with `hacc validate {file}`,
# compile with `hacc build {file} -o out/`. Every key is described in the spec reference
# (docs/spec.md in hacc's repository) and in the JSON Schema (`hacc schema`).
apiVersion: hacc.dev/v1alpha1
kind: HACluster
metadata:
  name: {name}                  # a DNS-1123 label; names the output folder out/{name}/
spec:
  microk8s:
    channel: 1.32/stable        # pin a track: hacc needs 1.28 or newer
    addons:                     # dns is kept unless listed with `disable: true`
      - dns
      - rbac                    # without it the apiserver authorizes everyone (AlwaysAllow)
    apiserverArgs: {{}}           # kube-apiserver flags, e.g. --audit-log-maxage: "30"; null removes
  network:
    interface: eth0             # the nodes' interface (override per node)
    subnet: 198.18.10.0/24      # the nodes' and the VIP's subnet
  controlPlane:
"""

_ENDPOINT = {
    "keepalived-haproxy": """\
    endpoint:
      address: 198.18.10.100    # the VIP, held by keepalived on one control-plane node
      dnsName: api.{name}.example.com
      port: 8443                # HAProxy's port; 16443 is the apiserver's own
    extraSANs: []               # more names/addresses for the apiserver certificate
    loadBalancer:
      mode: keepalived-haproxy
      keepalived:
        virtualRouterId: 51     # unique per layer-2 segment
        advertInterval: 1       # seconds; fractions switch to VRRP v3
      haproxy:
        balance: leastconn
        healthCheck: {{path: /readyz, interval: 2s, fall: 3, rise: 2}}
""",
    "kube-vip": """\
    endpoint:
      address: 198.18.10.100    # the VIP, announced by kube-vip on the leader
      dnsName: api.{name}.example.com
      port: 16443               # kube-vip moves the VIP; the apiserver itself answers on 16443
    extraSANs: []
    loadBalancer:
      mode: kube-vip
      kubeVip:
        version: v1.2.3
""",
    "external": """\
    endpoint:
      address: 198.18.20.10     # your load balancer's address
      dnsName: api.{name}.example.com
      port: 16443               # the load balancer's listener
    extraSANs: []
    loadBalancer:
      mode: external
      external:
        healthCheck: https      # HTTPS GET /readyz on 16443 (or tcp)
""",
}

_TAIL = """\
    nodes:                      # three or more for HA; the first one bootstraps the cluster
      - {{name: cp1, address: 198.18.10.11, failureDomain: 1}}
      - {{name: cp2, address: 198.18.10.12, failureDomain: 2}}
      - {{name: cp3, address: 198.18.10.13, failureDomain: 3}}
  workers:
    apiserverEndpoint: local-proxy   # or `vip` to pin the workers' proxy to the VIP
    nodes:
      - {{name: w1, address: 198.18.10.21}}
  secrets:
    joinToken: {{env: HACC_JOIN_TOKEN}}   # or {{file: token.txt}} or {{sops: secrets.sops.yaml, key: joinToken}}
"""


def starter_spec(mode: str, name: str, file: str, schema_url: str | None = SCHEMA_URL) -> str:
    """`schema_url` None: no modeline (standard output, where no schema file is written)."""
    head = _HEAD if schema_url is not None else _HEAD.split("\n", 1)[1]
    return (head + _ENDPOINT[mode] + _TAIL).format(name=name, file=file, schema_url=schema_url)
