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
    "BISECT_LOG": "a bisect",
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


def secret_exposure(path: Path) -> str | None:
    """Why a secret written at `path` (a file, or a folder to write into) could reach Git, or
    None: the one check before hacc writes a token. Inside a work tree, the path must be ignored
    and nothing at or under it tracked: `git check-ignore` answers "not ignored" for a tracked
    file whatever .gitignore says, and `git commit -a` commits a tracked file however ignored."""
    import git

    path = path.resolve()  # where the bytes land: a link's target, in whichever work tree
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        repo = git.Repo(probe, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    if repo.bare or repo.working_tree_dir is None:
        return None
    root = Path(repo.working_tree_dir).resolve()
    if not path.is_relative_to(root):
        return None
    relative = path.relative_to(root)
    if not relative.parts:
        return f"is the Git work tree {root}"
    tracked = repo.git.ls_files("-z", "--cached", "--", f":(literal){relative.as_posix()}")
    if tracked:
        first = tracked.split("\0")[0]
        return (
            f"is tracked by the Git repository {root} ({first}), ignored or not: "
            f"`git rm --cached {first}` and commit, so that Git stops tracking it"
        )
    # git check-ignore answers for the folder itself (its own trailing-slash patterns included)
    if repo.ignored(str(relative), str(relative) + "/"):
        return None
    return f"is inside the Git work tree {root} and not ignored"


def ensure_committable(repo: Any) -> None:
    """Refuse a repository in the middle of an operation, or with changes already staged."""
    git_dir = Path(repo.git_dir)
    for marker, what in IN_PROGRESS.items():
        if (git_dir / marker).exists():
            raise HaccError(
                f"{repo.working_tree_dir} is in the middle of {what}; finish or abort it first"
            )
    if repo.head.is_detached:
        raise HaccError(
            f"{repo.working_tree_dir} has a detached HEAD; check out a branch so hacc's commit "
            "is not lost"
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


def _rel(repo: Any, p: Path) -> str:
    root = Path(repo.working_tree_dir).resolve()
    try:
        return Path(p).resolve().relative_to(root).as_posix()
    except ValueError as e:
        raise HaccError(f"{p} is outside the repository {root}") from e


def ensure_not_ignored(repo: Any, paths: list[Path]) -> None:
    """Refuse before writing when Git ignores files hacc would commit: they would be left out."""
    ignored = repo.ignored(*[_rel(repo, p) for p in paths]) if paths else []
    if ignored:
        shown = ", ".join(sorted(ignored)[:3]) + (" ..." if len(ignored) > 3 else "")
        raise HaccError(
            f"Git ignores files hacc would commit ({shown}); stop ignoring OUT, or build "
            "without --commit"
        )


def _owned_at_head(repo: Any, folders: list[Path]) -> list[str]:
    """Files hacc owned at HEAD in these cluster folders (from the committed state files)."""
    import json

    import git

    owned: list[str] = []
    for folder in folders:
        state = f"{_rel(repo, folder)}/.hacc-state.json"
        try:
            files = json.loads(repo.git.show(f"HEAD:{state}")).get("files", {})
        except (git.GitCommandError, ValueError, AttributeError):
            continue
        owned += [f"{_rel(repo, folder)}/{f}" for f in files if isinstance(f, str)]
    return owned


def commit_paths(
    repo: Any, folders: list[Path], written: list[Path], removed: list[Path], message: str
) -> str | None:
    """Stage exactly hacc's paths and commit with Git itself (hooks and signing as configured);
    None when that changes nothing. Removals include files hacc owned at HEAD that a failed
    earlier attempt already deleted from disk."""
    import git

    root = Path(repo.working_tree_dir).resolve()
    add = [_rel(repo, p) for p in written]
    tracked = set(repo.git.ls_files().splitlines()) if repo.head.is_valid() else set()
    gone = {_rel(repo, p) for p in removed} | set(_owned_at_head(repo, folders))
    gone = {g for g in gone if g in tracked and not (root / g).exists()}
    paths = sorted(set(add) | gone)
    try:
        if add:
            repo.git.add("--", *add)
        if gone:
            repo.git.rm("--cached", "--quiet", "--", *sorted(gone))
        if not staged_paths(repo):
            return None
        repo.git.commit("-m", message)
    except git.GitCommandError as e:
        if paths:
            repo.git.reset("--quiet", "--", *paths)  # leave nothing of hacc's staged
        detail = (e.stderr or "").strip().splitlines()[-3:]
        raise HaccError(
            "git commit failed, nothing committed and hacc's files unstaged: "
            + " / ".join(line.strip() for line in detail if line.strip())
        ) from e
    committed = set(repo.git.diff_tree("--no-commit-id", "--name-only", "-r", "HEAD").splitlines())
    extra = sorted(committed - set(paths))
    if extra:
        raise HaccError(
            f"the commit {repo.head.commit.hexsha[:12]} also holds {', '.join(extra[:5])}, added "
            "by a commit hook; amend it to keep hacc's commit to hacc's files"
        )
    return str(repo.head.commit.hexsha)
