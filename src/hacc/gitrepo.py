"""Everything hacc does with Git, in one module (GitPython is imported here only, and lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hacc.errors import HaccError

IN_PROGRESS = {
    "MERGE_HEAD": "a merge",
    "rebase-merge": "a rebase",
    "rebase-apply": "a rebase or git am",
    "CHERRY_PICK_HEAD": "a cherry-pick",
    "REVERT_HEAD": "a revert",
}


def open_repo(path: Path) -> Any:
    import git

    probe = path
    while not probe.exists() and probe != probe.parent:  # OUT may not exist yet
        probe = probe.parent
    try:
        return git.Repo(probe, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
        raise HaccError(f"{path} is not inside a Git repository (pass --repo)") from e


def inside_unignored_worktree(path: Path) -> Path | None:
    """The work tree `path` would land in without being ignored, or None."""
    import git

    probe = path
    while not probe.exists():
        probe = probe.parent
    try:
        repo = git.Repo(probe, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    if repo.bare or repo.working_tree_dir is None:
        return None
    root = Path(repo.working_tree_dir).resolve()
    relative = path.resolve().relative_to(root)
    if not relative.parts:
        return root
    # git check-ignore answers for the folder itself (its own trailing-slash patterns included)
    ignored = repo.ignored(str(relative), str(relative) + "/")
    return None if ignored else root


def ensure_committable(repo: Any) -> None:
    """Refuse a repository in the middle of an operation, or with changes already staged."""
    git_dir = Path(repo.git_dir)
    for marker, what in IN_PROGRESS.items():
        if (git_dir / marker).exists():
            raise HaccError(
                f"{repo.working_tree_dir} is in the middle of {what}; finish or abort it first"
            )
    staged = staged_paths(repo)
    if staged:
        shown = ", ".join(staged[:5]) + (" ..." if len(staged) > 5 else "")
        raise HaccError(
            f"changes are already staged in {repo.working_tree_dir} ({shown}); "
            "commit or unstage them first, so hacc's commit holds only hacc's files"
        )


def ensure_inside(repo: Any, path: Path) -> None:
    root = Path(repo.working_tree_dir).resolve()
    if not path.resolve().is_relative_to(root):
        raise HaccError(f"{path} is outside the repository {root}; pass an OUT inside it")


def staged_paths(repo: Any) -> list[str]:
    if repo.head.is_valid():
        return sorted({d.a_path or d.b_path for d in repo.index.diff("HEAD")})
    return sorted(str(path) for path, _stage in repo.index.entries)


def commit_paths(repo: Any, written: list[Path], removed: list[Path], message: str) -> str | None:
    """Stage exactly these paths and commit; None when that changes nothing."""
    root = Path(repo.working_tree_dir).resolve()

    def rel(p: Path) -> str:
        try:
            return str(p.resolve().relative_to(root))
        except ValueError as e:
            raise HaccError(f"{p} is outside the repository {root}") from e

    if written:
        repo.index.add([rel(p) for p in written])
    tracked = {str(path) for path, _stage in repo.index.entries}
    gone = [rel(p) for p in removed if rel(p) in tracked]
    if gone:
        repo.index.remove(gone, working_tree=False)
    if not staged_paths(repo):
        return None
    commit = repo.index.commit(message)
    return str(commit.hexsha)
