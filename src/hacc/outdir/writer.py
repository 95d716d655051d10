"""Writing a cluster's artifacts: only what changed, atomically, and never a file hacc does not own.

Each cluster folder holds a state file listing the files hacc wrote and their hashes. A file
missing from the state is not hacc's: it is never overwritten or removed. Files the state lists
that the spec no longer produces are removed.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from hacc.digests import digest
from hacc.errors import HaccError
from hacc.outdir import cache, fsafe, state
from hacc.outdir.state import STATE_FILE, Record

__all__ = ["STATE_FILE", "Record"]  # what other modules take from here
from hacc.targets.artifact import RUNBOOK, Artifact, Kind

CREATE, UPDATE, IDENTICAL, REMOVE = "create", "update", "identical", "remove"


@dataclass(frozen=True)
class Change:
    action: str
    path: str  # relative to the cluster folder
    artifact: Artifact | None = None
    edited: bool = False  # an owned file changed by hand since hacc wrote it
    current: bytes | None = None  # what is on disk now (update, identical, remove)
    kind: Kind = RUNBOOK  # for a removal: as the state file recorded it
    node: str | None = None


def _mode(executable: bool) -> int:
    return 0o755 if executable else 0o644


def cluster_folder(out: Path, name: str) -> Path:
    """OUT/name, checked: a folder (or nothing yet), never a link out of OUT."""
    path = fsafe.inside(out, name)
    if path.exists() and not path.is_dir():
        raise HaccError(f"{path} is a file where hacc needs a folder; move it away")
    return path


def unchanged(cluster_dir: Path, cluster: str, record: Record) -> list[Artifact] | None:
    """The artifacts in `cluster_dir`, read back, if its last build finished from the inputs
    `record` names and the folder is exactly as that build left it: the state file as this
    build would write it, every file it lists there as written. Else None (compile the spec
    again). Any doubt (a temporary file, a link, a file of another mode) means None."""
    try:
        found_state = state.read(cluster_dir)
    except HaccError:
        return None
    raw = found_state.raw
    if record.inputs is None or found_state.inputs != record.inputs or found_state.incomplete:
        return None
    if raw is None or not cache.remembers(str(cluster_dir), raw):
        return None  # not written here: the committed record alone is no proof
    kinds = found_state.kinds
    executable = found_state.executable
    if executable is None:
        return None
    found = fsafe.regular_files(cluster_dir)
    if found is None:
        return None
    artifacts = []
    for rel, recorded in sorted(found_state.files.items()):
        if rel not in found or rel not in kinds:
            return None
        content = fsafe.read_exactly(found[rel], rel in executable)
        if content is None or digest(content) != recorded:
            return None
        kind, node = kinds[rel]
        try:
            artifacts.append(
                Artifact.read_back(
                    rel, content, kind, node, executable=rel in executable, digest=recorded
                )
            )
        except UnicodeDecodeError:
            return None
    if state.text(cluster, artifacts, record).encode() != raw:
        return None
    return artifacts


def _current(cluster_dir: Path, rel: str) -> tuple[bytes, bool] | None:
    path = fsafe.inside(cluster_dir, rel)
    st = fsafe.regular_or_missing(path)
    data = fsafe.read(path) if st else None
    if st is None or data is None:
        return None
    return data, bool(st.st_mode & 0o100)


def plan(cluster_dir: Path, artifacts: list[Artifact]) -> tuple[list[Change], list[str]]:
    """What writing `artifacts` into `cluster_dir` would do, and every file in the way that hacc
    does not own (each a reason to write nothing at all)."""
    if not os.path.lexists(cluster_dir):  # a new cluster: everything is to create
        return [Change(CREATE, a.path, a, kind=a.kind, node=a.node) for a in artifacts], []
    recorded_state = state.read(cluster_dir)
    owned = recorded_state.files
    # After a killed build, files may hold either version: none of them was edited by hand.
    trust = not recorded_state.incomplete
    changes: list[Change] = []
    conflicts: list[str] = []
    wanted = {a.path for a in artifacts}
    for a in artifacts:
        try:
            current = _current(cluster_dir, a.path)
        except HaccError as e:
            conflicts.append(str(e))
            continue
        if current is None:
            changes.append(Change(CREATE, a.path, a, kind=a.kind, node=a.node))
            continue
        data, executable = current
        if data == a.data and executable == a.executable:
            changes.append(Change(IDENTICAL, a.path, a, current=data, kind=a.kind, node=a.node))
        elif a.path not in owned:
            conflicts.append(f"{cluster_dir / a.path} exists and was not written by hacc")
        else:
            edited = trust and digest(data) != owned[a.path]
            changes.append(
                Change(UPDATE, a.path, a, edited=edited, current=data, kind=a.kind, node=a.node)
            )
    recorded = recorded_state.kinds
    for path in sorted(set(owned) - wanted):
        try:
            current = _current(cluster_dir, path)
        except HaccError as e:
            conflicts.append(str(e))
            continue
        if current is not None:  # edited even after a kill: the intent records what it removes
            edited = digest(current[0]) != owned[path]
            kind, node = recorded.get(path, (RUNBOOK, None))
            changes.append(
                Change(REMOVE, path, edited=edited, current=current[0], kind=kind, node=node)
            )
    return changes, conflicts


def _remove_empty_parents(path: Path, stop: Path) -> None:
    parent = path.parent
    while parent != stop and parent.is_relative_to(stop) and not parent.is_symlink():
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


@dataclass(frozen=True)
class Write:
    """One folder's part in a build: make `cluster_dir` hold `artifacts` (`changes` planned)."""

    cluster_dir: Path
    cluster: str
    artifacts: list[Artifact]
    changes: list[Change]
    record: Record | None = None

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != IDENTICAL]

    @cached_property
    def temporaries(self) -> list[Path]:
        """Left by an interrupted build (looked for once: the lock keeps others out)."""
        return fsafe.stale_temporaries(self.cluster_dir)


