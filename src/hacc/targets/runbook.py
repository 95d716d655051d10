"""`RUNBOOK.md`: bootstrap, verification and day-2 operations with this cluster's real values."""

from __future__ import annotations

from hacc.compiler.model import (
    APISERVER_PORT,
    CLUSTER_AGENT_PORT,
    KEEPALIVED_HAPROXY,
    VIP_MODES,
    Cluster,
)
from hacc.targets import backup, extensions, keepalived, monitoring
from hacc.targets.artifact import RUNBOOK, Artifact
from hacc.targets.base import is_ip, render_template
from hacc.targets.names import MONITORING, object_name

# How an apiserver is seen down: HAProxy's view is only in keepalived-haproxy mode.
HAPROXY_TOO = "(the node's probe, or every HAProxy marks it down)"
# What each alert means for an operator and the first thing to do (RUNBOOK.md section 8).
ALERT_HELP = {
    "HaccEndpointDown": "Clients cannot reach the API through the endpoint. If HaccAllApiserversDown "
    "fires too, the apiservers are the problem (section 9, step 1); if not, the load balancing is: "
    "run `hacc verify` (section 9), which names the broken layer.",
    "HaccApiserverDown": f"One apiserver fails `/readyz` {HAPROXY_TOO}. The endpoint still answers through the others. On that node: "
    "`sudo microk8s inspect`, `journalctl -u snap.microk8s.daemon-kubelite`; do not take another "
    "control-plane node down until it is back (section 4).",
    "HaccAllApiserversDown": "No apiserver answers: the datastore has probably lost quorum. Follow "
    "section 9 from step 1 on every control-plane node; `microk8s status` shows whether dqlite "
    "has a leader.",
    "HaccProbesFailing": "Prometheus runs the `/readyz` probes through the blackbox exporter "
    "(`spec.monitoring.clusterBlackboxExporter` for the Probe objects, "
    "`spec.monitoring.blackboxExporter` for `monitoring/`): it does not answer the probe of `target`, or its "
    "configuration lacks the `hacc_readyz` module (it then answers 400). While it fails, the "
    "alerts that read that probe cannot fire (the alert's description names them). From where "
    "Prometheus runs: `curl 'http://<exporter>/probe?module=hacc_readyz&target=<URL>'` with the "
    "alert's `instance` as the URL.",
    "HaccHAProxyDown": "HAProxy on this node does not answer its metrics port: it is stopped, "
    "crashed or blocked by a firewall. keepalived's check moves the VIP away from it. "
    "`systemctl status haproxy`, then `haproxy -c -f /etc/haproxy/haproxy.cfg`.",
    "HaccKubeVipDown": "kube-vip's metrics do not answer on this node: its pod is not running "
    "(`microk8s kubectl -n kube-system get pods -l app.kubernetes.io/name=kube-vip -o wide`).",
    "HaccVIPNotHeld": "No node holds the VIP, so every client of the endpoint fails: every node is "
    "in FAULT (no HAProxy with a healthy backend) or keepalived is stopped: "
    "`journalctl -u keepalived`.",
    "HaccVIPSplitBrain": "More than one node claims the VIP: VRRP adverts between them are lost "
    "(a firewall dropping IP protocol 112, a partition). Clients reach whichever node answers "
    "ARP last. Restore the path between the nodes; keepalived then settles on one holder. "
    "Check `ip -4 addr` on each node reporting MASTER: a keepalived killed with SIGKILL runs no "
    "notify script, so its last state (and the VIP) stays until it restarts.",
    "HaccVIPFlapping": "The VIP keeps moving: a health check that fails now and then (a slow or "
    "overloaded apiserver, a CPU-starved node in the `fast` profile). Look at `journalctl -u "
    "keepalived` for the reason each time and consider the `default` profile.",
    "HaccCertificateExpiresSoon": "A served apiserver certificate (`target` names the endpoint or "
    "the node) expires within the warning period. Refresh it (section 6).",
    "HaccCertificateExpiryCritical": "A served certificate expires within days: refresh it now "
    "(section 6), one control-plane node at a time.",
    "HaccBackupFailed": "The node's last backup run failed: `journalctl -u hacc-backup` on it says "
    "which step (dbctl timing out means the datastore has no quorum; an empty archive is "
    "canonical/microk8s#4259; the copy off the node is `spec.backups.copyCommand`). Run "
    "`sudo /usr/local/lib/hacc/backup.sh` once the cause is fixed (section 12).",
    "HaccBackupTooOld": "The node has written no good backup for longer than "
    "`spec.backups.maxAgeHours`: its timer does not run (`systemctl list-timers hacc-backup.timer`) "
    "or every run fails (HaccBackupFailed). Section 12.",
    "HaccTargetsMissing": "Prometheus has no target at all for the job in `job`, so the alerts "
    "that read it cannot fire. Check that the Probe or ScrapeConfig in `manifests/monitoring/` "
    "exists and carries the labels the Prometheus selects by (or that the job from "
    "`monitoring/scrape-configs.yaml` is in its configuration), then Prometheus's Targets page.",
    "HaccKubeStateMetricsMissing": "kube-state-metrics' series are missing: it is not running "
    "or not scraped (the plain `monitoring/` files do not scrape it: add its job), or "
    "`spec.monitoring.clusterMatchers` does not match the labels this cluster's series carry.",
    "HaccKeepalivedStateMissing": "The node's keepalived state is not published: the node "
    "exporter is stopped or does not read the textfile directory, or keepalived has not run "
    "its notify script since it started. The VIP alerts do not see this node meanwhile. "
    "`systemctl status prometheus-node-exporter keepalived`.",
    "HaccKeepalivedFault": "keepalived on the node is in FAULT (its HAProxy check fails: no "
    "healthy backend, or HAProxy down) or STOP (keepalived stopped): it can neither hold nor "
    "take over the VIP, so the cluster has one backup fewer. `journalctl -u keepalived` says "
    "which; for FAULT, `systemctl status haproxy` and HaccApiserverDown on the same node.",
    "HaccControlPlaneQuorumAtRisk": "Fewer control-plane nodes than a majority are Ready or answer "
    "`/readyz`. dqlite needs a majority of its voters: writes have stopped, unless the failing "
    "nodes still run dqlite; then one more loss stops them. Bring nodes back (section 9) before "
    "anything else, and start no maintenance (section 4).",
}


