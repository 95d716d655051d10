"""The file tree of a real MicroK8s node, for every bench: what `snap install microk8s` leaves,
what a join changes on the joiner and on the node it contacts, and what the daemons rewrite when
they start. Facts and modes come from ../../../shared/reference/microk8s-lifecycle.md (the
reference), which cites canonical/microk8s (mk), canonical/microk8s-cluster-agent (ca),
canonical/k8s-dqlite (kd) and canonical/go-dqlite (gd); each entry names its section.

The FILES_* tables are the reference's file lists. The functions below change a tree as MicroK8s
changes it; the benches lay their trees with them, and tests/test_bench_trees.py walks each
bench's tree against the tables, so a file the reference lists cannot go missing from a fake.

Modes are those of the steady state (reference §1.2): the configure hook runs `chmod -R
ug+rwX,o-rwX` on args/, certs/, credentials/, var/lock/ and tmp/ (0660 files, 0770 folders), and
the apiservice-kicker `chmod -R ug+rwX` on var/kubernetes/backend every 5 s (mk
wrappers/apiservice-kicker). join.py's locks are 0700 until the next configure run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path

DATA = "var/snap/microk8s/current"  # $SNAP_DATA, a symlink to the revision
REVISION = "var/snap/microk8s/7001"
COMMON = "var/snap/microk8s/common"  # $SNAP_COMMON
BACKEND = f"{DATA}/var/kubernetes/backend"
LOCKS = f"{DATA}/var/lock"
DQLITE_PORT = 19001
# What the running k8s-dqlite process holds in memory (the benches' record, outside the tree).
RUNNING = "run/bench-k8s-dqlite-failure-domain"
# gd app/app.go: the first node's dqlite ID (BootstrapID).
BOOTSTRAP_ID = 3297041220608546238

Event = Callable[..., None]


def _quiet(kind: str, **fields: object) -> None:
    pass


# -- the reference's file lists (path relative to $SNAP_DATA unless it starts with "common/";
# -- a trailing "/" is a folder) -------------------------------------------------------------

# §1.2: args/ is a copy of mk microk8s-resources/default-args (install L28), certs.d's
# localhost__32000 renamed to localhost:32000; git/.gitconfig is 1.32+ (install L152-153).
_ARGS = [
    "admission-control-config-file.yaml",
    "apiserver-proxy",
    "cluster-agent",
    "cni-env",
    "containerd",
    "containerd-env",
    "containerd-template.toml",
    "ctr",
    "etcd",
    "eventconfig.yaml",
    "flannel-network-mgr-config",
    "flannel-template.conflist",
    "flanneld",
    "ha-conf",
    "k8s-dqlite",
    "k8s-dqlite-env",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-proxy",
    "kube-scheduler",
    "kubectl",
    "kubectl-env",
    "kubelet",
    "kubelite",
    "traefik/traefik-template.yaml",
    "traefik/provider-template.yaml",
    "certs.d/docker.io/hosts.toml",
    "certs.d/localhost:32000/hosts.toml",
    "cni-network/flannel.conflist",
    "git/.gitconfig",
]
# §6.1 and §1.2: produce_certs and create_user_certs_and_configs (mk actions/common/utils.sh).
# The OpenSSL serial files (ca.srl?) are UNSURE in the reference and left out.
_CERTS = [
    "ca.crt",
    "ca.key",
    "front-proxy-ca.crt",
    "front-proxy-ca.key",
    "server.key",
    "server.csr",
    "server.crt",
    "front-proxy-client.key",
    "front-proxy-client.csr",
    "front-proxy-client.crt",
    "serviceaccount.key",
    "csr.conf.template",
    "csr.conf.rendered",
    "csr.conf",
    "kubelet.key",
    "kubelet.crt",
    "client.key",
    "client.crt",
    "proxy.key",
    "proxy.crt",
    "scheduler.key",
    "scheduler.crt",
    "controller.key",
    "controller.crt",
    "apiserver-kubelet-client.key",
    "apiserver-kubelet-client.crt",
]
# §1.2: create_user_kubeconfigs (utils.sh L615-622).
_CREDENTIALS = "client.config controller.config scheduler.config proxy.config kubelet.config"

# None: the reference names the file but not its mode.
FILES_INSTALLED: dict[str, int | None] = {
    "args/": 0o770,
    **{f"args/{n}": 0o660 for n in _ARGS},
    **{
        f"args/{d}/": 0o770
        for d in (
            "traefik",
            "certs.d",
            "certs.d/docker.io",
            "certs.d/localhost:32000",
            "cni-network",
            "git",
        )
    },
    "args/cni-network/cni.yaml": 0o660,  # install L137-142, scripts/generate-cni.sh (Calico)
    "args/containerd.toml": 0o660,  # run-containerd-with-args L57-58, on every start
    "certs/": 0o770,
    **{f"certs/{n}": 0o660 for n in _CERTS},
    "credentials/": 0o770,
    **{f"credentials/{n}": 0o660 for n in _CREDENTIALS.split()},
    # §1.6: the install hook's locks (install L124-130, L155).
    "var/lock/": 0o770,
    **{
        f"var/lock/{n}": 0o660
        for n in (
            "installed.lock",
            "ha-cluster",
            "lite.lock",
            "no-etcd",
            "no-flanneld",
            "no-apiserver-proxy",
        )
    },
    # §1.4: init_cluster's pair (chmod -R o-rwX, then the kicker's ug+rwX); k8s-dqlite consumed
    # init.yaml at its first start and go-dqlite wrote info.yaml and cluster.yaml (0600, made
    # 0660 by the kicker); failure-domain from run-kubelite-with-args (0644 + the kicker's g+rw).
    "var/kubernetes/backend/": 0o770,
    "var/kubernetes/backend/cluster.crt": 0o660,
    "var/kubernetes/backend/cluster.key": 0o660,
    "var/kubernetes/backend/info.yaml": 0o660,
    "var/kubernetes/backend/cluster.yaml": 0o660,
    "var/kubernetes/backend/failure-domain": 0o664,
    "var/kubernetes/backend/metadata1": 0o660,  # libdqlite's term and vote (§1.4)
    "var/kubernetes/backend/metadata2": 0o660,
    "var/tmp/csr-dqlite.conf": None,  # init_cluster
    "var/tmp/upgrades/000-switch-to-calico/": None,  # install L132-139
    "opt/cni/bin/": None,  # install L141-142 (configure makes the binaries symlinks)
    "tmp/": 0o770,  # configure L140
    # §1.3: $SNAP_COMMON
    "common/etc/launcher/": None,
    "common/etc/sideload/": None,
    "common/hooks/post-refresh.d/": 0o770,
    "common/hooks/reconcile.d/": 0o770,
    "common/hooks/remove.d/": 0o770,
    "common/addons/": 0o770,
    "common/plugins/": 0o770,
    "common/run/": None,
    "common/var/lib/kubelet/": None,
    "common/var/lib/containerd/": None,
}

# §1.5, on the node a control-plane join contacted (ca pkg/api/v2/join.go Join): the callback
# token (0600), the certificate lock (0600), dqlite rebound by update.yaml (consumed). The token
# files exist once add-node or the launch configuration wrote them (§3.1).
FILES_SERVED_A_JOIN: dict[str, int | None] = {
    **FILES_INSTALLED,
    "credentials/callback-token.txt": 0o600,
    "var/lock/no-cert-reissue": 0o600,
}

# §1.5, control-plane join, on the joiner (mk scripts/wrappers/join.py join_dqlite_master_node).
FILES_CONTROL_PLANE_JOINED: dict[str, int | None] = {
    **FILES_INSTALLED,
    "certs/ca.crt.backup": 0o660,
    "certs/ca.key.backup": 0o660,
    "certs/serviceaccount.key.backup": 0o660,
    "args/kube-apiserver.backup": 0o660,
    "credentials/callback-token.txt": 0o660,
    "var/lock/no-cert-reissue": 0o700,
    # join.py update_dqlite: `mv backend backend.backup; mkdir backend` (no o-rwX this time,
    # as init_cluster had done), then the kicker's ug+rwX: 0775 with root's umask 022 (derived)
    "var/kubernetes/backend/": 0o775,
    "var/kubernetes/backend.backup/": 0o770,
    "var/kubernetes/backend.backup/info.yaml": 0o660,
}

# §1.5, worker join, on the joiner (join.py join_dqlite_worker_node): its own install-time
# certificates stay, ca.key included; the cluster's CA arrives as ca.remote.crt.
FILES_WORKER_JOINED: dict[str, int | None] = {
    **{k: v for k, v in FILES_INSTALLED.items() if k != "var/lock/no-apiserver-proxy"},
    "certs/ca.remote.crt": 0o660,
    "credentials/callback-token.txt": 0o660,
    "args/traefik/provider.yaml": 0o660,
    "args/traefik/traefik.yaml": 0o660,  # run-apiserver-proxy-with-args, on every start
    "args/kube-apiserver.backup": 0o660,
    "var/lock/clustered.lock": 0o700,
    "var/lock/no-k8s-dqlite": 0o700,
    "var/lock/no-cert-reissue": 0o700,
}

# The files whose content the benches read, as MicroK8s ships them (mk
# microk8s-resources/default-args; microk8s.default.yaml for the launcher).
DEFAULT_ARGS = {
    "ha-conf": "failure-domain=1\n",
    "k8s-dqlite": "--storage-dir=${SNAP_DATA}/var/kubernetes/backend/\n"
    "--listen=unix://${SNAP_DATA}/var/kubernetes/backend/kine.sock:12379\n",
    "cluster-agent": '--bind 0.0.0.0:25000\n--keyfile "${SNAP_DATA}/certs/server.key"\n'
    '--certfile "${SNAP_DATA}/certs/server.crt"\n--timeout 240\n',
    "apiserver-proxy": "--traefik-config ${SNAP_DATA}/args/traefik/traefik.yaml\n"
    "--kubeconfig ${SNAP_DATA}/credentials/kubelet.config\n--refresh-interval 30s\n",
    "kubelet": "--kubeconfig=${SNAP_DATA}/credentials/kubelet.config\n"
    "--cert-dir=${SNAP_DATA}/certs\n--client-ca-file=${SNAP_DATA}/certs/ca.crt\n"
    '--node-labels="microk8s.io/cluster=true,node.kubernetes.io/microk8s-controlplane='
    'microk8s-controlplane"\n',
    "kube-apiserver": "--secure-port=16443\n--etcd-servers="
    "unix://${SNAP_DATA}/var/kubernetes/backend/kine.sock:12379\n",
    "kubelite": "--apiserver-args-file=$SNAP_DATA/args/kube-apiserver\n"
    "--kubelet-args-file=$SNAP_DATA/args/kubelet\n"
    "--kubeconfig-file=$SNAP_DATA/credentials/client.config\n--start-control-plane=true\n",
}


def files(kind: str) -> dict[str, int | None]:
    """The reference's list for a node of this kind: "installed", "served a join" (the first
    node), "control plane" (joined) or "worker" (joined)."""
    return {
        "installed": FILES_INSTALLED,
        "served a join": FILES_SERVED_A_JOIN,
        "control plane": FILES_CONTROL_PLANE_JOINED,
        "worker": FILES_WORKER_JOINED,
    }[kind]


def _path(root: Path, rel: str) -> Path:
    return root / (f"{COMMON}/{rel[7:]}" if rel.startswith("common/") else f"{DATA}/{rel}")


def walk(root: Path) -> dict[str, int]:
    """Every file and folder of a node's tree under root, as the tables name them."""
    out: dict[str, int] = {}
    for base, prefix in (((root / DATA).resolve(), ""), (root / COMMON, "common/")):
        for path in base.rglob("*"):
            rel = prefix + path.relative_to(base).as_posix()
            st = path.lstat()
            out[rel + ("/" if stat.S_ISDIR(st.st_mode) else "")] = stat.S_IMODE(st.st_mode)
    return out


