"""Everything hacc does with Git, in one module (GitPython is imported here only, and lazily)."""

from __future__ import annotations

import os
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


INTENT = "hacc-commit"  # in the Git folder: what a `build --commit` is staging
STAGED_SPEC_CHANGED = "changed while hacc built it"


def _git() -> Any:
    """GitPython, or a clear error when there is no git to run (GitPython's own is an
    ImportError at import time)."""
    try:
        import git
    except ImportError as e:
        raise HaccError(
            "git is not installed or not on PATH (GitPython needs it); install git, or set "
            "GIT_PYTHON_GIT_EXECUTABLE to its path"
        ) from e
    return git


def _has_git() -> bool:
    import shutil

    return bool(shutil.which(os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git"))


def open_repo(path: Path) -> Any:
    git = _git()

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
    path = path.resolve()  # where the bytes land: a link's target, in whichever work tree
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not _has_git():
        if any((p / ".git").exists() for p in (probe, *probe.parents)):
            _git()  # the clear error: cannot tell whether Git ignores `path`
        return None
    git = _git()
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


def ensure_committable(repo: Any, specs: list[Path]) -> list[str]:
    """Refuse a repository in the middle of an operation, or with changes already staged other
    than to `specs` (which hacc's commit includes). First undoes what a `build --commit`
    killed between staging and committing had staged (returned): the build stages it again."""
    git_dir = Path(repo.git_dir)
    for marker, what in IN_PROGRESS.items():
        if (git_dir / marker).exists():
            raise HaccError(
                f"{repo.working_tree_dir} is in the middle of {what}; finish or abort it first"
            )
    if (git_dir / "index.lock").exists():
        raise HaccError(
            f"{git_dir / 'index.lock'} exists: another git command is running in "
            f"{repo.working_tree_dir}, or one was killed; if none is running, remove that file"
        )
    if repo.head.is_detached:
        raise HaccError(
            f"{repo.working_tree_dir} has a detached HEAD; check out a branch so hacc's commit "
            "is not lost"
        )
    undone = _undo_interrupted(repo)
    own = set(_inside(repo, specs))
    staged = [p for p in staged_paths(repo) if p not in own]
    if staged:
        shown = ", ".join(staged[:5]) + (" ..." if len(staged) > 5 else "")
        raise HaccError(
            f"changes are already staged in {repo.working_tree_dir} ({shown}); "
            "commit or unstage them first, so hacc's commit holds only hacc's files"
        )
    return undone


def _inside(repo: Any, paths: list[Path]) -> list[str]:
    """`paths` that are in the work tree, relative to it (the others are not committed)."""
    return [rel for rel in (_in_tree(repo, p) for p in paths) if rel is not None]


def _in_tree(repo: Any, path: Path) -> str | None:
    root = Path(repo.working_tree_dir).resolve()
    resolved = Path(path).resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else None


def _intent(repo: Any) -> Path:
    return Path(repo.git_dir) / INTENT


def _undo_interrupted(repo: Any) -> list[str]:
    """Unstage what a killed `build --commit` had staged, as its intent record lists (paths
    staged since by someone else stay staged, and are refused as such)."""
    import json

    record = _intent(repo)
    try:
        paths = json.loads(record.read_text(encoding="utf-8")).get("paths")
    except FileNotFoundError:
        return []
    except (OSError, ValueError, AttributeError):
        paths = None
    if not (isinstance(paths, list) and all(isinstance(p, str) for p in paths)):
        raise HaccError(f"{record} is not hacc's; remove it")
    staged = set(staged_paths(repo))
    undo = sorted(p for p in paths if p in staged)
    if undo:
        repo.git.reset("--quiet", "--", *undo)
    record.unlink()
    return undo


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

    git = _git()
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
    repo: Any,
    folders: list[Path],
    written: list[Path],
    removed: list[Path],
    message: str,
    *,
    specs: dict[Path, str] | None = None,
) -> str | None:
    """Stage exactly hacc's paths, and the specs that built them (`specs`: path -> digest of the
    bytes compiled) that are in the work tree and not ignored, so the commit passes `build
    --check`; commit with Git itself (hooks and signing as configured); None when that changes
    nothing. Removals include files hacc owned at HEAD that a failed earlier attempt already
    deleted from disk. An intent record in the Git folder lists the paths while they are
    staged, for the next run to undo if this one is killed before it commits."""
    import json

    git = _git()
    root = Path(repo.working_tree_dir).resolve()
    sources: dict[str, str] = {}
    for spec, compiled in (specs or {}).items():
        rel = _in_tree(repo, spec)
        if rel is not None:  # a spec outside the work tree is not committed
            sources[rel] = compiled
    ignored = set(repo.ignored(*sources)) if sources else set()
    sources = {rel: d for rel, d in sources.items() if rel not in ignored}
    add = [_rel(repo, p) for p in written] + sorted(sources)
    tracked = set(repo.git.ls_files().splitlines()) if repo.head.is_valid() else set()
    gone = {_rel(repo, p) for p in removed} | set(_owned_at_head(repo, folders))
    gone = {g for g in gone if g in tracked and not (root / g).exists()}
    paths = sorted(set(add) | gone)
    record = _intent(repo)
    try:
        record.write_text(json.dumps({"paths": paths}) + "\n", encoding="utf-8")
        if add:
            repo.git.add("--", *add)
        if gone:
            repo.git.rm("--cached", "--quiet", "--", *sorted(gone))
        changed = [r for r, d in sources.items() if _staged_digest(repo, r) != d]
        if changed:
            raise HaccError(
                f"{', '.join(changed)} {STAGED_SPEC_CHANGED}; nothing committed, build again"
            )
        if not staged_paths(repo):
            record.unlink()
            return None
        repo.git.commit("-m", message)
    except (git.GitCommandError, HaccError, OSError) as e:
        if paths:
            repo.git.reset("--quiet", "--", *paths)  # leave nothing of hacc's staged
        record.unlink(missing_ok=True)
        if isinstance(e, HaccError):
            raise
        if isinstance(e, OSError):
            raise HaccError(f"cannot record hacc's commit in {record}: {e.strerror}") from e
        detail = (e.stderr or "").strip().splitlines()[-3:]
        raise HaccError(
            "git commit failed, nothing committed and hacc's files unstaged: "
            + " / ".join(line.strip() for line in detail if line.strip())
        ) from e
    record.unlink(missing_ok=True)
    committed = set(repo.git.diff_tree("--no-commit-id", "--name-only", "-r", "HEAD").splitlines())
    extra = sorted(committed - set(paths))
    if extra:
        raise HaccError(
            f"the commit {repo.head.commit.hexsha[:12]} also holds {', '.join(extra[:5])}, added "
            "by a commit hook; amend it to keep hacc's commit to hacc's files"
        )
    return str(repo.head.commit.hexsha)


def _staged_digest(repo: Any, rel: str) -> str:
    """The digest of the bytes staged for `rel` (as hacc.outdir.cache.digest records them)."""
    from hacc.outdir.cache import digest

    blob = repo.git.cat_file(
        "blob", f":{rel}", stdout_as_string=False, strip_newline_in_stdout=False
    )
    return digest(bytes(blob))
