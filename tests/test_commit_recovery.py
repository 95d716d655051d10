"""`build --commit` with real Git: a run killed between staging and committing is undone by the
next, the specs that built the output are committed with it (so the commit passes `build
--check`), and Git's own troubles (a lock file, no git at all) are clear errors."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import git
import pytest

from conftest import KEEPALIVED_EXAMPLE, replaced, run_hacc

GIT_ENV = {
    "GIT_AUTHOR_NAME": "hacc tests",
    "GIT_AUTHOR_EMAIL": "tests@hacc.invalid",
    "GIT_COMMITTER_NAME": "hacc tests",
    "GIT_COMMITTER_EMAIL": "tests@hacc.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}
# hacc, killed when it asks Git to commit: after staging, before the commit.
KILLED_AT_COMMIT = """
import os, signal, sys
import git.cmd
from hacc.cli.main import main
real = git.cmd.Git._call_process
def call(self, method, *args, **kwargs):
    if method == "commit":
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, method, *args, **kwargs)
git.cmd.Git._call_process = call
main(sys.argv[1:])
"""


@pytest.fixture
def repo(tmp_path, monkeypatch) -> git.Repo:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    r = git.Repo.init(tmp_path / "gitops", initial_branch="main")
    (tmp_path / "gitops" / "README.md").write_text("fleet\n")
    r.index.add(["README.md"])
    r.index.commit("init")
    return r


def root(repo: git.Repo) -> Path:
    return Path(str(repo.working_tree_dir))


def staged(repo: git.Repo) -> list[str]:
    return repo.git.diff("--cached", "--name-only").splitlines()


def test_a_build_killed_before_its_commit_is_undone_by_the_next(repo, tmp_path) -> None:
    spec = tmp_path / "c.yaml"  # outside the repository: only the output is committed
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    out = root(repo) / "clusters"
    argv = ["build", "--commit", str(spec), "-o", str(out)]
    env = {**os.environ, **GIT_ENV}
    p = subprocess.run(
        [sys.executable, "-c", KILLED_AT_COMMIT, *argv],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert p.returncode == -signal.SIGKILL, p.stderr
    left = staged(repo)
    assert "clusters/edge-paris-01/.hacc-state.json" in left and len(left) == 52
    head = repo.head.commit
    r = run_hacc(*argv, env=env)
    assert r.returncode == 0, r.stderr
    assert "staged by a hacc build --commit that was killed" in r.stderr
    assert repo.head.commit != head and staged(repo) == []
    assert set(repo.head.commit.stats.files) == set(left)
    assert not (Path(repo.git_dir) / "hacc-commit").exists()


def test_after_a_kill_other_staged_changes_are_still_refused(repo, tmp_path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    out = root(repo) / "clusters"
    argv = ["build", "--commit", str(spec), "-o", str(out)]
    env = {**os.environ, **GIT_ENV}
    subprocess.run(
        [sys.executable, "-c", KILLED_AT_COMMIT, *argv], env=env, timeout=300, check=False
    )
    (root(repo) / "README.md").write_text("changed\n")
    repo.index.add(["README.md"])
    r = run_hacc(*argv, env=env)
    assert r.returncode == 1 and "already staged" in r.stderr and "README.md" in r.stderr
    assert staged(repo) == ["README.md"]  # hacc's own staging undone, the user's kept


@pytest.mark.parametrize("how", ["new", "staged", "changed"])
def test_the_specs_are_committed_with_their_output(hacc, repo, how) -> None:
    spec = root(repo) / "specs" / "paris.yaml"
    spec.parent.mkdir()
    text = KEEPALIVED_EXAMPLE.read_text()
    if how != "new":
        spec.write_text(text)
        repo.index.add(["specs/paris.yaml"])
        repo.index.commit("the spec")
        text = replaced(text, '--audit-log-maxage: "30"', '--audit-log-maxage: "31"')
    spec.write_text(text)
    if how == "staged":
        repo.index.add(["specs/paris.yaml"])
    out = root(repo) / "clusters"
    r = hacc("build", "--commit", str(spec), "-o", str(out))
    assert r.code == 0, r.err
    assert "specs/paris.yaml" in repo.head.commit.stats.files
    assert not repo.is_dirty(untracked_files=False)
    clone = git.Repo.clone_from(root(repo), root(repo).parent / "clone")
    r = hacc("build", "--check", "-o", str(Path(str(clone.working_tree_dir)) / "clusters"))
    assert r.code == 0, r.err


def test_a_spec_staged_otherwise_than_compiled_is_not_committed(hacc, repo, monkeypatch) -> None:
    from hacc.outdir import gitrepo

    spec = root(repo) / "paris.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    real = gitrepo._staged_digest
    monkeypatch.setattr(gitrepo, "_staged_digest", lambda r, rel: "sha256:" + "0" * 64)
    head = repo.head.commit
    r = hacc("build", "--commit", str(spec), "-o", str(root(repo) / "clusters"))
    assert r.code == 1 and "paris.yaml changed while hacc built it" in r.err
    assert repo.head.commit == head and staged(repo) == []
    monkeypatch.setattr(gitrepo, "_staged_digest", real)


def test_a_stale_index_lock_is_a_clear_error(hacc, repo, tmp_path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    (Path(repo.git_dir) / "index.lock").write_text("")
    r = hacc("build", "--commit", str(spec), "-o", str(root(repo) / "clusters"))
    assert r.code == 1 and "index.lock exists" in r.err and "remove that file" in r.err
    assert not (root(repo) / "clusters").exists()


def test_git_missing_from_path_is_a_clear_error(repo, tmp_path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    bare = tmp_path / "bin"
    bare.mkdir()
    os.symlink(sys.executable, bare / "python3")
    assert shutil.which("git", path=str(bare)) is None
    env = {**os.environ, "PATH": str(bare)}
    env.pop("GIT_PYTHON_GIT_EXECUTABLE", None)
    r = run_hacc("build", "--commit", str(spec), "-o", str(root(repo) / "clusters"), env=env)
    assert r.returncode == 1, r.stderr
    assert "git is not installed or not on PATH" in r.stderr and "Traceback" not in r.stderr


def test_materialize_without_git_refuses_only_inside_a_work_tree(repo, tmp_path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    os.symlink(sys.executable, bare / "python3")
    env = {**os.environ, "PATH": str(bare), "HACC_JOIN_TOKEN": "0123456789abcdef0123456789abcdef"}
    env.pop("GIT_PYTHON_GIT_EXECUTABLE", None)
    argv = ["materialize", str(KEEPALIVED_EXAMPLE), "-o"]
    r = run_hacc(*argv, str(tmp_path / "private"), env=env)
    assert r.returncode == 0, r.stderr  # no work tree above: nothing to leak into
    r = run_hacc(*argv, str(root(repo) / "private"), env=env)
    assert r.returncode == 1 and "git is not installed or not on PATH" in r.stderr
    assert not (root(repo) / "private").exists()