def differences(root: Path, kind: str) -> list[str]:
    """What the tree under root lacks, or holds with another mode, against the reference."""
    found = walk(root)
    out = []
    for rel, mode in sorted(files(kind).items()):
        if rel not in found:
            out.append(f"{rel}: missing")
        elif mode is not None and found[rel] != mode:
            out.append(f"{rel}: mode {found[rel]:04o}, the reference says {mode:04o}")
    return out


# -- what MicroK8s does to a tree -------------------------------------------------------------


def _write(path: Path, content: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    os.chmod(path, mode)


def ca(name: str) -> str:
    """A stand-in certificate authority: its certificate names it (the benches that need real
    keys, such as the verify bench, write real PEM files over it)."""
    return f"CA {name}\n"


def lay_installed(root: Path, hostname: str, ips: list[str]) -> None:
    """`snap install microk8s` under root: the install and configure hooks (mk snap/hooks/),
    before any daemon starts (start_daemons). The launch configuration is the caller's."""
    rev = root / REVISION
    rev.mkdir(parents=True)
    (root / DATA).symlink_to(rev.name)
    own_ca = ca(f"of {hostname}, self-signed at install")
    content = {
        **{f"args/{k}": v for k, v in DEFAULT_ARGS.items()},
        "certs/ca.crt": own_ca,
        "certs/server.crt": issued(own_ca, ips),
        "var/lock/installed.lock": "",
    }
    for rel, mode in sorted(FILES_INSTALLED.items()):
        path = _path(root, rel)
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o755 if mode is None else mode)
        elif not rel.startswith("var/kubernetes/backend/"):
            text = content.get(rel, f"# {rel} as MicroK8s writes it\n")
            _write(path, text, 0o644 if mode is None else mode)
    backend = root / BACKEND
    for name in ("cluster.crt", "cluster.key"):
        _write(backend / name, f"dqlite {name} of {hostname}\n", 0o660)
    _write(backend / "init.yaml", f"Address: 127.0.0.1:{DQLITE_PORT}\n", 0o640)


