"""`hacc kubeconfig`: a node's `microk8s config` output rewritten for the endpoint, checked with
the real kubectl (`kubectl config view`), and merged without disturbing other entries."""

from __future__ import annotations

import json
import stat

import pytest

from conftest import EXAMPLES, KEEPALIVED_EXAMPLE
from realtools import run, tool

# What `microk8s config` prints (microk8s-resources/client.config.template, filled in by
# scripts/wrappers/microk8s-config.wrapper): the node's own address and port 16443.
MICROK8S_CONFIG = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ==
    server: https://198.18.10.11:16443
  name: microk8s-cluster
contexts:
- context:
    cluster: microk8s-cluster
    user: admin
  name: microk8s
current-context: microk8s
kind: Config
preferences: {}
users:
- name: admin
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
"""

OTHER = """apiVersion: v1
kind: Config
clusters:
- name: laptop
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: me
  user: {token: abc}
contexts:
- name: laptop
  context: {cluster: laptop, user: me}
current-context: laptop
"""


def view(path, *args) -> dict:
    r = run(
        tool("kubectl"), "config", "view", "--raw", "-o", "json", "--kubeconfig", str(path), *args
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_a_node_kubeconfig_for_the_endpoint(hacc, tmp_path) -> None:
    source = tmp_path / "microk8s.config"
    source.write_text(MICROK8S_CONFIG)
    out = tmp_path / "edge.config"
    r = hacc("kubeconfig", str(KEEPALIVED_EXAMPLE), "--from", str(source), "-o", str(out))
    assert r.code == 0, r.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    config = view(out)
    assert config["current-context"] == "edge-paris-01"
    (cluster,) = config["clusters"]
    assert cluster["name"] == "edge-paris-01"
    assert cluster["cluster"]["server"] == "https://api.paris.example.com:8443"
    assert cluster["cluster"]["certificate-authority-data"].startswith("TFMw")
    (user,) = config["users"]
    assert user["name"] == "edge-paris-01-admin" and user["user"]["client-key-data"] == "a2V5"
    (context,) = config["contexts"]
    assert context["context"] == {"cluster": "edge-paris-01", "user": "edge-paris-01-admin"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_mode_points_at_its_endpoint(hacc, tmp_path, example) -> None:
    from hacc.compiler.frontend import analyze

    cluster = analyze(example).cluster
    source = tmp_path / "microk8s.config"
    source.write_text(MICROK8S_CONFIG)
    r = hacc("kubeconfig", str(example), "--from", str(source))
    assert r.code == 0, r.err
    (out := tmp_path / "k").write_text(r.out)
    ep = cluster.endpoint
    server = view(out)["clusters"][0]["cluster"]["server"]
    assert server == f"https://{ep.dns_name or ep.address}:{ep.port}"


def test_merge_keeps_other_entries_and_replaces_its_own(hacc, tmp_path) -> None:
    source = tmp_path / "microk8s.config"
    source.write_text(MICROK8S_CONFIG)
    target = tmp_path / "config"
    target.write_text(OTHER)
    args = ("kubeconfig", str(KEEPALIVED_EXAMPLE), "--from", str(source), "--merge", str(target))
    assert hacc(*args).code == 0
    config = view(target)
    assert sorted(c["name"] for c in config["clusters"]) == ["edge-paris-01", "laptop"]
    assert config["current-context"] == "laptop"  # not switched without --use-context
    assert {"name": "me", "user": {"token": "abc"}} in config["users"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # again, switching: replaced in place, not duplicated
    assert hacc(*args, "--use-context").code == 0
    config = view(target)
    assert sorted(c["name"] for c in config["clusters"]) == ["edge-paris-01", "laptop"]
    assert sorted(c["name"] for c in config["contexts"]) == ["edge-paris-01", "laptop"]
    assert config["current-context"] == "edge-paris-01"
    r = run(tool("kubectl"), "config", "get-contexts", "-o", "name", "--kubeconfig", str(target))
    assert r.stdout.split() == ["edge-paris-01", "laptop"]


def test_refuses_what_is_not_microk8s_config_output(hacc, tmp_path) -> None:
    bad = tmp_path / "bad"
    bad.write_text(OTHER.replace("users:", "users:\n- name: two\n  user: {token: x}"))
    r = hacc("kubeconfig", str(KEEPALIVED_EXAMPLE), "--from", str(bad))
    assert r.code == 1 and "exactly one entry in `users`" in r.err
    bad.write_text("just: text\n")
    assert "not a kubeconfig" in hacc("kubeconfig", str(KEEPALIVED_EXAMPLE), "--from", str(bad)).err


def test_refuses_an_endpoint_the_certificates_would_not_cover() -> None:
    from hacc.compiler.frontend import analyze
    from hacc.compiler.model import Endpoint
    from hacc.errors import HaccError
    from hacc.live.kubeconfig_file import parse, rewrite

    cluster = analyze(KEEPALIVED_EXAMPLE).cluster
    assert cluster is not None
    # a model whose endpoint is not among its SANs (the schema and checks never produce one)
    odd = cluster._replace(
        endpoint=Endpoint("198.18.10.100", "api.elsewhere.example.com", 8443), extra_sans=()
    )
    doc = parse(MICROK8S_CONFIG, "test")
    assert rewrite(cluster, doc)["clusters"][0]["cluster"]["server"].endswith(":8443")
    with pytest.raises(HaccError, match="not among the certificate SANs"):
        rewrite(_without_name(odd), doc)


def _without_name(cluster):
    """`cluster` whose SANs leave out its endpoint's DNS name."""

    class Narrow(type(cluster)):  # type: ignore[misc]
        @property
        def sans(self):
            return (self.endpoint.address,)

    return Narrow(*cluster)


