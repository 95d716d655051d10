"""Writing a cluster's artifacts: only what changed, atomically, and never a file hacc does not own.

Each cluster folder holds a state file listing the files hacc wrote and their hashes. A file
missing from the state is not hacc's: it is never overwritten or removed. Files the state lists
that the spec no longer produces are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.errors import HaccError
from hacc.targets.base import Artifact

STATE_FILE = ".hacc-state.json"
CREATE, UPDATE, IDENTICAL, REMOVE = "create", "update", "identical", "remove"


@dataclass(frozen=True)
class Change:
    action: str
    path: str  # relative to the cluster folder
    artifact: Artifact | None = None
    edited: bool = False  # an owned file changed by hand since hacc wrote it


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _mode(executable: bool) -> int:
    return 0o755 if executable else 0o644


def _load_state(cluster_dir: Path) -> dict[str, Any]:
    path = cluster_dir / STATE_FILE
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(state.get("files"), dict):
            raise ValueError("no file list")
        return state
    except (OSError, ValueError) as e:
        raise HaccError(f"{path} is not a hacc state file ({e}); move it away to rebuild") from e


def read_state(cluster_dir: Path) -> dict[str, str]:
    """The files hacc wrote into `cluster_dir`, with their hashes."""
    return {str(k): str(v) for k, v in _load_state(cluster_dir).get("files", {}).items()}


def read_gitops(cluster_dir: Path) -> dict[str, str] | None:
    """Where the cluster's output is committed, as recorded by its last build (for fleets)."""
    gitops = _load_state(cluster_dir).get("gitops")
    return {str(k): str(v) for k, v in gitops.items()} if isinstance(gitops, dict) else None


def state_text(
    cluster: str, artifacts: Iterable[Artifact], gitops: dict[str, str] | None = None
) -> str:
    files = {a.path: digest(a.data) for a in sorted(artifacts, key=lambda a: a.path)}
    doc: dict[str, Any] = {"generator": "hacc", "cluster": cluster, "files": files}
    if gitops:
        doc["gitops"] = gitops
    return json.dumps(doc, indent=2) + "\n"


def _current(path: Path) -> tuple[bytes, bool] | None:
    try:
        return path.read_bytes(), os.access(path, os.X_OK)
    except FileNotFoundError:
        return None
    except IsADirectoryError as e:
        raise HaccError(f"{path} is a directory where hacc writes a file") from e


def plan(cluster_dir: Path, artifacts: list[Artifact]) -> list[Change]:
    """What writing `artifacts` into `cluster_dir` would do; raises on a file hacc does not own."""
    state = read_state(cluster_dir)
    changes: list[Change] = []
    wanted = {a.path for a in artifacts}
    for a in artifacts:
        current = _current(cluster_dir / a.path)
        if current is None:
            changes.append(Change(CREATE, a.path, a))
            continue
        data, executable = current
        if data == a.data and executable == a.executable:
            changes.append(Change(IDENTICAL, a.path, a))
        elif a.path not in state:
            raise HaccError(
                f"{cluster_dir / a.path} exists and was not written by hacc; "
                "move it away or delete it, then build again"
            )
        else:
            changes.append(Change(UPDATE, a.path, a, edited=digest(data) != state[a.path]))
    for path in sorted(set(state) - wanted):
        current = _current(cluster_dir / path)
        if current is not None:
            changes.append(Change(REMOVE, path, edited=digest(current[0]) != state[path]))
    return changes


def _write_atomic(path: Path, data: bytes, executable: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.hacc-tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode(executable))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _remove_empty_parents(path: Path, stop: Path) -> None:
    parent = path.parent
    while parent != stop and parent.is_relative_to(stop):
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def apply(
    cluster_dir: Path,
    cluster: str,
    artifacts: list[Artifact],
    changes: list[Change],
    gitops: dict[str, str] | None = None,
) -> None:
    for change in changes:
        target = cluster_dir / change.path
        if change.action in (CREATE, UPDATE):
            assert change.artifact is not None
            _write_atomic(target, change.artifact.data, change.artifact.executable)
        elif change.action == REMOVE:
            target.unlink()
            _remove_empty_parents(target, cluster_dir)
    state = state_text(cluster, artifacts, gitops).encode()
    state_path = cluster_dir / STATE_FILE
    if _current(state_path) != (state, False):
        _write_atomic(state_path, state, False)