def start_daemons(root: Path, event: Event = _quiet) -> None:
    """snapd starts the services (kubelite writes failure-domain; k8s-dqlite sleeps 6 s first,
    mk wrappers/run-k8s-dqlite-with-args L25), then the kicker's first pass fixes the modes."""
    args = root / DATA / "args"
    # mk wrappers/run-containerd-with-args L57-58: containerd.toml from its template, each start
    shutil.copyfile(args / "containerd-template.toml", args / "containerd.toml")
    start_kubelite(root, event)
    start_k8s_dqlite(root, event)
    if not (root / LOCKS / "clustered.lock").exists():  # the kicker exits on workers
        backend_permissions(root)
    else:  # mk wrappers/run-apiserver-proxy-with-args: traefik.yaml from its template
        shutil.copyfile(args / "traefik/traefik-template.yaml", args / "traefik/traefik.yaml")


def issued(ca_crt: str, ips: list[str]) -> str:
    """A stand-in server.crt: who signed it, and the addresses it names (csr.conf)."""
    return json.dumps({"signed by": ca_crt, "ips": sorted(ips)}) + "\n"


def start_kubelite(root: Path, event: Event = _quiet) -> None:
    """mk wrappers/run-kubelite-with-args: `--start-control-plane` from clustered.lock, removes
    stopped.lock, adds --resolv-conf to args/kubelet if missing, and `echo > failure-domain`
    from args/ha-conf on every start, on control-plane nodes and workers alike (L53-61): the
    same content gets a new mtime."""
    data = root / DATA
    locks = root / LOCKS
    worker = (locks / "clustered.lock").exists()
    kubelite = data / "args" / "kubelite"
    lines = [ln for ln in kubelite.read_text().splitlines() if "--start-control-plane" not in ln]
    kubelite.write_text(
        "\n".join([*lines, f"--start-control-plane={str(not worker).lower()}"]) + "\n"
    )
    (locks / "stopped.lock").unlink(missing_ok=True)
    if not has_flag(root, "kubelet", "--resolv-conf"):  # L99-106, scripts/find-resolv-conf.py
        update_args(root, "kubelet", {"--resolv-conf": "/run/systemd/resolve/resolv.conf"})
    conf = data / "args" / "ha-conf"
    domain = (
        next(
            (
                ln.split("=", 1)[1]
                for ln in conf.read_text().splitlines()
                if ln.startswith("failure-domain")
            ),
            None,
        )
        if conf.exists()
        else None
    )
    if domain is not None:
        target = root / BACKEND / "failure-domain"
        target.write_text(domain + "\n")  # echo "$val" > ...: an existing file keeps its mode
    event("kubelite started")


