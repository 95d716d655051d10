"""One harness over every target and every example, plus what each artifact must say."""

from __future__ import annotations

import re

import pytest
from ruamel.yaml import YAML

from artifacts import all_artifacts, compiled
from conftest import EXAMPLES, REPO, replaced
from hacc.compiler.frontend import analyze
from hacc.targets import TARGETS, render_cluster, selfcheck
from hacc.targets.base import JOIN_TOKEN_PLACEHOLDER

ALL = all_artifacts()
IDS = [f"{e}:{a.path}" for e, a in ALL]


def load_all(text: str) -> list:
    return list(YAML(typ="safe", pure=True).load_all(text))


def test_every_target_serves_some_example() -> None:
    for name, target in TARGETS.items():
        assert any(target.applies(compiled(p.stem)[0]) for p in EXAMPLES), name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_rendering_is_deterministic(path) -> None:
    first = render_cluster(analyze(path).cluster)
    second = render_cluster(analyze(path).cluster)
    assert first == second


@pytest.mark.parametrize(("example", "artifact"), ALL, ids=IDS)
def test_artifact_hygiene(example, artifact, tmp_path) -> None:
    text = artifact.content
    assert text.endswith("\n") and not text.endswith("\n\n"), "exactly one trailing newline"
    assert "\r" not in text and "\t" not in text
    assert "do not edit" in text.splitlines()[0] + text.splitlines()[1] + text.splitlines()[2]
    for machine_path in (str(REPO), str(tmp_path.parent), "/home/", "/tmp/"):
        assert machine_path not in text
    assert not re.search(r"(?<![\w/])/root/", text), "a home folder"  # /host/root/ is the chart's
    assert not any(line.endswith(" ") for line in text.splitlines()), "no trailing spaces"
    if artifact.path.endswith(".yaml"):
        assert load_all(text), "parses as YAML"
    assert artifact.executable == artifact.path.endswith(".sh")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_no_secret_value_reaches_output(path, monkeypatch) -> None:
    secret = "s3cr3t-join-token-0123456789abcdef"
    monkeypatch.setenv("HACC_JOIN_TOKEN", secret)
    for artifact in render_cluster(analyze(path).cluster):
        assert secret not in artifact.content


def user_data(example: str, node: str) -> dict:
    _, arts = compiled(example)
    text = next(a.content for a in arts if a.path == f"nodes/{node}/user-data.yaml")
    assert text.startswith("#cloud-config\n")
    (doc,) = load_all(text)
    return doc


