"""The catalogue of diagnostic codes. Codes are stable: never reuse or renumber one.

`docs/diagnostics.md` is generated from this table (`scripts/gen-docs`).
"""

from __future__ import annotations

from dataclasses import dataclass

from hacc.diagnostics import ERROR, WARNING


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title: str
    why: str
    fix: str


_CODES = [
    # -- reading the file ------------------------------------------------------------------------
    Code(
        "HACC001",
        ERROR,
        "spec file cannot be read",
        "The file does not exist, is a directory, or is not readable by this user.",
        "Check the path and the file's permissions.",
    ),
    Code(
        "HACC002",
        ERROR,
        "spec file is not valid UTF-8",
        "YAML specs are text in UTF-8; other encodings would silently change names and addresses.",
        "Re-save the file as UTF-8; the diagnostic points at the first bad byte.",
    ),
    Code(
        "HACC003",
        ERROR,
        "spec file is empty",
        "An empty document describes no cluster.",
        "Start from `hacc init`.",
    ),
    Code(
        "HACC004",
        ERROR,
        "YAML syntax error",
        "The file is not well-formed YAML, so nothing in it can be trusted.",
        "Fix the syntax at the position shown (indentation, an unclosed quote or bracket, a tab).",
    ),
    Code(
        "HACC005",
        ERROR,
        "duplicate key or anchor",
        "YAML parsers disagree on which of two equal keys wins; hacc refuses to guess. An anchor "
        "defined twice silently changes what every later alias of that name means.",
        "Keep one of the keys, or rename one of the anchors; the diagnostic points at the second.",
    ),
    Code(
        "HACC006",
        ERROR,
        "more than one YAML document",
        "One spec file describes exactly one cluster.",
        "Split the documents into one file each and pass all of them to hacc.",
    ),
    Code(
        "HACC007",
        ERROR,
        "aliases expand too far",
        "Anchors and aliases that expand to a huge tree (a 'billion laughs' document) would exhaust "
        "memory; a real spec never needs more than a few thousand values.",
        "Remove the nested aliases.",
    ),
    Code(
        "HACC008",
        ERROR,
        "the document is not a mapping",
        "A spec is a mapping with `apiVersion`, `kind`, `metadata` and `spec`.",
        "Start from `hacc init`.",
    ),
    Code(
        "HACC009",
        ERROR,
        "unsupported YAML value",
        "Only strings, numbers, booleans, null, lists and mappings with string keys have one meaning "
        "in JSON Schema; dates, binary values, custom tags and non-string keys do not.",
        "Quote the value to make it a string, or remove the tag.",
    ),
    # -- the schema ------------------------------------------------------------------------------
    Code(
        "HACC100",
        ERROR,
        "unknown key",
        "Every mapping in the spec is closed: a misspelt key would otherwise be ignored silently.",
        "Fix the spelling; `hacc schema` and the spec reference list the allowed keys.",
    ),
    Code(
        "HACC101",
        ERROR,
        "missing required key",
        "The value is needed to compile the cluster and has no safe default.",
        "Add the key shown in the message.",
    ),
    Code(
        "HACC102",
        ERROR,
        "wrong type",
        "The value has the wrong type, for example a list where a mapping is expected.",
        "Use the type named in the message; quote strings that YAML would read as numbers.",
    ),
    Code(
        "HACC103",
        ERROR,
        "value not allowed",
        "The key accepts a fixed set of values.",
        "Use one of the values listed in the message.",
    ),
    Code(
        "HACC104",
        ERROR,
        "value has the wrong format",
        "Every string that reaches a generated file has a strict format, so no value can inject a "
        "line, a quote or a path into a configuration file or script.",
        "Use the format described in the message (a DNS-1123 name, an IPv4 address, a CIDR, a flag).",
    ),
    Code(
        "HACC105",
        ERROR,
        "value out of range",
        "The number, string length or list size is outside what the consumer accepts "
        "(for example a VRRP virtual router id must be 1-255).",
        "Use a value inside the range given in the message.",
    ),
    Code(
        "HACC106",
        ERROR,
        "value matches none of the allowed forms",
        "The value must take exactly one of several forms (for example a secret reference is "
        "`env`, `file` or `sops`).",
        "Use one of the forms listed in the spec reference.",
    ),
    # -- semantic checks -------------------------------------------------------------------------
    Code(
        "HACC201",
        WARNING,
        "a single control-plane node is not highly available",
        "MicroK8s turns on HA (dqlite with three voters) only with three or more control-plane "
        "nodes. With one, the load balancer has nothing to fail over to.",
        "Add two more control-plane nodes, or accept a single point of failure.",
    ),
    Code(
        "HACC202",
        ERROR,
        "two control-plane nodes lose quorum on any failure",
        "dqlite needs a majority of voters to accept writes. With two voters the loss of either one "
        "freezes the cluster: two nodes are less available than one.",
        "Use three (or more) control-plane nodes; extra nodes can be workers.",
    ),
    Code(
        "HACC203",
        ERROR,
        "duplicate node name",
        "Node names become hostnames, Kubernetes node names and output folders.",
        "Give every node a unique name.",
    ),
    Code(
        "HACC204",
        ERROR,
        "duplicate node address",
        "Two nodes cannot share an address: joins, peers and backends address nodes by IP.",
        "Give every node its own address.",
    ),
    Code(
        "HACC205",
        ERROR,
        "the endpoint address is a node address",
        "The control-plane endpoint (VIP or load balancer) moves between nodes or lives outside "
        "them; if it is also a node's own address, that node and the endpoint collide.",
        "Pick an unused address for `controlPlane.endpoint.address`.",
    ),
    Code(
        "HACC206",
        ERROR,
        "address outside the subnet",
        "In the `keepalived-haproxy` and `kube-vip` modes the VIP is announced on layer 2 (VRRP or "
        "gratuitous ARP), so it and every control-plane node must share one subnet.",
        "Fix the address or `spec.network.subnet`.",
    ),
    Code(
        "HACC207",
        ERROR,
        "client port clashes with a port the node already uses",
        "HAProxy runs on every control-plane node, where MicroK8s already listens on 16443 "
        "(apiserver, bound to 0.0.0.0), 25000 (cluster-agent), 19001 (dqlite), 10250 (kubelet) and "
        "others, sshd on 22 and, with hacc's monitoring, the node exporter on its port (9100). "
        "Binding the same port fails at boot, and `haproxy -c` does not notice.",
        "Use another port for `controlPlane.endpoint.port`, such as the default 8443 (and for "
        "`monitoring.haproxyMetricsPort`, such as the default 8405).",
    ),
    Code(
        "HACC208",
        ERROR,
        "sub-second VRRP adverts need VRRP version 3",
        "VRRPv2 carries the advert interval in whole seconds; keepalived rounds fractions, which "
        "silently changes failover timing.",
        "Remove `vrrpVersion` (hacc picks 3 for fractional intervals) or set it to 3.",
    ),
    Code(
        "HACC209",
        ERROR,
        "MicroK8s channel too old",
        "hacc configures MicroK8s through launch configurations, which exist from MicroK8s 1.27. "
        "The 1.27 cluster-agent also refuses every join whose hostname does not resolve to the "
        "joining node's address (microk8s-cluster-agent `pkg/api/v2/join.go`); from 1.28 the check "
        "is skipped because the apiserver prefers `InternalIP`. Kubernetes 1.27 is past its end "
        "of life, so hacc needs 1.28 rather than managing `/etc/hosts` on every node.",
        "Use a channel with a track of 1.28 or newer, such as `1.32/stable`.",
    ),
    Code(
        "HACC210",
        WARNING,
        "unpinned MicroK8s channel",
        "`latest/...` moves to a new Kubernetes minor release without notice; nodes installed on "
        "different days run different versions, and hacc cannot pick the launch-configuration "
        "version for it.",
        "Pin a track, such as `1.32/stable`.",
    ),
    Code(
        "HACC211",
        ERROR,
        "`--tls-san` is not a kube-apiserver flag",
        "`--tls-san` belongs to k3s and RKE2. kube-apiserver has no such flag, so kubelite would "
        "refuse to start. MicroK8s takes extra certificate SANs through the launch configuration's "
        "`extraSANs` or `csr.conf.template`.",
        "Remove the flag and list the names under `spec.controlPlane.extraSANs`.",
    ),
    Code(
        "HACC212",
        ERROR,
        "apiserver flag that breaks the cluster",
        "`apiserverArgs` applies to every control-plane node. `--secure-port` moves the apiserver "
        "off 16443, which every backend, health check and worker proxy expects. One "
        "`--advertise-address` for all nodes makes them all advertise the same address (hacc "
        "sets each node's own), and a "
        "specific `--bind-address` exists on one node only. Removing a flag MicroK8s needs "
        "(certificates, datastore, port) stops the apiserver.",
        "Remove the flag from `spec.microk8s.apiserverArgs`.",
    ),
    Code(
        "HACC213",
        ERROR,
        "IPv6 addresses are not supported",
        "The MicroK8s join string is `<IP>:25000/<token>` and is split on `:`, so it takes only an "
        "IPv4 literal; VRRP and the VIP would need a second address family too.",
        "Use IPv4 addresses for nodes, the endpoint and the subnet.",
    ),
    Code(
        "HACC214",
        ERROR,
        "workers cannot use the VIP in this mode",
        "`apiserverEndpoint: vip` points the worker's apiserver-proxy at the control-plane "
        "endpoint; in `external` mode that is the cloud load balancer, which hacc does not run.",
        "Use `apiserverEndpoint: local-proxy` (the MicroK8s default, which balances over all "
        "control-plane nodes) or a VIP mode.",
    ),
    Code(
        "HACC215",
        ERROR,
        "the control-plane endpoint is incomplete",
        "`keepalived-haproxy` and `kube-vip` need the VIP in `endpoint.address`; `external` needs "
        "the load balancer's address or DNS name, or no certificate can name it.",
        "Set `spec.controlPlane.endpoint.address` (and `dnsName` where clients use a name).",
    ),
    Code(
        "HACC216",
        ERROR,
        "`spec.network.subnet` is required for a layer-2 VIP",
        "hacc checks that the VIP and the nodes share a subnet, and keepalived and kube-vip need "
        "to know the segment they announce on.",
        "Set `spec.network.subnet`, for example `198.18.10.0/24`.",
    ),
    Code(
        "HACC217",
        ERROR,
        "kube-vip serves the apiserver port directly",
        "kube-vip only moves the VIP; clients reach the apiserver that holds it on 16443. A "
        "different client port would have nothing listening on it.",
        "Remove `spec.controlPlane.endpoint.port` or set it to 16443.",
    ),
    Code(
        "HACC218",
        WARNING,
        "the apiserver allows anonymous full access",
        "MicroK8s starts with `--authorization-mode=AlwaysAllow` and anonymous auth on; exposing "
        "it on a VIP or load balancer gives anyone who can reach it full control of the cluster.",
        "Add the `rbac` addon or set `--authorization-mode: RBAC,Node` in `apiserverArgs`.",
    ),
    Code(
        "HACC219",
        ERROR,
        "address is the subnet's network or broadcast address",
        "Neither can be assigned to a host or announced as a VIP.",
        "Pick a host address inside the subnet.",
    ),
    Code(
        "HACC220",
        ERROR,
        "kube-vip needs one interface on every control-plane node",
        "kube-vip runs as one DaemonSet with one `vip_interface` for all nodes.",
        "Use the same interface name on every control-plane node.",
    ),
    Code(
        "HACC221",
        WARNING,
        "apiserver flag with side effects",
        "`--bind-address` (even 0.0.0.0) makes MicroK8s's apiservice-kicker stop regenerating the "
        "server certificate when addresses change, and broke joins in the past "
        "(canonical/microk8s#3785).",
        "Remove the flag unless you need it; after address changes run "
        "`microk8s refresh-certs --cert server.crt` yourself.",
    ),
    Code(
        "HACC222",
        ERROR,
        "two specs describe the same cluster",
        "The cluster name names the output folder; two specs with one name would overwrite each "
        "other's files.",
        "Rename one of the clusters (`metadata.name`).",
    ),
    Code(
        "HACC223",
        WARNING,
        "user-data larger than the cloud accepts",
        "EC2 rejects user-data over 16 KB. Many large addon argument lists, flags or extra files "
        "make a node's user-data grow. `external` mode is held to EC2's 16 KiB; the VIP modes "
        "move an address with gratuitous ARP, which EC2's VPCs do not carry, so they are held "
        "to the 64 KiB that OpenStack and Azure accept. cloud-init reads gzip-compressed "
        "user-data, and `hacc materialize` writes `user-data.yaml.gz` beside every user-data "
        "over 16 KiB, so the limit applies to the compressed size.",
        "Give the provisioner `user-data.yaml.gz`; if even that is too large, trim flags, addon "
        "arguments and extra files.",
    ),
    Code(
        "HACC224",
        WARNING,
        "`--feature-gates` replaces MicroK8s's own gates at install",
        "At install the launch configuration sets the whole flag, dropping the gates MicroK8s "
        "ships (1.32: `WatchList=false`; 1.34 and newer: `ListFromCacheSnapshot=false,...`). "
        "`apply-day2.sh` merges gate by gate instead.",
        "Repeat the gates of your MicroK8s release that you want to keep in the value, or set "
        "the gates on live nodes with `apply-day2.sh` only.",
    ),
    Code(
        "HACC225",
        ERROR,
        "`--node-labels` replaces MicroK8s's own node labels",
        "MicroK8s labels every node through the kubelet's `--node-labels` "
        "(`microk8s.io/cluster=true` and `node.kubernetes.io/microk8s-controlplane` or "
        "`-worker`). `kubeletArgs` applies to every node after the join and replaces that flag: "
        "the kube-vip DaemonSet (and anything else selecting the control-plane label) then "
        "matches no node.",
        "Remove `--node-labels` from `spec.microk8s.kubeletArgs`; put the labels in "
        "`spec.extensions.labels` or a node's `extensions.labels`, which hacc adds through the "
        "API and never in place of MicroK8s's own.",
    ),
    Code(
        "HACC226",
        ERROR,
        "the apiserver must prefer `InternalIP` for kubelets",
        "The cluster-agent skips its join-time hostname check only while "
        "`--kubelet-preferred-address-types` lists `InternalIP` before `Hostname` "
        "(microk8s-cluster-agent `pkg/api/v2/api_util.go`); otherwise every join whose hostname "
        "does not resolve to the joining node's address is refused as an invalid join.",
        "Put `InternalIP` first, for example "
        "`InternalIP,Hostname,InternalDNS,ExternalDNS,ExternalIP` (MicroK8s's default), or "
        "remove the flag.",
    ),
    Code(
        "HACC227",
        ERROR,
        "another cluster already uses this address or virtual router id",
        "Two clusters on one network with the same node address, the same VIP, or the same "
        "VRRP virtual router id on one subnet break each other: ARP answers flip between "
        "machines and keepalived instances of different clusters elect one master between them. "
        "hacc checks every spec of one run against each other and against the clusters already "
        "built in OUT.",
        "Give each cluster its own addresses, VIP and `virtualRouterId`.",
    ),
    Code(
        "HACC228",
        WARNING,
        "explicit timing overrides the failover profile",
        "A profile (`default`, `fast`) chooses the VRRP advert interval and HAProxy's check "
        "interval and fall; values set explicitly win. A spec that sets `profile: fast` and all "
        "three values by hand builds exactly what it built before.",
        "Remove `advertInterval`, `healthCheck.interval` and `healthCheck.fall` to let the "
        "profile choose, or remove `profile`.",
    ),
    Code(
        "HACC229",
        ERROR,
        "certificate alert periods in the wrong order",
        "The critical certificate-expiry alert must come after the warning: a critical period as "
        "long as the warning one would page at the same moment, with no warning first.",
        "Make `monitoring.alerts.certCriticalDays` smaller than `certWarningDays` (defaults 7 "
        "and 30).",
    ),
    Code(
        "HACC230",
        ERROR,
        "the join token is unusable",
        "MicroK8s refuses join tokens shorter than 32 characters, and the token travels in the "
        "join URL `<ip>:25000/<token>`, which cannot carry `/`, `:`, spaces or quotes.",
        "Generate one with `hacc secret new SPEC` (or `openssl rand -hex 16`) and store it where the spec "
        "points.",
    ),
    Code(
        "HACC231",
        ERROR,
        "the join token cannot be resolved",
        "`hacc materialize` needs the value: the environment variable is unset, the file is "
        "missing, or sops cannot decrypt the file (no key, wrong key path).",
        "Set the variable, create the file, or make the age/PGP key available to sops "
        "(`SOPS_AGE_KEY_FILE`).",
    ),
    Code(
        "HACC232",
        ERROR,
        "a label key MicroK8s sets itself",
        "MicroK8s labels its nodes `microk8s.io/cluster=true` and "
        "`node.kubernetes.io/microk8s-controlplane` or `node.kubernetes.io/microk8s-worker`; "
        "the kube-vip DaemonSet and MicroK8s's own tools select nodes by them. A label of the "
        "same key would change or hide them.",
        "Choose another key for your label.",
    ),
    Code(
        "HACC233",
        ERROR,
        "an extra file collides with another file",
        "An extra file may not be written where hacc's bootstrap, its load-balancer "
        "configuration or MicroK8s keeps files (`/usr/local/lib/hacc`, `/var/snap/microk8s`, "
        "`/etc/microk8s.yaml`, `/etc/keepalived`, `/etc/haproxy/haproxy.cfg`, ...): it would "
        "replace hacc's file or MicroK8s's launch configuration. Paths with `.` or `..` "
        "segments hide where they land, and a path listed twice in one list keeps one of them "
        "silently.",
        "Put the file elsewhere; to change hacc's own files, change the spec.",
    ),
    Code(
        "HACC234",
        ERROR,
        "a secret value in an extension",
        "Extra files and commands are written into the user-data that hacc's output commits: a "
        "private key, an access token, a password (in a URL, or set in a command or file) or a hacc placeholder (which "
        "`hacc materialize` would replace with the join token) would be committed with it.",
        "Keep the secret in your secret store and fetch it on the node, for example in a "
        "`preCommands` entry.",
    ),
    Code(
        "HACC235",
        WARNING,
        "every node is tainted",
        "When every node carries a NoSchedule or NoExecute taint, Deployments that do not "
        "tolerate it (CoreDNS, metrics-server, most addons and workloads) have no node to run on.",
        "Leave some nodes (usually the workers) without such a taint.",
    ),
    Code(
        "HACC236",
        ERROR,
        "`--register-with-taints` acts only at registration",
        "The kubelet applies `--register-with-taints` only when it first registers its node, and "
        "a joining MicroK8s node registers with the kubelet arguments the join copied from the "
        "node it contacted (scripts/wrappers/join.py): the taints would land on the wrong nodes "
        "or on none.",
        "Remove it from `spec.microk8s.kubeletArgs`; put taints in `spec.extensions.taints` or a "
        "node's `extensions.taints`, which hacc applies through the API.",
    ),
    Code(
        "HACC237",
        ERROR,
        "address inside MicroK8s's pod or service network",
        "MicroK8s routes 10.1.0.0/16 to its Calico pods (default-args/kube-proxy "
        "`--cluster-cidr`) and gives ClusterIPs from 10.152.183.0/24 (default-args/"
        "kube-apiserver `--service-cluster-ip-range`). A node, a VIP or a subnet there is "
        "shadowed by pod routes or collides with a Service: pod-to-node traffic breaks.",
        "Use node addresses, a VIP and a subnet outside 10.1.0.0/16 and 10.152.183.0/24.",
    ),
    Code(
        "HACC238",
        ERROR,
        "unknown kube-apiserver or kubelet flag",
        "kube-apiserver and kubelet exit on a flag they do not know, and kubelite (which runs "
        "them in one process) with them: the node never becomes Ready and first boot waits for "
        "nothing. hacc knows every flag of each Kubernetes minor from its generated component "
        "reference (`src/hacc/schemas/kubernetes-flags.json`, see docs/known-flags-and-addons.md).",
        "Fix the spelling (the message suggests the closest flag), or remove the flag.",
    ),
    Code(
        "HACC239",
        ERROR,
        "flag removed from Kubernetes",
        "Kubernetes removed the flag (for example the insecure serving flags `--insecure-port` "
        'and `--insecure-bind-address` in 1.24): the component exits with "unknown flag" and '
        "kubelite does not start.",
        "Remove the flag; the secure port (16443 on MicroK8s) is the only one.",
    ),
    Code(
        "HACC240",
        WARNING,
        "flag not in this Kubernetes minor's reference",
        "The flag was listed by an older minor's reference and is not in this one's: it is "
        "deprecated and hidden from `--help` (still accepted), or removed (refused). For a "
        "track newer than hacc's newest reference, a flag missing from that reference may be "
        "new, or a typo.",
        "Check the flag against the Kubernetes release notes of your track; `--strict` refuses it.",
    ),
    Code(
        "HACC241",
        ERROR,
        "a flag MicroK8s sets itself",
        "MicroK8s sets the datastore (`--etcd-servers` on its dqlite/kine socket, "
        "`--storage-backend`), the certificate and key paths under `${SNAP_DATA}/certs`, the "
        "service range its certificates and dns addon are made for, and the kubelet's "
        "credentials, state directory, runtime socket and port "
        "(microk8s-resources/default-args/kube-apiserver and kubelet). Another value cuts the "
        "apiserver off its data, points at files the other nodes do not have, or breaks joins.",
        "Remove the flag from `spec.microk8s.apiserverArgs` or `kubeletArgs`.",
    ),
    Code(
        "HACC242",
        ERROR,
        "a kubelet flag that names one node",
        "`kubeletArgs` applies to every node: one `--node-ip` or `--hostname-override` makes "
        "every node claim the same address or the same name (as HACC212 does for "
        "`--advertise-address`). hacc sets `--node-ip` on each node to its `address`, so that a "
        "node with several interfaces registers with the spec's address rather than the "
        "default route's.",
        "Remove the flag; set each node's `address` (its hostname comes from the node).",
    ),
    Code(
        "HACC243",
        ERROR,
        "`--authorization-mode` without the Node authorizer",
        "The Node authorizer gives each kubelet the permissions it needs; RBAC alone grants "
        "them none, so every node goes NotReady.",
        "Use `--authorization-mode: RBAC,Node`.",
    ),
    Code(
        "HACC244",
        ERROR,
        "the client port is the ingress addon's",
        "The ingress addon's DaemonSet takes hostPorts 80 and 443 on every node "
        "(microk8s-core-addons addons/ingress/values.yaml); their DNAT rules catch traffic to "
        "every local address, the VIP included, so API clients would reach the ingress.",
        "Use another client port, such as the default 8443.",
    ),
    Code(
        "HACC245",
        ERROR,
        "unknown addon",
        "The cluster-agent retries a launch configuration whose addon does not exist until the "
        "bootstrap gives up after 15 minutes. hacc knows the addons of each track from "
        "MicroK8s's core and community addon repositories at that track's branch. A "
        "community addon also needs the `community` addon earlier in the list: enabling it is "
        "what adds the community repository.",
        "Fix the name (the message suggests the closest one); `core/` and `community/` name "
        "the repository; put `community` before community addons.",
    ),
    Code(
        "HACC246",
        ERROR,
        "`ha-cluster` disabled with several control-plane nodes",
        "Disabling `ha-cluster` switches MicroK8s off dqlite HA (back to a single-node "
        "datastore), which a cluster of several control-plane nodes cannot survive.",
        "Remove the `ha-cluster` entry.",
    ),
    Code(
        "HACC247",
        WARNING,
        "MicroK8s track newer than hacc knows",
        "hacc knows the tracks MicroK8s publishes up to its newest; a newer one may not exist "
        "yet (the snap install then fails at boot), and hacc checks its flags and addons "
        "against the newest track it knows.",
        "Use a known track, or update hacc.",
    ),
    Code(
        "HACC248",
        ERROR,
        "`dnsName` is an address",
        "`dnsName` names the endpoint in DNS: the runbook asks for a record from it to the "
        "endpoint address.",
        "Put addresses in `spec.controlPlane.endpoint.address`; keep `dnsName` for a name.",
    ),
    Code(
        "HACC249",
        ERROR,
        "address no host can use",
        "Multicast (224.0.0.0/4), link-local (169.254.0.0/16), loopback, unspecified and "
        "reserved (240.0.0.0/4) addresses cannot be a node's address or a VIP.",
        "Use the node's unicast address on its network.",
    ),
]

CODES: dict[str, Code] = {c.code: c for c in _CODES}