def start_k8s_dqlite(root: Path, event: Event = _quiet) -> int | None:
    """mk wrappers/run-k8s-dqlite-with-args exits on no-k8s-dqlite; kd pkg/server/server.go
    consumes init.yaml (refusing other state files, L95-101) or update.yaml, and reads
    failure-domain once (0 if absent, L225-235). Returns the domain it runs in."""
    if (root / LOCKS / "no-k8s-dqlite").exists():
        return None
    backend = root / BACKEND
    init, update = backend / "init.yaml", backend / "update.yaml"
    if init.exists():
        extra = sorted(
            p.name
            for p in backend.iterdir()
            if p.name
            not in ("cluster.crt", "cluster.key", "init.yaml", "failure-domain", "tuning.yaml")
        )
        assert not extra, f"data directory seems to have existing state '{extra[0]}'"
        address = init.read_text().split("Address:")[1].split()[0]
        joining = "Cluster:" in init.read_text()
        node_id = (
            int(hashlib.sha256(address.encode()).hexdigest()[:15], 16) if joining else BOOTSTRAP_ID
        )
        init.unlink()
        # gd app/app.go New: info.yaml; the node store: cluster.yaml (0600, made 0660 by the kicker)
        _write(backend / "info.yaml", f"Address: {address}\nID: {node_id}\nRole: 0\n", 0o600)
        _write(
            backend / "cluster.yaml", f"- Address: {address}\n  ID: {node_id}\n  Role: 0\n", 0o600
        )
        for name in ("metadata1", "metadata2"):
            _write(backend / name, "", 0o600)
    elif update.exists():
        # kd server.go L181-223: ReconfigureMembershipExt with the new address.
        address = update.read_text().split("Address:")[1].split()[0]
        info = (backend / "info.yaml").read_text().splitlines()
        node_id = next(ln.split(":", 1)[1].strip() for ln in info if ln.startswith("ID:"))
        _write(backend / "info.yaml", f"Address: {address}\nID: {node_id}\nRole: 0\n", 0o600)
        _write(
            backend / "cluster.yaml", f"- Address: {address}\n  ID: {node_id}\n  Role: 0\n", 0o600
        )
        update.unlink()
    f = backend / "failure-domain"
    domain = int(f.read_text()) if f.exists() else 0
    _write(root / RUNNING, str(domain), 0o644)
    event("k8s-dqlite started", failure_domain=domain)
    return domain