def _alert_help(cluster: Cluster) -> dict[str, str]:
    """ALERT_HELP, naming HAProxy and keepalived only where the cluster runs them."""
    if cluster.mode == KEEPALIVED_HAPROXY:
        return ALERT_HELP
    out = {k: v.replace(HAPROXY_TOO, "(the node's probe)") for k, v in ALERT_HELP.items()}
    out["HaccVIPNotHeld"] = (
        "No node holds the VIP, so every client of the endpoint fails. No kube-vip instance "
        "renews its Lease: check the kube-vip pods and the apiservers they renew through."
    )
    return out


def next_channel(cluster: Cluster) -> str | None:
    """The channel `hacc upgrade` would take the cluster to next (None for `latest`)."""
    from hacc.targets.upgrade_script import channel

    now = channel(cluster.channel)
    return now.next_minor(now.risk) if now.minor else None


ROW = 3  # nodes side by side in the diagram: wider than that, GitHub shrinks it unreadably


def _rows(ids: list[str]) -> list[str]:
    """Invisible links that put each node below the one ROW before it: rows of ROW nodes."""
    return [f"    {ids[i - ROW]} ~~~ {ids[i]}" for i in range(ROW, len(ids))]


def diagram(cluster: Cluster) -> str:
    """A Mermaid flowchart of the cluster (GitHub and GitLab render it): the endpoint, every node
    with its address and role, what runs where, and who joins whom at first boot. Node ids are
    generated (`n0`, `n1`, ...); every label is quoted, and names and addresses are limited by
    the schema to characters that need no escaping."""
    c = cluster
    ep = c.endpoint
    ids = {n.name: f"n{i}" for i, n in enumerate(c.nodes)}
    where = f"{ep.address}:{ep.port}" if ep.address else f"{ep.dns_name}:{ep.port}"
    name = f"<br/>{ep.dns_name}" if ep.dns_name and ep.address else ""
    lines = ["flowchart TB", '  clients(["clients, kubectl"])']
    if c.mode == KEEPALIVED_HAPROXY:
        vrid = c.keepalived.virtual_router_id
        lines.append(f'  ep{{{{"VIP {where}{name}<br/>keepalived, VRRP id {vrid}"}}}}')
    elif c.mode == "kube-vip":
        lines.append(f'  ep{{{{"VIP {where}{name}<br/>kube-vip (the Lease holder)"}}}}')
    else:
        lines.append(f'  ep[("load balancer {where}{name}")]')
    lines.append('  clients -->|"https"| ep')
    prio = keepalived.priorities(c)
    lines.append('  subgraph control ["control plane"]')
    for n in c.control_plane:
        parts = [n.name, n.address, f"apiserver :{APISERVER_PORT}"]
        if c.mode == KEEPALIVED_HAPROXY:
            parts.append(f"HAProxy :{ep.port}, keepalived priority {prio[n.name]}")
        elif c.mode == "kube-vip":
            parts.append("kube-vip")
        if n == c.first:
            parts.append("bootstraps the cluster")
        lines.append(f'    {ids[n.name]}["{"<br/>".join(parts)}"]')
    lines += _rows([ids[n.name] for n in c.control_plane])
    lines.append("  end")
    if c.workers:
        lines.append('  subgraph workers ["workers"]')
        for n in c.workers:
            lines.append(f'    {ids[n.name]}["{n.name}<br/>{n.address}"]')
        lines += _rows([ids[n.name] for n in c.workers])
        lines.append("  end")
    target = {KEEPALIVED_HAPROXY: f"HAProxy to :{APISERVER_PORT}", "kube-vip": "the holder"}
    for i, n in enumerate(c.control_plane):
        label = f'|"{target.get(c.mode, f":{APISERVER_PORT}")}"|' if i == 0 else ""
        lines.append(f"  ep -->{label} {ids[n.name]}")
    first = ids[c.first.name]
    # One label for the joins: the same text on every edge overlaps itself. Workers join as one
    # edge from their subgraph, so a large pool adds no edges.
    join = f'|"joins at first boot, :{CLUSTER_AGENT_PORT}"|'
    for i, n in enumerate(c.control_plane[1:]):
        lines.append(f"  {ids[n.name]} -.->{join if i == 0 else ''} {first}")
    if c.workers:
        label = join if len(c.control_plane) == 1 else '|"join too, as workers"|'
        lines.append(f"  workers -.->{label} {first}")
    if c.workers:
        via = "ep" if c.worker_endpoint == "vip" and c.mode in VIP_MODES else "control"
        lines.append(f'  workers -->|"apiserver-proxy"| {via}')
    return "```mermaid\n" + "\n".join(lines) + "\n```"


