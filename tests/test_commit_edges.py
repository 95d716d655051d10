"""`hacc build --commit` where Git gets in the way: hooks that fail or stage files, signing,
ignored output, a detached HEAD or a bisect, and a retry after a failed attempt."""

from __future__ import annotations

import stat
from pathlib import Path

import git
import pytest

from conftest import KEEPALIVED_EXAMPLE, replaced

W2 = "      - {name: w2, address: 198.18.10.22, interface: ens4}\n"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    for key, value in {
        "GIT_AUTHOR_NAME": "hacc tests",
        "GIT_AUTHOR_EMAIL": "tests@hacc.invalid",
        "GIT_COMMITTER_NAME": "hacc tests",
        "GIT_COMMITTER_EMAIL": "tests@hacc.invalid",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }.items():
        monkeypatch.setenv(key, value)
    r = git.Repo.init(tmp_path / "gitops")
    (tmp_path / "gitops" / "README.md").write_text("fleet\n")
    r.index.add(["README.md"])
    r.index.commit("init")
    return r


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "ha-cluster.yaml"
    text = KEEPALIVED_EXAMPLE.read_text()
    assert W2 in text
    path.write_text(text)
    return path


def hook(repo, name: str, body: str) -> None:
    path = Path(repo.git_dir) / "hooks" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def out(repo) -> Path:
    return Path(repo.working_tree_dir) / "clusters"


def test_a_failing_hook_leaves_nothing_staged_and_the_retry_commits_the_removals(
    hacc, repo, spec
) -> None:
    assert hacc("build", "--commit", str(spec), "-o", str(out(repo))).code == 0
    spec.write_text(replaced(spec.read_text(), W2, ""))
    hook(repo, "pre-commit", "echo 'policy says no' >&2\nexit 1\n")
    r = hacc("build", "--commit", str(spec), "-o", str(out(repo)))
    assert r.code == 1 and "git commit failed" in r.err and "policy says no" in r.err
    assert "internal error" not in r.err
    assert repo.git.diff("--cached", "--name-only") == ""
    assert not (out(repo) / "edge-paris-01/nodes/w2").exists()  # written, not committed
    (Path(repo.git_dir) / "hooks" / "pre-commit").unlink()
    r = hacc("build", "--commit", str(spec), "-o", str(out(repo)), "-m", "drop w2")
    assert r.code == 0, r.err
    changed = set(repo.head.commit.stats.files)
    assert "clusters/edge-paris-01/nodes/w2/user-data.yaml" in changed
    assert not any("nodes/w2/" in f for f in repo.git.ls_files().splitlines())


def test_a_hook_that_stages_another_file_is_reported(hacc, repo, spec) -> None:
    (Path(repo.working_tree_dir) / "notes.txt").write_text("mine\n")
    hook(repo, "pre-commit", "git add notes.txt\n")
    r = hacc("build", "--commit", str(spec), "-o", str(out(repo)))
    assert r.code == 1 and "also holds notes.txt" in r.err


def test_signing_follows_the_repository_configuration(hacc, repo, spec, tmp_path) -> None:
    fake_gpg = tmp_path / "fake-gpg"
    fake_gpg.write_text(
        "#!/bin/sh\ncat > /dev/null\n"
        "printf '\\n[GNUPG:] SIG_CREATED D 1 8 00 0 0\\n' >&2\n"
        "printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nZmFrZQ==\\n-----END PGP SIGNATURE-----\\n'\n"
    )
    fake_gpg.chmod(0o755)
    with repo.config_writer() as cfg:
        cfg.set_value("commit", "gpgsign", "true")
        cfg.set_value("gpg", "program", str(fake_gpg))
        cfg.set_value("user", "signingkey", "ABCDEF")
    r = hacc("build", "--commit", str(spec), "-o", str(out(repo)))
    assert r.code == 0, r.err
    assert repo.head.commit.gpgsig and "BEGIN PGP SIGNATURE" in repo.head.commit.gpgsig


def test_ignored_output_is_refused_before_anything_is_written(hacc, repo, spec) -> None:
    (Path(repo.working_tree_dir) / ".gitignore").write_text("clusters/\n")
    r = hacc("build", "--commit", str(spec), "-o", str(out(repo)))
    assert r.code == 1 and "Git ignores" in r.err
    assert not [p for p in out(repo).rglob("*") if p.is_file()]


@pytest.mark.parametrize("state", ["detached", "bisect"])
def test_detached_head_and_bisect_are_refused(hacc, repo, spec, state) -> None:
    if state == "detached":
        repo.git.checkout("--detach")
    else:
        repo.git.bisect("start")
    r = hacc("build", "--commit", str(spec), "-o", str(out(repo)))
    assert r.code == 1 and ("detached" in r.err or "bisect" in r.err)
    assert not out(repo).exists()