def running_failure_domain(root: Path) -> int | None:
    """The domain the running k8s-dqlite took at its start (what `.describe` reports)."""
    f = root / RUNNING
    return int(f.read_text()) if f.exists() else None


def dqlite_address(root: Path) -> str:
    info = (root / BACKEND / "info.yaml").read_text().splitlines()
    return next(ln.split(":", 1)[1].strip() for ln in info if ln.startswith("Address:"))


def backend_permissions(root: Path) -> None:
    """mk wrappers/apiservice-kicker L35-42: `chmod -R ug+rwX` on the backend, every 5 s."""
    backend = root / BACKEND
    for path in [backend, *backend.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode) | 0o660
        if path.is_dir() or mode & 0o100:
            mode |= 0o110
        os.chmod(path, mode)


def has_flag(root: Path, service: str, *flags: str) -> bool:
    path = root / DATA / "args" / service
    text = path.read_text() if path.exists() else ""
    return any(ln.split("=")[0].split(" ")[0] in flags for ln in text.splitlines())


def kicker_tick(root: Path, ips: list[str], event: Event = _quiet) -> bool:
    """One pass of mk wrappers/apiservice-kicker (1.35 L9-77). It exits on workers. Without the
    no-cert-reissue lock and without --advertise-address/--bind-address it runs produce_certs,
    which re-issues server.crt only when the rendered addresses changed (it never looks at the
    CA); otherwise ensure_server_ca, which re-signs server.crt when it does not verify against
    ca.crt (mk actions/common/utils.sh L683-773). A re-issue restarts cluster-agent, kubelite
    and containerd, unless join-in-progress exists. Returns whether it restarted them."""
    locks = root / LOCKS
    if (locks / "clustered.lock").exists() or not (locks / "installed.lock").exists():
        return False
    backend_permissions(root)
    certs = root / DATA / "certs"
    server = json.loads((certs / "server.crt").read_text())
    ca_crt = (certs / "ca.crt").read_text()
    pinned = has_flag(root, "kube-apiserver", "--advertise-address", "--bind-address")
    if not (locks / "no-cert-reissue").exists() and not pinned:
        if server["ips"] == sorted(ips):
            return False
        event("kicker re-issued the certificate for new addresses", ips=sorted(ips))
    elif server["signed by"] != ca_crt:
        event(
            "kicker re-signed the certificate with the cluster's CA",
            join_in_progress=(locks / "join-in-progress").exists(),
        )
        ips = server["ips"]  # ensure_csr_conf_conservative keeps the rendered addresses
    else:
        return False
    (certs / "server.crt").write_text(issued(ca_crt, ips))
    if (locks / "join-in-progress").exists():
        return False
    event("kicker restarted cluster-agent, kubelite and containerd")
    start_kubelite(root, event)
    return True