def test_merge_never_blocks_on_a_fifo(hacc, tmp_path) -> None:
    import os

    source = tmp_path / "microk8s.config"
    source.write_text(MICROK8S_CONFIG)
    fifo = tmp_path / "config"
    os.mkfifo(fifo)
    r = hacc("kubeconfig", str(KEEPALIVED_EXAMPLE), "--from", str(source), "--merge", str(fifo))
    assert r.code == 1 and "is a FIFO; hacc reads and replaces regular files only" in r.err


CANARY_EXEC = """
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: sh
      args: ["-c", "touch @CANARY@"]
      interactiveMode: Never
"""


@pytest.mark.parametrize(
    "user, kept",
    [
        ("    token: abc123\n    username: admin\n", {"token": "abc123"}),
        (
            "    client-certificate-data: Y2VydA==\n    client-key-data: a2V5\n",
            {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"},
        ),
        (CANARY_EXEC, None),
        ("    auth-provider: {name: oidc, config: {idp-issuer-url: https://x.example}}\n", None),
        ("    client-certificate-data: Y2VydA==\n    client-key-data: a2V5\n" + CANARY_EXEC, None),
        ("    client-certificate: /etc/passwd\n    client-key: /etc/shadow\n", None),
        ("    token: abc\n    as: system:admin\n", None),
        ("    username: admin\n    password: secret\n", None),
        ("    client-key-data: a2V5\n", None),
    ],
    ids=["token", "certificate", "exec", "auth-provider", "cert-and-exec", "paths", "as",
         "password", "key-only"],
)  # fmt: skip
def test_only_the_credentials_microk8s_config_prints_are_copied(hacc, tmp_path, user, kept) -> None:
    """A tampered node's output must not make the workstation's next kubectl run a command."""
    canary = tmp_path / "canary"
    head = MICROK8S_CONFIG.split("  user:\n", maxsplit=1)[0]
    source = tmp_path / "microk8s.config"
    source.write_text(head + "  user:\n" + user.replace("@CANARY@", str(canary)))
    target = tmp_path / "config"
    target.write_text(OTHER)
    args = ("kubeconfig", str(KEEPALIVED_EXAMPLE), "--from", str(source), "--merge", str(target))
    r = hacc(*args, "--use-context")
    if kept is None:
        assert (r.code == 1 and "hacc copies only those" in r.err) or "must be text" in r.err, r.err
        assert target.read_text() == OTHER
    else:
        assert r.code == 0, r.err
        users = {u["name"]: u["user"] for u in view(target)["users"]}
        assert users["edge-paris-01-admin"] == kept
    # what the next kubectl does with the file: no credential plugin runs
    run(tool("kubectl"), "get", "ns", "--request-timeout=1s", "--kubeconfig", str(target),
        "--server", "https://127.0.0.1:9")  # fmt: skip
    assert not canary.exists()


def test_the_input_is_bounded(hacc, tmp_path) -> None:
    import subprocess
    import sys

    r = hacc("kubeconfig", str(KEEPALIVED_EXAMPLE), "--from", "/dev/zero")
    assert r.code == 1 and "more than 256 KiB" in r.err
    many = "".join(f"- name: u{i}\n  user: {{token: t{i}}}\n" for i in range(100_000))
    text = MICROK8S_CONFIG.replace("users:\n", "users:\n" + many)
    p = subprocess.run(
        [sys.executable, "-m", "hacc", "kubeconfig", str(KEEPALIVED_EXAMPLE)],
        input=text, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert p.returncode == 1 and "more than 256 KiB" in p.stderr, p.stderr


def test_root_merging_another_users_kubeconfig_keeps_its_owner(hacc, tmp_path) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root to own a file as another user")
    source = tmp_path / "microk8s.config"
    source.write_text(MICROK8S_CONFIG)
    target = tmp_path / "config"
    target.write_text(OTHER)
    os.chown(target, 4242, 4343)
    args = ("kubeconfig", str(KEEPALIVED_EXAMPLE), "--from", str(source), "--merge", str(target))
    assert hacc(*args).code == 0
    st = target.stat()
    assert (st.st_uid, st.st_gid) == (4242, 4343) and stat.S_IMODE(st.st_mode) == 0o600
