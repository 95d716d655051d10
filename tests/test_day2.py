"""apply-day2.sh against a fake MicroK8s tree made of MicroK8s's real default files, and the
certificates openssl issues from what it (and the launch configuration) leaves behind."""

from __future__ import annotations

import ipaddress
import re
import shutil
from pathlib import Path

import pytest
import yaml

from artifacts import with_apiserver_args
from conftest import REPO, replaced
from hacc.compiler.frontend import analyze
from hacc.targets import render_cluster
from realtools import run, tool

DEFAULTS = REPO / "tests" / "fixtures" / "microk8s"
GATES = "--feature-gates: ListFromCacheSnapshot=true,MyGate=true"


@pytest.fixture
def day2(tmp_path: Path):
    """The spec example plus a --feature-gates overlay, compiled; a fake tree; a runner."""
    cluster = with_apiserver_args(tmp_path, f"      {GATES}\n")
    arts = {a.path: a for a in render_cluster(cluster)}
    script = tmp_path / "apply-day2.sh"
    script.write_text(arts["nodes/cp2/apply-day2.sh"].content)
    snap = tmp_path / "snap"
    (snap / "args").mkdir(parents=True)
    (snap / "certs").mkdir()
    shutil.copy(DEFAULTS / "kube-apiserver", snap / "args" / "kube-apiserver")
    shutil.copy(DEFAULTS / "csr.conf.template", snap / "certs" / "csr.conf.template")
    calls = tmp_path / "calls"
    fake = tmp_path / "fake-command"
    fake.write_text(f'#!/bin/sh\necho "$(basename "$0") $*" >> "{calls}"\n')
    fake.chmod(0o755)
    (tmp_path / "microk8s").symlink_to(fake)
    (tmp_path / "snap-cmd").symlink_to(fake)
    curl = tmp_path / "curl"  # the apiserver answers /readyz (tests/test_day2_bench.py: a real one)
    curl.write_text("#!/bin/sh\nprintf 200\n")
    curl.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "HACC_SNAP_DATA": str(snap),
        "HACC_MICROK8S": str(tmp_path / "microk8s"),
        "HACC_SNAP": str(tmp_path / "snap-cmd"),
        "HACC_CURL": str(curl),
    }

    def apply(*args: str):
        return run("bash", str(script), *args, env=env)

    return cluster, snap, calls, apply


def args_lines(snap: Path) -> list[str]:
    return (snap / "args" / "kube-apiserver").read_text().splitlines()


def test_dry_run_changes_nothing(day2) -> None:
    _, snap, calls, apply = day2
    before = {p: p.read_bytes() for p in snap.rglob("*") if p.is_file()}
    r = apply("--dry-run")
    assert r.returncode == 0, r.stderr
    assert "would update" in r.stdout and "would run: " in r.stdout
    assert {p: p.read_bytes() for p in snap.rglob("*") if p.is_file()} == before
    assert not calls.exists()


def test_real_run_edits_single_lines_then_nothing(day2) -> None:
    cluster, snap, calls, apply = day2
    original = args_lines(snap)
    r = apply()
    assert r.returncode == 0, r.stderr
    lines = args_lines(snap)
    assert (
        "--authorization-mode=RBAC,Node" in lines
        and "--authorization-mode=AlwaysAllow" not in lines
    )
    assert "--audit-log-maxage=30" in lines
    assert not any(line.startswith("--event-ttl") for line in lines)
    gates = [line for line in lines if line.startswith("--feature-gates")]
    assert gates == [
        "--feature-gates=ListFromCacheSnapshot=true,SizeBasedListCostEstimate=false,"
        "DetectCacheInconsistency=false,MyGate=true"
    ]
    untouched = [
        line
        for line in original
        if not line.startswith(("--authorization-mode", "--event-ttl", "--feature-gates"))
    ]
    assert [line for line in lines if line in untouched] == untouched, (
        "every other line kept, in order"
    )
    csr = (snap / "certs" / "csr.conf.template").read_text()
    alt = csr.split("[ alt_names ]")[1].split("#MOREIPS")[0]
    for san in cluster.sans:
        assert re.search(rf"^(DNS|IP)\.\d+ = {re.escape(san)}$", alt, re.M), san
    assert "#MOREIPS" in csr
    assert calls.read_text() == "microk8s refresh-certs --cert server.crt\n"
    backups = list(snap.rglob("*.hacc-backup-*"))
    assert len(backups) == 2
    # a second run changes nothing and restarts nothing
    r2 = apply()
    assert r2.returncode == 0 and "nothing to do" in r2.stdout
    assert args_lines(snap) == lines
    assert calls.read_text() == "microk8s refresh-certs --cert server.crt\n"
    assert len(list(snap.rglob("*.hacc-backup-*"))) == 2


def test_flags_only_restart_kubelite(day2) -> None:
    _, snap, calls, apply = day2
    assert apply().returncode == 0
    calls.unlink()
    (snap / "args" / "kube-apiserver").write_text(
        replaced(
            (snap / "args" / "kube-apiserver").read_text(),
            "--audit-log-maxage=30",
            "--audit-log-maxage=7",
        )
    )
    assert apply().returncode == 0
    assert calls.read_text() == "snap-cmd restart microk8s.daemon-kubelite\n"


def test_refuses_a_tree_it_does_not_understand(day2) -> None:
    _, snap, _, apply = day2
    (snap / "certs" / "csr.conf.template").write_text("[ alt_names ]\nDNS.1 = kubernetes\n")
    r = apply()
    assert r.returncode == 1 and "#MOREIPS" in r.stderr
    assert apply("--bogus").returncode == 2


