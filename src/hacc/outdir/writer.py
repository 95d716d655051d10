"""Writing a cluster's artifacts: only what changed, atomically, and never a file hacc does not own.

Each cluster folder holds a state file listing the files hacc wrote and their hashes. A file
missing from the state is not hacc's: it is never overwritten or removed. Files the state lists
that the spec no longer produces are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any

from hacc.errors import HaccError
from hacc.outdir import cache, fsafe
from hacc.outdir.cache import digest
from hacc.targets.artifact import KINDS, RUNBOOK, Artifact, Kind

STATE_FILE = ".hacc-state.json"
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


DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
NODE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", re.ASCII)
STATE_LIMIT = 16 << 20


def _mode(executable: bool) -> int:
    return 0o755 if executable else 0o644


def cluster_folder(out: Path, name: str) -> Path:
    """OUT/name, checked: a folder (or nothing yet), never a link out of OUT."""
    path = fsafe.inside(out, name)
    if path.exists() and not path.is_dir():
        raise HaccError(f"{path} is a file where hacc needs a folder; move it away")
    return path


def _load_state(cluster_dir: Path) -> dict[str, Any]:
    return _parse_state(cluster_dir / STATE_FILE, _read_state_bytes(cluster_dir))


def _read_state_bytes(cluster_dir: Path) -> bytes | None:
    return fsafe.read(cluster_dir / STATE_FILE, STATE_LIMIT)


def _parse_state(path: Path, data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {}
    where = str(path)
    try:
        state = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        what = "nested too deeply" if isinstance(e, RecursionError) else e
        raise HaccError(f"{where} is not a hacc state file ({what}); restore it from Git") from e
    if not isinstance(state, dict) or not isinstance(state.get("files"), dict):
        raise HaccError(f"{where} is not a hacc state file (no file list); restore it from Git")
    files: dict[str, str] = {}
    for entry, value in state["files"].items():
        rel = fsafe.relative_path(entry, where)
        if not isinstance(value, str) or not DIGEST.fullmatch(value):
            raise HaccError(f"{where} gives {rel} no sha256 digest; restore it from Git")
        files[rel] = value
    state["files"] = files
    return state


def read_state(cluster_dir: Path) -> dict[str, str]:
    """The files hacc wrote into `cluster_dir`, with their hashes, every path checked."""
    files: dict[str, str] = _load_state(cluster_dir).get("files", {})
    return files


def read_kinds(cluster_dir: Path) -> dict[str, tuple[Kind, str | None]]:
    """What the state file says each file is, and its node; unknown entries are left out."""
    return _kinds(_load_state(cluster_dir))


def _kinds(state: dict[str, Any]) -> dict[str, tuple[Kind, str | None]]:
    kinds, nodes = state.get("kinds"), state.get("nodes")
    kinds = kinds if isinstance(kinds, dict) else {}
    nodes = nodes if isinstance(nodes, dict) else {}
    out: dict[str, tuple[Kind, str | None]] = {}
    for path, name in kinds.items():
        node = nodes.get(path)
        if name in KINDS and (node is None or (isinstance(node, str) and NODE.fullmatch(node))):
            out[str(path)] = (KINDS[name], node)
    return out


def interrupted(cluster_dir: Path) -> bool:
    """Whether the last build into `cluster_dir` was killed before it finished."""
    return _load_state(cluster_dir).get("incomplete") is True


def read_gitops(cluster_dir: Path) -> dict[str, str] | None:
    """Where the cluster's output is committed, as recorded by its last build (for fleets);
    checked against the spec's own rules, since another folder's state file is input too."""
    from hacc.compiler.schema_check import value_ok

    gitops = _load_state(cluster_dir).get("gitops")
    if not isinstance(gitops, dict):
        return None
    record = {k: gitops.get(k) for k in ("repoURL", "branch", "path")}
    if "secretRef" in gitops:
        record["secretRef"] = gitops["secretRef"]
    for key, value in record.items():
        if not isinstance(value, str) or not value_ok(("spec", "gitops", key), value):
            raise HaccError(
                f"{cluster_dir / STATE_FILE} records an invalid gitops {key}; restore it from Git"
            )
    return {k: str(v) for k, v in record.items()}


@dataclass(frozen=True)
class Record:
    """What a cluster folder's state file says besides its files, for later runs: the spec that
    built it (relative to the folder), where its output is committed, and the addresses it
    claims (checked against other clusters' specs)."""

    spec: str | None = None
    gitops: dict[str, str] | None = None
    claims: dict[str, Any] | None = None
    endpoint: str | None = None  # where clients reach the API, for `plan` to notice a change
    channel: str | None = None  # the MicroK8s channel, for `plan` to notice an upgrade
    extensions: dict[str, list[str]] | None = None  # per node, what the extension points give
    inputs: str | None = None  # what built the folder (hacc.outdir.cache.inputs_digest)
    token: str | None = None  # where the join token comes from, for `plan` to notice a rotation


def state_text(
    cluster: str,
    artifacts: Iterable[Artifact],
    record: Record | None = None,
    *,
    also: dict[str, str] | None = None,
) -> str:
    """The state file; `also` (files a build may still remove) makes it an intent, marked
    incomplete until the build has finished."""
    record = record or Record()
    files = dict(also or {})
    files.update({a.path: a.digest for a in artifacts})
    doc: dict[str, Any] = {"generator": "hacc", "cluster": cluster}
    if also is not None:
        doc["incomplete"] = True
    if record.spec:
        doc["spec"] = record.spec
    if record.inputs:
        doc["inputs"] = record.inputs
    doc["files"] = dict(sorted(files.items()))
    # What each file is, for a later run that removes it (`plan` says what that means).
    doc["kinds"] = {a.path: a.kind.name for a in sorted(artifacts, key=lambda a: a.path)}
    nodes = {a.path: a.node for a in sorted(artifacts, key=lambda a: a.path) if a.node}
    if nodes:
        doc["nodes"] = nodes
    executable = sorted(a.path for a in artifacts if a.executable)
    if executable:
        doc["executable"] = executable
    if record.gitops:
        doc["gitops"] = record.gitops
    if record.claims:
        doc["claims"] = record.claims
    if record.endpoint:
        doc["endpoint"] = record.endpoint
    if record.channel:
        doc["channel"] = record.channel
    if record.extensions is not None:
        doc["extensions"] = record.extensions
    if record.token:
        doc["token"] = record.token
    return _indented(doc) + "\n"


def _indented(value: Any, indent: str = "") -> str:
    """`json.dumps(value, indent=2)`, which with an indent runs the encoder written in Python;
    this one leaves each string to the C encoder and is several times faster."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = (f"{inner}{_scalar(str(k))}: {_indented(v, inner)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value:
        return "[\n" + ",\n".join(inner + _indented(v, inner) for v in value) + "\n" + indent + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    return json.dumps(value)


ENDPOINT = re.compile(r"https://[A-Za-z0-9.:-]{1,260}( \([0-9.]{7,15}\))?", re.ASCII)


def read_endpoint(cluster_dir: Path) -> str | None:
    """The endpoint the folder's last build recorded (None if none, or not of the shape hacc
    writes: a state file is input, and this text reaches the terminal)."""
    value = _load_state(cluster_dir).get("endpoint")
    return value if isinstance(value, str) and ENDPOINT.fullmatch(value) else None


def read_channel(cluster_dir: Path) -> str | None:
    """The MicroK8s channel the folder's last build recorded (None if none or malformed)."""
    from hacc.compiler.model import CHANNEL

    value = _load_state(cluster_dir).get("channel")
    return value if isinstance(value, str) and CHANNEL.fullmatch(value) else None