def _gitops_names(cluster: Cluster) -> dict[str, str] | None:
    if cluster.gitops is None:
        return None
    return {"app": object_name(cluster.name), "monitoring": object_name(cluster.name, MONITORING)}


def applies(cluster: Cluster) -> bool:
    return True


def render(cluster: Cluster) -> list[Artifact]:
    ep = cluster.endpoint
    host = ep.dns_name or ep.address or ""
    text = render_template(
        "RUNBOOK.md.j2",
        cluster,
        "",
        c=cluster,
        api_url=f"https://{host}:{ep.port}",
        endpoint_host=host,
        vip_mode=cluster.mode in VIP_MODES,
        join_target=f"{cluster.first.address}:{CLUSTER_AGENT_PORT}/<token>",
        no_proxy=extensions.no_proxy(cluster),
        labelled=bool(extensions.labelled(cluster)),
        next_channel=next_channel(cluster),
        ips={s for s in cluster.sans if is_ip(s)},
        priorities=keepalived.priorities(cluster),
        advert_int=keepalived.advert_int(cluster),
        mon=cluster.monitoring if cluster.monitoring.enabled else None,
        alerts=monitoring.alert_rules(cluster) if cluster.monitoring.enabled else [],
        alert_help=_alert_help(cluster),
        backup_times={n.name: backup.at(cluster, n) for n in cluster.control_plane}
        if cluster.backups
        else {},
        module=monitoring.MODULE,
        endpoint_url=monitoring.endpoint_url(cluster),
        scrape_jobs=monitoring.scrape_targets(cluster),
        notify_path=keepalived.NOTIFY_SCRIPT_PATH,
        textfile_dir=monitoring.TEXTFILE_DIR,
        metric=monitoring.STATE_METRIC,
        diagram=diagram(cluster),
        gitops=_gitops_names(cluster),
    )
    return [Artifact("RUNBOOK.md", text, RUNBOOK)]