def apply_all(writes: list[Write]) -> list[HaccError | None]:
    """Make each folder hold its artifacts; for each, the error that stopped it (its later
    steps are skipped, the other folders go on). In three steps over a batch of folders, with
    the disk synced between them (once a step, not once a file):
    1. each folder's state file records its intent (every file it may leave, marked incomplete),
       so a build killed half-way leaves nothing the next build or `--check` does not know of;
    2. the files are written, each atomically, and stale ones removed;
    3. each state file records the folder as complete.
    A fleet's folders are split into batches written on several cores (hacc.outdir.parallel)."""
    from hacc.outdir.parallel import batches, map_ordered

    done = map_ordered(
        lambda batch: _apply_batch([writes[i] for i in batch]), batches(len(writes)), each=1
    )
    return [error for batch in done for error in batch]


def _apply_batch(writes: list[Write]) -> list[HaccError | None]:
    errors: list[HaccError | None] = [None] * len(writes)
    going = list(range(len(writes)))
    for run in (_intend, _write_files, _finish):
        touched = []
        for i in going:
            try:
                if run(writes[i]):
                    touched.append(i)
            except HaccError as e:
                errors[i] = e
        if touched:
            fsafe.sync_all([writes[i].cluster_dir for i in touched])
        going = [i for i in going if errors[i] is None]
    return errors


def _intend(w: Write) -> bool:
    if not (w.pending or w.temporaries):
        return False
    leaving = {c.path: digest(c.current) for c in w.changes if c.current is not None}
    intent = state.text(w.cluster, w.artifacts, w.record, also=leaving).encode()
    fsafe.write(w.cluster_dir / STATE_FILE, intent, _mode(False), durable=False)
    return True


def _write_files(w: Write) -> bool:
    for tmp in w.temporaries:
        fsafe.remove(tmp)
    for change in w.pending:
        target = fsafe.inside(w.cluster_dir, change.path)
        if change.action in (CREATE, UPDATE):
            assert change.artifact is not None
            data, mode = change.artifact.data, _mode(change.artifact.executable)
            fsafe.write(target, data, mode, durable=False)
        elif change.action == REMOVE:
            fsafe.remove(target)
            _remove_empty_parents(target, w.cluster_dir)
    return bool(w.pending or w.temporaries)


def _finish(w: Write) -> bool:
    final = state.text(w.cluster, w.artifacts, w.record).encode()
    written = _current(w.cluster_dir, STATE_FILE) != (final, False)
    if written:
        fsafe.write(w.cluster_dir / STATE_FILE, final, _mode(False), durable=False)
    cache.remember_folder(str(w.cluster_dir), final)  # what a later build may reuse
    return written


def not_as_written(cluster_dir: Path) -> list[Path]:
    """Files the state file of `cluster_dir` lists whose content is not what it records (edited
    by hand, or named by a state file hacc did not write): `prune` removes them only if told."""
    out = []
    for rel, recorded in state.read(cluster_dir).files.items():
        current = _current(cluster_dir, rel)
        if current is not None and digest(current[0]) != recorded:
            out.append(cluster_dir / rel)
    return out


def prune(cluster_dir: Path) -> list[Path]:
    """Remove the files hacc owns in the folder of a cluster no spec builds any more, and its
    state file; files hacc did not write stay. Returns what was removed. (The caller refuses
    first if any is `not_as_written`, unless forced.)"""
    removed: list[Path] = []
    for rel in state.read(cluster_dir).files:
        target = fsafe.inside(cluster_dir, rel)
        if fsafe.regular_or_missing(target) is not None:
            fsafe.remove(target)
            removed.append(target)
            _remove_empty_parents(target, cluster_dir)
    fsafe.remove(cluster_dir / STATE_FILE)
    removed.append(cluster_dir / STATE_FILE)
    with contextlib.suppress(OSError):  # files of someone else's may still be there
        cluster_dir.rmdir()
    return removed