def read_token(cluster_dir: Path) -> str | None:
    """Where the folder's last build took the join token from (None if none or malformed)."""
    value = _load_state(cluster_dir).get("token")
    return value if isinstance(value, str) and TOKEN_REF.fullmatch(value) else None


TOKEN_REF = re.compile(r"(env|file|sops):[^\x00-\x1f\x7f]{1,1024}", re.ASCII)


def read_extensions(cluster_dir: Path) -> dict[str, list[str]] | None:
    """What the folder's last build recorded of the extension points (None if nothing usable).
    Only printable lines reach the terminal."""
    value = _load_state(cluster_dir).get("extensions")
    if not isinstance(value, dict):
        return None
    out: dict[str, list[str]] = {}
    for node, items in value.items():
        if not (isinstance(items, list) and all(isinstance(i, str) for i in items)):
            return None
        if len(items) > MAX_ITEMS:
            return None
        if not all(PRINTABLE.fullmatch(s) for s in (node, *items)):
            return None
        out[node] = items
    return out


# No C0 or C1 controls (a C1 CSI starts a terminal escape as surely as ESC [), line breaks or
# bidirectional overrides (which make a terminal show text in another order than it runs).
PRINTABLE_CHARS = r"[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
PRINTABLE = re.compile(PRINTABLE_CHARS + "{1,20000}")
MAX_ITEMS = 1024  # per node: far more than a spec can give (64 labels, 32 taints, 64 files, ...)
SPEC_PATH = re.compile(r"[^\x00-\x1f\x7f]{1,1024}\.ya?ml", re.ASCII)