def consume_token(root: Path, token: str) -> bool:
    """ca pkg/util/token.go, as `ConsumeClusterToken` calls it at step 1 of a join (§3.2):
    a persistent token is valid and stays; a single-use token is valid once, its line removed
    now, before any other check; a TTL token (`token|expiry`) stays while unexpired."""
    creds = root / DATA / "credentials"
    persistent = creds / "persistent-cluster-tokens.txt"
    if persistent.exists() and token in (ln.strip() for ln in persistent.read_text().splitlines()):
        return True
    single = creds / "cluster-tokens.txt"
    if not single.exists():
        return False
    lines = single.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(token):
            if "|" in line:  # TTL: valid, and kept, until its expiry (lines stay when expired)
                return time.time() < int(line.split("|", 1)[1])
            del lines[i]
            single.write_text("".join(f"{ln}\n" for ln in lines))
            return True
    return False


def serve_join(root: Path, joiner: str, address: str, worker: bool, token: str) -> dict[str, str]:
    """The contacted node's side of a join that passed step 1 (ca pkg/api/v2/join.go Join):
    the callback token (0600) if missing, the certificate lock (0600), the first join's dqlite
    rebind through update.yaml and a k8s-dqlite restart, a worker's certificate-request tokens.
    Returns what the response carries."""
    creds = root / DATA / "credentials"
    callback = creds / "callback-token.txt"
    if not callback.exists():
        _write(callback, "callback-token-of-the-cluster\n", 0o600)
    lock = root / LOCKS / "no-cert-reissue"
    if not lock.exists():
        _write(lock, "", 0o600)
    if dqlite_address(root).startswith("127.0.0.1:"):
        _write(root / BACKEND / "update.yaml", f"Address: {address}:{DQLITE_PORT}\n", 0o660)
        start_k8s_dqlite(root)
        backend_permissions(root)  # the kicker, within 5 s
    if worker:
        with open(creds / "certs-request-tokens.txt", "a") as f:
            f.write(f"{token}-kubelet\n{token}-proxy\n")
    certs = root / DATA / "certs"
    return {
        "ca": (certs / "ca.crt").read_text(),
        "ca_key": "" if worker else (certs / "ca.key").read_text(),
        "service_account_key": (certs / "serviceaccount.key").read_text(),
        "callback_token": callback.read_text(),
        "kubelet_args": (root / DATA / "args" / "kubelet").read_text(),
        "hostname_override": joiner,
        "voters": f"{address}:{DQLITE_PORT}",
    }


def _store(root: Path, name: str, content: str) -> None:
    # join.py store_cert: the old file is kept as *.backup (0660)
    certs = root / DATA / "certs"
    if (certs / name).exists():
        shutil.copy(certs / name, certs / f"{name}.backup")
        os.chmod(certs / f"{name}.backup", 0o660)
    _write(certs / name, content, 0o660)


# launch-configuration keys and the args file each one updates (ca pkg/k8sinit/apply.go)
ARG_KEYS = {
    "extraKubeAPIServerArgs": "kube-apiserver",
    "extraKubeletArgs": "kubelet",
    "extraMicroK8sAPIServerProxyArgs": "apiserver-proxy",
    "extraContainerdEnv": "containerd-env",
}