# -- certificates ----------------------------------------------------------------------------


def issue_cert(conf: Path, tmp: Path) -> str:
    """Issue a server certificate the way MicroK8s does (utils.sh gen_server_cert) and print its SANs."""
    openssl = tool("openssl")
    tmp.mkdir(exist_ok=True)
    ca_key, ca_crt = tmp / "ca.key", tmp / "ca.crt"
    key, csr, crt = tmp / "server.key", tmp / "server.csr", tmp / "server.crt"
    steps = [
        [openssl, "genrsa", "-out", str(ca_key), "2048"],
        [
            openssl,
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-key",
            str(ca_key),
            "-subj",
            "/CN=10.152.183.1",
            "-days",
            "2",
            "-out",
            str(ca_crt),
        ],
        [openssl, "genrsa", "-out", str(key), "2048"],
        [openssl, "req", "-new", "-key", str(key), "-out", str(csr), "-config", str(conf)],
        [
            openssl,
            "x509",
            "-req",
            "-sha256",
            "-in",
            str(csr),
            "-CA",
            str(ca_crt),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-out",
            str(crt),
            "-days",
            "2",
            "-extensions",
            "v3_ext",
            "-extfile",
            str(conf),
        ],
    ]
    for argv in steps:
        r = run(*argv)
        assert r.returncode == 0, (argv, r.stderr)
    r = run(openssl, "x509", "-in", str(crt), "-noout", "-ext", "subjectAltName")
    assert r.returncode == 0, r.stderr
    return r.stdout


def assert_sans(text: str, sans: tuple[str, ...]) -> None:
    for san in sans:
        try:
            ipaddress.ip_address(san)
            assert f"IP Address:{san}" in text, san
        except ValueError:
            assert f"DNS:{san}" in text, san
    assert "DNS:kubernetes.default.svc" in text and "IP Address:127.0.0.1" in text


def render_moreips(conf: str) -> str:
    # MicroK8s replaces #MOREIPS with the host's addresses; none here.
    return conf.replace("#MOREIPS\n", "")


def test_certificate_from_day2_template_carries_every_san(day2, tmp_path) -> None:
    cluster, snap, _, apply = day2
    assert apply().returncode == 0
    conf = tmp_path / "csr.conf"
    conf.write_text(render_moreips((snap / "certs" / "csr.conf.template").read_text()))
    assert_sans(issue_cert(conf, tmp_path / "pki"), cluster.sans)


def generate_csr_conf(extra_sans: list[str]) -> str:
    """MicroK8s's own rendering of launch-configuration extraSANs (cluster-agent GenerateCSRConf)."""
    ips = ["127.0.0.1", "10.152.183.1"]
    dns = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster",
        "kubernetes.default.svc.cluster.local",
    ]
    for san in extra_sans:
        try:
            ipaddress.ip_address(san)
            ips.append(san)
        except ValueError:
            dns.append(san)
    alt = "".join(f"DNS.{i} = {d}\n" for i, d in enumerate(dns)) + "\n\n"
    alt += "".join(f"IP.{i} = {a}\n" for i, a in enumerate(ips))
    return (
        "\n[ req ]\ndefault_bits = 2048\nprompt = no\ndefault_md = sha256\nreq_extensions = req_ext\n"
        "distinguished_name = dn\n\n[ dn ]\nC = GB\nST = Canonical\nL = Canonical\nO = Canonical\n"
        "OU = Canonical\nCN = 127.0.0.1\n\n[ req_ext ]\nsubjectAltName = @alt_names\n\n[ alt_names ]\n"
        f"{alt}#MOREIPS\n\n[ v3_ext ]\nauthorityKeyIdentifier=keyid,issuer:always\nbasicConstraints=CA:FALSE\n"
        "keyUsage=keyEncipherment,dataEncipherment,digitalSignature\n"
        "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=@alt_names\n"
    )


@pytest.mark.parametrize("example", ["keepalived-haproxy", "kube-vip", "external-lb"])
def test_certificate_from_launch_configuration_carries_every_san(example, tmp_path) -> None:
    cluster = analyze(REPO / "examples" / f"{example}.yaml").cluster
    assert cluster is not None
    arts = {a.path: a.content for a in render_cluster(cluster)}
    for node in cluster.control_plane:
        (doc, *_) = yaml.safe_load_all(arts[f"nodes/{node.name}/microk8s-launch.yaml"])
        conf = tmp_path / f"{node.name}.conf"
        conf.write_text(render_moreips(generate_csr_conf(doc["extraSANs"])))
        assert_sans(issue_cert(conf, tmp_path / node.name), cluster.sans)


def test_certificate_harness_notices_a_missing_san(tmp_path) -> None:
    conf = tmp_path / "c.conf"
    conf.write_text(render_moreips(generate_csr_conf(["api.example.com"])))
    text = issue_cert(conf, tmp_path / "pki")
    with pytest.raises(AssertionError):
        assert_sans(text, ("api.example.com", "198.18.10.100"))


def test_feature_gates_added_when_the_release_has_none(day2) -> None:
    _, snap, _, apply = day2
    path = snap / "args" / "kube-apiserver"
    path.write_text(
        "".join(line + "\n" for line in args_lines(snap) if not line.startswith("--feature-gates"))
    )
    assert apply().returncode == 0
    assert args_lines(snap)[-1] == "--feature-gates=ListFromCacheSnapshot=true,MyGate=true"