def read_record(cluster_dir: Path) -> tuple[str | None, str | None, dict[str, Any]]:
    """(cluster name, spec path relative to the folder, claims) from a folder's state file.
    A state file is input like any other: a spec path is only ever a relative YAML file (read
    to learn which cluster it builds), and claims of the wrong shape are ignored."""
    state = _load_state(cluster_dir)
    name = state.get("cluster")
    spec = state.get("spec")
    if not (isinstance(spec, str) and SPEC_PATH.fullmatch(spec) and not spec.startswith("/")):
        spec = None
    claims: dict[str, Any] = {}
    raw = state.get("claims")
    if isinstance(raw, dict):
        addresses = raw.get("addresses")
        if isinstance(addresses, list) and all(isinstance(a, str) for a in addresses):
            claims["addresses"] = addresses
        for key in ("vip", "vrrp"):
            if isinstance(raw.get(key), str):
                claims[key] = raw[key]
    return (name if isinstance(name, str) else None, spec, claims)


def unchanged(cluster_dir: Path, cluster: str, record: Record) -> list[Artifact] | None:
    """The artifacts in `cluster_dir`, read back, if its last build finished from the inputs
    `record` names and the folder is exactly as that build left it: the state file as this
    build would write it, every file it lists there as written. Else None (compile the spec
    again). Any doubt (a temporary file, a link, a file of another mode) means None."""
    try:
        raw = _read_state_bytes(cluster_dir)
        state = _parse_state(cluster_dir / STATE_FILE, raw)
    except HaccError:
        return None
    if record.inputs is None or state.get("inputs") != record.inputs or "incomplete" in state:
        return None
    if raw is None or not cache.remembers(str(cluster_dir), raw):
        return None  # not written here: the committed record alone is no proof
    kinds = _kinds(state)
    executable = state.get("executable", [])
    if not isinstance(executable, list):
        return None
    found = fsafe.regular_files(cluster_dir)
    if found is None:
        return None
    artifacts = []
    for rel, recorded in sorted(state["files"].items()):
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
    if state_text(cluster, artifacts, record).encode() != raw:
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
    state = read_state(cluster_dir)
    # After a killed build, files may hold either version: none of them was edited by hand.
    trust = not interrupted(cluster_dir)
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
        elif a.path not in state:
            conflicts.append(f"{cluster_dir / a.path} exists and was not written by hacc")
        else:
            edited = trust and digest(data) != state[a.path]
            changes.append(
                Change(UPDATE, a.path, a, edited=edited, current=data, kind=a.kind, node=a.node)
            )
    recorded = read_kinds(cluster_dir)
    for path in sorted(set(state) - wanted):
        try:
            current = _current(cluster_dir, path)
        except HaccError as e:
            conflicts.append(str(e))
            continue
        if current is not None:
            edited = trust and digest(current[0]) != state[path]
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
    intent = state_text(w.cluster, w.artifacts, w.record, also=leaving).encode()
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
    state = state_text(w.cluster, w.artifacts, w.record).encode()
    written = _current(w.cluster_dir, STATE_FILE) != (state, False)
    if written:
        fsafe.write(w.cluster_dir / STATE_FILE, state, _mode(False), durable=False)
    cache.remember_folder(str(w.cluster_dir), state)  # what a later build may reuse
    return written


def prune(cluster_dir: Path) -> list[Path]:
    """Remove the files hacc owns in the folder of a cluster no spec builds any more, and its
    state file; files hacc did not write stay. Returns what was removed."""
    removed: list[Path] = []
    for rel in read_state(cluster_dir):
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