def update_args(root: Path, service: str, flags: dict[str, object]) -> None:
    """ca pkg/snap/services.go UpdateServiceArguments: a known flag's line is replaced in place
    as `--key=value`, an unknown one appended, a null one deleted."""
    path = root / DATA / "args" / service
    lines = path.read_text().splitlines() if path.exists() else []
    for key, value in flags.items():
        text = None if value is None else str(value).lower() if isinstance(value, bool) else value
        at = [i for i, ln in enumerate(lines) if ln.split("=")[0].split(" ")[0] == key]
        new = [] if text is None else [f"{key}={text}"]
        if at:
            lines = [ln for i, ln in enumerate(lines) if i not in at[1:]]
            lines[at[0] : at[0] + 1] = new
        else:
            lines += new
    path.write_text("".join(f"{ln}\n" for ln in lines))


def apply_launch_part(root: Path, part: dict) -> None:
    """The file side of ca pkg/k8sinit/apply.go applyPart, in its order: the persistent token
    (appended, 0660: pkg/util/token.go AppendToken), extra config files, the args files."""
    creds = root / DATA / "credentials"
    if "persistentClusterToken" in part:
        with open(creds / "persistent-cluster-tokens.txt", "a") as f:
            f.write(part["persistentClusterToken"] + "\n")
        os.chmod(creds / "persistent-cluster-tokens.txt", 0o660)
    for name, content in part.get("extraConfigFiles", {}).items():
        _write(root / DATA / "args" / name, content, 0o660)
    for key, service in ARG_KEYS.items():
        if part.get(key):
            update_args(root, service, part[key])


def _set_arg(root: Path, service: str, key: str, value: str | None) -> None:
    # mk scripts/wrappers/common/utils.py set_arg: replaces, appends or (None) removes a line
    path = root / DATA / "args" / service
    lines = [ln for ln in path.read_text().splitlines() if ln.split("=")[0].split(" ")[0] != key]
    if value is not None:
        lines.append(f"{key}={value}")
    path.write_text("".join(f"{ln}\n" for ln in lines))


def _lock(root: Path, name: str) -> None:
    _write(root / LOCKS / name, "", 0o700)  # join.py's locks: 0700


def _update_apiserver(root: Path) -> None:
    # join.py update_apiserver: authorization mode and port from the contacted node (a backup of
    # the file first), then a kubelite restart
    path = root / DATA / "args" / "kube-apiserver"
    shutil.copy(path, path.with_name("kube-apiserver.backup"))
    _set_arg(root, "kube-apiserver", "--authorization-mode", "RBAC,Node")
    _set_arg(root, "kube-apiserver", "--secure-port", "16443")


def _kubelet_args(root: Path, response: dict[str, str]) -> None:
    # join.py store_base_kubelet_args, update_kubelet_node_ip, update_kubelet_hostname_override:
    # the contacted node's kubelet args; --node-ip, if set there, becomes this node's address
    # as the contacted node saw it.
    _write(root / DATA / "args" / "kubelet", response["kubelet_args"], 0o660)
    if has_flag(root, "kubelet", "--node-ip"):
        _set_arg(root, "kubelet", "--node-ip", response["hostname_override"])
    _set_arg(root, "kubelet", "--hostname-override", None)


def join_control_plane(
    root: Path, response: dict[str, str], tick: Callable[[], None], event: Event = _quiet
) -> None:
    """join.py join_dqlite_master_node and update_dqlite on the joiner, in their order; `tick`
    is whatever the daemons do while join.py sleeps 10 s ("will allow for apiservice-kicker to
    generate new certificates @5s loop rate", update_dqlite L586-587)."""
    _lock(root, "join-in-progress")
    _store(root, "ca.crt", response["ca"])
    _store(root, "ca.key", response["ca_key"])
    _store(root, "serviceaccount.key", response["service_account_key"])
    _update_apiserver(root)
    start_kubelite(root, event)
    _kubelet_args(root, response)
    _write(root / DATA / "credentials" / "callback-token.txt", response["callback_token"], 0o660)
    event("kubelite stopped")
    event("k8s-dqlite stopped")
    tick()
    tick()
    backend = root / BACKEND
    backup = backend.with_name("backend.backup")
    shutil.rmtree(backup, ignore_errors=True)
    shutil.move(str(backend), str(backup))
    backend.mkdir()
    os.chmod(backend, 0o755)  # os.mkdir under root's umask (022 assumed: UNSURE in the reference)
    for name in ("cluster.crt", "cluster.key"):
        _write(backend / name, f"dqlite {name} of the cluster\n", 0o660)
    address = response["hostname_override"]
    _write(
        backend / "init.yaml",
        f"Address: {address}:{DQLITE_PORT}\nCluster:\n- {response['voters']}\n",
        0o640,
    )
    start_k8s_dqlite(root, event)
    start_kubelite(root, event)
    _lock(root, "no-cert-reissue")  # mark_no_cert_reissue
    (root / LOCKS / "join-in-progress").unlink()  # join() L1012, on success only