def launch_docs(example: str, node: str) -> list[dict]:
    _, arts = compiled(example)
    return load_all(next(a.content for a in arts if a.path == f"nodes/{node}/microk8s-launch.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_user_data_stages_files_for_the_bootstrap(path) -> None:
    cluster, arts = compiled(path.stem)
    for node in cluster.nodes:
        doc = user_data(path.stem, node.name)
        files = {f["path"]: f for f in doc["write_files"]}
        # Only under /usr/local/lib/hacc: snapd's undo cannot remove the launch configuration,
        # and no package starts keepalived or HAProxy with hacc's configuration early. Besides:
        # the label and backup timers' units (inert until the bootstrap enables them) and the
        # spec's files.
        own = {f.path for f in node.extensions.files}
        units = (
            "/etc/systemd/system/hacc-node-labels.service",
            "/etc/systemd/system/hacc-node-labels.timer",
            "/etc/systemd/system/hacc-bootstrap-resume.path",
            "/etc/systemd/system/hacc-bootstrap-resume.service",
            "/etc/systemd/system/hacc-worker-tokens.service",
            "/etc/systemd/system/hacc-worker-tokens.timer",
            "/etc/systemd/system/hacc-backup.service",
            "/etc/systemd/system/hacc-backup.timer",
        )
        assert all(p.startswith("/usr/local/lib/hacc/") or p in units for p in set(files) - own)
        launch = files["/usr/local/lib/hacc/microk8s-launch.yaml"]
        assert launch["permissions"] == "0600" and "defer" not in launch
        assert load_all(launch["content"]) == launch_docs(path.stem, node.name)
        # Node 1 also stages the launch configuration that joins instead of founding (through
        # the second control-plane node; the bootstrap puts another's address in when needed).
        alt = files.get("/usr/local/lib/hacc/microk8s-launch-join.yaml")
        assert (alt is not None) == (node == cluster.first and len(cluster.control_plane) > 1)
        if alt:
            assert selfcheck.launch_config_problems(alt["content"]) == []
            (first, *_) = load_all(alt["content"])
            assert first["join"]["url"].startswith(f"{cluster.control_plane[1].address}:25000/")
            assert "addons" not in first and first["join"]["worker"] is False
        assert all(isinstance(f["permissions"], str) for f in files.values())
        assert doc["hostname"] == node.name
        assert doc["runcmd"] == ["bash /usr/local/lib/hacc/bootstrap.sh"]
        bootstrap = files["/usr/local/lib/hacc/bootstrap.sh"]["content"]
        assert f"--channel={cluster.channel}" in bootstrap
        lb = node.is_control_plane and cluster.mode == "keepalived-haproxy"
        for name in ("haproxy.cfg", "keepalived.conf", "check-apiserver.sh"):
            staged = files.get(f"/usr/local/lib/hacc/{name}")
            assert (staged is not None) == lb
            if staged:
                assert staged["content"] == arts_by_path(arts)[f"nodes/{node.name}/{name}"]
        tokens = files.get("/usr/local/lib/hacc/worker-join-tokens")
        if node.is_control_plane and cluster.workers:  # any control-plane node admits them
            assert tokens is not None and tokens["permissions"] == "0600"
            assert tokens["content"] == "".join(
                f"{w.name} __HACC_WORKER_TOKEN_{w.name}__\n" for w in cluster.workers
            )
        else:
            assert tokens is None


def arts_by_path(arts) -> dict[str, str]:
    return {a.path: a.content for a in arts}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_launch_configurations(path) -> None:
    cluster, _ = compiled(path.stem)
    for node in cluster.nodes:
        docs = launch_docs(path.stem, node.name)
        first = docs[0]
        assert first["version"] == "0.2.0"
        if node.is_control_plane:
            assert first["extraSANs"] == [*cluster.sans, node.address]
            assert (
                cluster.endpoint.address in first["extraSANs"] or cluster.endpoint.address is None
            )
            assert first["persistentClusterToken"] == JOIN_TOKEN_PLACEHOLDER
            assert first["extraConfigFiles"] == {
                "ha-conf": f"failure-domain={node.failure_domain}\n"
            }
            # each node advertises its own spec address, whatever the default route
            assert first["extraKubeAPIServerArgs"]["--advertise-address"] == node.address
        else:
            assert "extraSANs" not in first and "persistentClusterToken" not in first
            assert "extraKubeAPIServerArgs" not in first
        # the kubelet registers with the spec's address from its first start
        assert first["extraKubeletArgs"]["--node-ip"] == node.address
        if node == cluster.first:
            assert "join" not in first
            assert {"name": "dns"} in first["addons"]
        else:
            token = (
                JOIN_TOKEN_PLACEHOLDER
                if node.is_control_plane
                else f"__HACC_WORKER_TOKEN_{node.name}__"
            )
            assert first["join"] == {
                "url": f"{cluster.first.address}:25000/{token}",
                "worker": not node.is_control_plane,
            }
            assert "addons" not in first
            assert first["extraKubeletArgs"] == {"--node-ip": node.address}
            # the join replaces args/kubelet: the node IP and the spec's flags come after it
            after = {**dict(cluster.kubelet_args), "--node-ip": node.address}
            assert docs[1]["extraKubeletArgs"] == after and len(docs) == 2
        if node == cluster.first and cluster.kubelet_args:
            assert docs[-1]["extraKubeletArgs"] == dict(cluster.kubelet_args)
            assert len(docs) == 2


def test_launch_configuration_dns_disabled(tmp_path) -> None:
    text = EXAMPLES[0].read_text()
    spec = tmp_path / "s.yaml"
    line = "      - {name: hostpath-storage, disable: true}"
    assert line in text
    spec.write_text(replaced(text, line, "      - {name: dns, disable: true}"))
    cluster = analyze(spec).cluster
    assert cluster is not None
    arts = {a.path: a.content for a in render_cluster(cluster)}
    doc = load_all(arts[f"nodes/{cluster.first.name}/microk8s-launch.yaml"])[0]
    assert {"name": "dns", "disable": True} in doc["addons"]
    assert doc["extraKubeletArgs"] == {"--node-ip": cluster.first.address}


def test_workers_pinned_to_the_vip() -> None:
    cluster, _ = compiled("keepalived-haproxy")
    assert cluster.worker_endpoint == "vip"
    doc = user_data("keepalived-haproxy", "w1")
    paths = [f["path"] for f in doc["write_files"]]
    provider = next(f["content"] for f in doc["write_files"] if f["path"].endswith("provider.yaml"))
    assert f'address: "{cluster.endpoint.address}:{cluster.endpoint.port}"' in provider
    assert "/etc/haproxy/haproxy.cfg" not in paths and "packages" not in doc
    assert launch_docs("keepalived-haproxy", "w1")[1]["extraMicroK8sAPIServerProxyArgs"] == {
        "--refresh-interval": "0s"
    }
    # local-proxy workers keep MicroK8s's endpoint refresh
    assert all(
        "extraMicroK8sAPIServerProxyArgs" not in d for d in launch_docs("external-lb", "worker-a1")
    )


def test_keepalived_haproxy_node_files() -> None:
    cluster, arts = compiled("keepalived-haproxy")
    by_path = {a.path: a.content for a in arts}
    priorities = []
    for node in cluster.control_plane:
        ka = by_path[f"nodes/{node.name}/keepalived.conf"]
        hp = by_path[f"nodes/{node.name}/haproxy.cfg"]
        assert f"unicast_src_ip {node.address}" in ka
        peers = {p.address for p in cluster.control_plane if p != node}
        assert {line.strip() for line in ka.splitlines()} >= peers
        assert f"{cluster.endpoint.address}/32 dev {node.interface}" in ka
        for keyword in (
            "enable_script_security",
            "script_user root",
            "vrrp_higher_prio_send_advert true",
            "state BACKUP",
            "weight 0",
        ):
            assert keyword in ka
        assert "nopreempt" not in ka and "authentication" not in ka
        priorities.append(int(re.search(r"^ +priority (\d+)$", ka, re.M).group(1)))
        assert "bind *:8443" in hp and ":16443\n" not in hp.split("backend")[0]
        for server in cluster.control_plane:
            assert f"server {server.name} {server.address}:16443" in hp
        for keyword in (
            "mode tcp",
            "option httpchk GET /readyz",
            "check check-ssl verify none",
            "on-marked-down shutdown-sessions",
            "timeout tunnel",
            "option redispatch",
            "bind 127.0.0.1:8404",
            "prometheus-exporter",
        ):
            assert keyword in hp
    assert len(set(priorities)) == len(priorities), "priorities never tie"


def test_fractional_advert_uses_vrrp3(tmp_path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        replaced(
            (REPO / "examples" / "keepalived-haproxy.yaml").read_text(),
            "keepalived: {virtualRouterId: 51}",
            "keepalived: {virtualRouterId: 51, advertInterval: 0.2}",
        )
    )
    arts = {a.path: a.content for a in render_cluster(analyze(spec).cluster)}
    ka = arts["nodes/cp1/keepalived.conf"]
    assert "vrrp_version 3" in ka and "advert_int 0.2\n" in ka


def test_kube_vip_manifests() -> None:
    cluster, arts = compiled("kube-vip")
    by_path = {a.path: a.content for a in arts}
    (ds,) = load_all(by_path["manifests/kube-vip/daemonset.yaml"])
    pod = ds["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert (
        env["port"] == "16443"
        and env["vip_subnet"] == "32"
        and env["address"] == cluster.endpoint.address
    )
    assert "vip_cidr" not in env and "vip_address" not in env
    assert pod["nodeSelector"] == {
        "node.kubernetes.io/microk8s-controlplane": "microk8s-controlplane"
    }
    assert pod["hostNetwork"] is True and pod["serviceAccountName"] == "kube-vip"
    assert pod["containers"][0]["image"] == "ghcr.io/kube-vip/kube-vip:v1.2.3"
    caps = pod["containers"][0]["securityContext"]["capabilities"]
    assert caps == {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}
    # Monitoring objects stay out: their kinds need a Prometheus Operator (RUNBOOK.md section 8).
    assert load_all(by_path["manifests/kustomization.yaml"])[0]["resources"] == ["kube-vip"]
    assert not any(
        p.startswith("manifests/") and "kube-vip" in p
        for p in (a.path for a in compiled("external-lb")[1])
    )


def test_manifests_hold_only_kubernetes_objects() -> None:
    for _, artifact in ALL:
        if artifact.path.startswith("manifests/"):
            for doc in load_all(artifact.content):
                assert "apiVersion" in doc and "kind" in doc


def test_external_targets() -> None:
    cluster, arts = compiled("external-lb")
    (doc,) = load_all(next(a.content for a in arts if a.path == "loadbalancer-targets.yaml"))
    assert [t["address"] for t in doc["targets"]] == [n.address for n in cluster.control_plane]
    assert all(t["port"] == 16443 for t in doc["targets"])
    assert doc["healthCheck"]["path"] == "/readyz" and doc["listener"]["port"] == 6443


def test_day2_files() -> None:
    cluster, arts = compiled("keepalived-haproxy")
    by_path = {a.path: a.content for a in arts}
    overlay = by_path["nodes/cp1/apiserver-args.overlay"]
    assert "set --authorization-mode=RBAC,Node\n" in overlay and "unset --event-ttl\n" in overlay
    script = by_path["nodes/cp1/apply-day2.sh"]
    assert script.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in script
    for san in cluster.sans:
        assert f"\n{san}\n" in script
    assert "--tls-san" not in script


def test_gitops_objects() -> None:
    _, arts = compiled("external-lb")
    by_path = {a.path: a.content for a in arts}
    (app,) = load_all(by_path["gitops/argocd-application.yaml"])
    assert app["spec"]["source"]["path"] == "clusters/prod/cloud-fra-prod/manifests"
    repo, ks = load_all(by_path["gitops/flux-kustomization.yaml"])
    assert repo["spec"]["url"] == "ssh://git@git.example.com/platform/fleet.git"
    assert ks["spec"]["path"] == "./clusters/prod/cloud-fra-prod/manifests"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_runbook_uses_real_values(path) -> None:
    cluster, arts = compiled(path.stem)
    text = next(a.content for a in arts if a.path == "RUNBOOK.md")
    for needle in [
        cluster.name,
        cluster.first.address,
        "remove-node <name> --force",
        "refresh-certs -c",
        "high-availability: yes",
        "--tls-san",
        "openssl s_client",
        "no-cert-reissue",
        "0.0.0.0",
    ]:
        assert needle in text, needle
    for node in cluster.nodes:
        assert node.address in text


SECTION_TOPICS = {
    "1": "Bootstrap order",
    "2": "Verify",
    "3": "Add and remove",
    "4": "Rolling upgrades",
    "5": "SAN and apiserver-flag",
    "6": "Certificate expiry",
    "7": "Health checks",
    "8": "Monitoring",
    "9": "Troubleshooting",
    "10": "Join tokens",
    "11": "Labels, taints, proxy",
    "12": "Backups",
    "13": "Quorum loss",
    "14": "Power maintenance",
    "15": "Certificates: a rolling",
}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_runbook_section_references_point_at_the_right_section(path) -> None:
    from hacc.targets.artifact import KINDS, impact

    _, arts = compiled(path.stem)
    text = next(a.content for a in arts if a.path == "RUNBOOK.md")
    headings = dict(re.findall(r"^## (\d+)\. (.+)$", text, re.M))
    hints = " ".join(
        impact(kind, node, a)[1]
        for kind in KINDS.values()
        for node in ("x", None)
        for a in ("create", "update", "remove")
    )
    # The bootstrap scripts' errors name sections too.
    scripts = " ".join(a.content for a in arts if a.path.endswith("/user-data.yaml"))
    refs = set(re.findall(r"section (\d+)", text + hints + scripts))
    refs |= set(re.findall(r"die (\d+) ", scripts))
    assert refs
    for ref in refs:
        assert headings[ref].startswith(SECTION_TOPICS[ref]), (ref, headings.get(ref))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_runbook_opens_with_a_diagram_of_the_cluster(path) -> None:
    cluster, arts = compiled(path.stem)
    text = next(a.content for a in arts if a.path == "RUNBOOK.md")
    start = text.index("```mermaid\n")
    assert start < text.index("## 1."), "the diagram comes before the first section"
    body = text[start + len("```mermaid\n") : text.index("\n```", start)].splitlines()
    assert body[0] == "flowchart TB"
    defined = {m.group(1) for line in body if (m := re.match(r"\s+(\w+)[\[\(\{]", line))}
    for line in body:
        assert line.count('"') % 2 == 0, line
        if m := re.match(r"\s+(\w+) -.?->\|\"[^\"]*\"\| (\w+)$", line):
            assert {m.group(1), m.group(2)} <= defined | {"control", "workers"}, line
    for n in cluster.nodes:
        assert any(f'"{n.name}<br/>{n.address}' in line for line in body), n.name
    # every node but the first joins it: the other control-plane nodes one edge each, the
    # workers one edge from their subgraph; the label is drawn once
    first = next(line for line in body if f'"{cluster.first.name}<br/>' in line)
    n0 = first.split("[")[0].strip()
    joins = [line for line in body if re.match(rf"\s+\w+ -\.->(\|[^|]*\|)? {n0}$", line)]
    assert len(joins) == len(cluster.control_plane) - 1 + (1 if cluster.workers else 0)
    assert sum("joins at first boot" in line for line in body) == 1
    if cluster.endpoint.address:
        assert any(cluster.endpoint.address in line for line in body if "ep" in line)