def join_worker(
    root: Path, response: dict[str, str], contacted: str, event: Event = _quiet
) -> None:
    """join.py join_dqlite_worker_node and mark_worker_node on the joiner: the node keeps its
    own certificates, ca.key included; the cluster's CA is ca.remote.crt."""
    _lock(root, "join-in-progress")
    _write(root / DATA / "certs" / "ca.remote.crt", response["ca"], 0o660)
    _update_apiserver(root)
    start_kubelite(root, event)
    _kubelet_args(root, response)
    _set_arg(root, "kubelet", "--client-ca-file", "${SNAP_DATA}/certs/ca.remote.crt")
    _write(root / DATA / "credentials" / "callback-token.txt", response["callback_token"], 0o660)
    traefik = root / DATA / "args" / "traefik"
    # join.py update_apiserver_proxy (yaml.dump: the address unquoted)
    _write(
        traefik / "provider.yaml",
        "tcp:\n  routers:\n    Router-1:\n      rule: HostSNI(`*`)\n      service: kube-apiserver\n"
        "      tls:\n        passthrough: true\n  services:\n    kube-apiserver:\n"
        f"      loadBalancer:\n        servers:\n        - address: {contacted}:16443\n",
        0o660,
    )
    (root / LOCKS / "no-apiserver-proxy").unlink()
    for name in ("clustered.lock", "no-k8s-dqlite", "no-cert-reissue"):
        _lock(root, name)
    # mark_worker_node restarts kubelite, the kicker (which exits), apiserver-proxy (which
    # writes traefik.yaml from its template) and k8s-dqlite (which exits)
    start_kubelite(root, event)
    _write(traefik / "traefik.yaml", "# run-apiserver-proxy-with-args, from the template\n", 0o660)
    (root / LOCKS / "join-in-progress").unlink()


def lay_cluster(folder: Path, nodes: list[tuple[str, str, bool, int]]) -> dict[str, Path]:
    """Every node of a formed cluster, as hacc's bootstrap leaves it: (name, address, control
    plane, failure domain), the first node first. Each is installed with its failure domain
    (the launch configuration's ha-conf), joins the first node, and a control-plane joiner
    restarts k8s-dqlite into its failure domain. Returns each node's root."""
    roots: dict[str, Path] = {}
    first_name, first_address = nodes[0][0], nodes[0][1]
    for name, address, control_plane, domain in nodes:
        root = folder / name
        lay_installed(root, name, [address])
        apply_launch_part(root, {"extraConfigFiles": {"ha-conf": f"failure-domain={domain}\n"}})
        start_daemons(root)
        roots[name] = root
        if name == first_name:
            continue
        response = serve_join(roots[first_name], address, first_address, not control_plane, name)
        if control_plane:
            join_control_plane(root, response, lambda r=root, a=address: kicker_tick(r, [a]))
            start_k8s_dqlite(root)
            backend_permissions(root)
        else:
            join_worker(root, response, first_address)
    return roots


def refresh(root: Path, event: Event = _quiet) -> None:
    """`snap refresh microk8s`: snapd stops every service, copies the revision's data to the
    new revision with modes kept and switches `current` to it (snapd copySnapData), then starts
    the services again (reference §7.1); kubelite rewrites failure-domain, k8s-dqlite reads it."""
    current = root / DATA
    old = current.resolve()
    new = old.with_name(str(int(old.name) + 1))
    shutil.copytree(old, new, symlinks=True)
    current.unlink()
    current.symlink_to(new.name)
    start_daemons(root, event)
