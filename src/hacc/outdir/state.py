"""A cluster folder's state file: written by the writer, parsed and checked once into a `State`.

The state file lists the files hacc wrote into the folder and their hashes, what each one is,
and what later runs need to know of the build that wrote it: the spec (relative to the folder),
the digest of its inputs, where the output is committed, the addresses the cluster claims, its
endpoint, channel and extension points. It is input like any other file in OUT (anyone who can
commit can edit it), so every field is checked here, once, and a field of the wrong shape reads
as absent; only a file list hacc cannot trust is an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from hacc.compiler.printable import PRINTABLE_CHARS
from hacc.errors import HaccError
from hacc.outdir import fsafe
from hacc.targets.artifact import KINDS, Artifact, Kind

STATE_FILE = ".hacc-state.json"
STATE_LIMIT = 16 << 20
DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
NODE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", re.ASCII)
ENDPOINT = re.compile(r"https://[A-Za-z0-9.:-]{1,260}( \([0-9.]{7,15}\))?", re.ASCII)
TOKEN_REF = re.compile(r"(env|file|sops):[^\x00-\x1f\x7f]{1,1024}", re.ASCII)
SPEC_PATH = re.compile(r"[^\x00-\x1f\x7f]{1,1024}\.ya?ml", re.ASCII)
PRINTABLE = re.compile(PRINTABLE_CHARS + "{1,20000}")  # hacc.compiler.printable
MAX_ITEMS = 1024  # per node: far more than a spec can give (64 labels, 32 taints, 64 files, ...)


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


class State(NamedTuple):
    """A folder's state file, checked (`empty()`: no state file; hacc wrote nothing there)."""

    raw: bytes | None  # the file's bytes, None if there is none
    files: dict[str, str]  # path in the folder -> sha256 digest, every path checked
    kinds: dict[str, tuple[Kind, str | None]]  # path -> what it is and its node
    executable: list[str] | None  # None: a malformed list (nothing is reused then)
    incomplete: bool  # the last build was killed before it finished
    cluster: str | None
    spec: str | None  # relative to the folder, a YAML file, or None
    inputs: object  # compared with a new build's inputs digest, never trusted
    claims: dict[str, Any]
    gitops: dict[str, str] | None
    gitops_invalid: str | None  # why the recorded gitops cannot be used
    endpoint: str | None
    channel: str | None
    extensions: dict[str, list[str]] | None
    token: str | None  # where the last build took the join token from (env:, file:, sops:)

    @classmethod
    def empty(cls) -> State:
        return cls(
            None, {}, {}, [], False, None, None, None, {}, None, None, None, None, None, None
        )

    def gitops_record(self, cluster_dir: Path) -> dict[str, str] | None:
        """Where the cluster's output is committed, as its last build recorded it (for fleets);
        an error if the record breaks the spec's own rules."""
        if self.gitops_invalid:
            raise HaccError(
                f"{cluster_dir / STATE_FILE} records an invalid gitops {self.gitops_invalid}; "
                "restore it from Git"
            )
        return self.gitops


_parsed: dict[tuple[str, bytes], State] = {}  # one parse per folder and content, per process


def read(cluster_dir: Path) -> State:
    """The state of `cluster_dir`. The file is read each time (a later step of the same command,
    or the user, may have changed it) but parsed and checked once per content."""
    raw = fsafe.read(cluster_dir / STATE_FILE, STATE_LIMIT)
    if raw is None:
        return State.empty()
    key = (str(cluster_dir), raw)
    if key not in _parsed:
        if len(_parsed) > 4096:  # a fleet's worth; a long-lived process must not grow forever
            _parsed.clear()
        _parsed[key] = parse(cluster_dir / STATE_FILE, raw)
    return _parsed[key]


def parse(path: Path, raw: bytes) -> State:
    """The checked contents of the state file `path` holding `raw`."""
    where = str(path)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        what = "nested too deeply" if isinstance(e, RecursionError) else e
        raise HaccError(f"{where} is not a hacc state file ({what}); restore it from Git") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict):
        raise HaccError(f"{where} is not a hacc state file (no file list); restore it from Git")
    files: dict[str, str] = {}
    for entry, value in doc["files"].items():
        rel = fsafe.relative_path(entry, where)
        if not isinstance(value, str) or not DIGEST.fullmatch(value):
            raise HaccError(f"{where} gives {rel} no sha256 digest; restore it from Git")
        files[rel] = value
    executable = doc.get("executable", [])
    gitops, invalid = _gitops(doc.get("gitops"))
    name = doc.get("cluster")
    return State(
        raw=raw,
        files=files,
        kinds=_kinds(doc),
        executable=executable
        if isinstance(executable, list) and all(isinstance(e, str) for e in executable)
        else None,
        incomplete=doc.get("incomplete") is True,
        cluster=name if isinstance(name, str) else None,
        spec=_spec(doc.get("spec")),
        inputs=doc.get("inputs"),
        claims=_claims(doc.get("claims")),
        gitops=gitops,
        gitops_invalid=invalid,
        endpoint=_matching(doc.get("endpoint"), ENDPOINT),
        channel=_channel(doc.get("channel")),
        extensions=_extensions(doc.get("extensions")),
        token=_matching(doc.get("token"), TOKEN_REF),
    )


def _kinds(doc: dict[str, Any]) -> dict[str, tuple[Kind, str | None]]:
    kinds, nodes = doc.get("kinds"), doc.get("nodes")
    kinds = kinds if isinstance(kinds, dict) else {}
    nodes = nodes if isinstance(nodes, dict) else {}
    out: dict[str, tuple[Kind, str | None]] = {}
    for path, name in kinds.items():
        node = nodes.get(path)
        if name in KINDS and (node is None or (isinstance(node, str) and NODE.fullmatch(node))):
            out[str(path)] = (KINDS[name], node)
    return out


def _spec(value: Any) -> str | None:
    """A spec path is only ever a relative YAML file (read to learn which cluster it builds)."""
    if isinstance(value, str) and SPEC_PATH.fullmatch(value) and not value.startswith("/"):
        return value
    return None


def _claims(raw: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if isinstance(raw, dict):
        addresses = raw.get("addresses")
        if isinstance(addresses, list) and all(isinstance(a, str) for a in addresses):
            claims["addresses"] = addresses
        for key in ("vip", "vrrp"):
            if isinstance(raw.get(key), str):
                claims[key] = raw[key]
    return claims


def _gitops(value: Any) -> tuple[dict[str, str] | None, str | None]:
    """The recorded gitops, checked against the spec's own rules (another folder's state file is
    input to the fleet's objects), and the key that breaks them, if one does."""
    from hacc.compiler.schema_check import value_ok

    if not isinstance(value, dict):
        return None, None
    record = {k: value.get(k) for k in ("repoURL", "branch", "path")}
    if "secretRef" in value:
        record["secretRef"] = value["secretRef"]
    for key, v in record.items():
        if not isinstance(v, str) or not value_ok(("spec", "gitops", key), v):
            return None, key
    return {k: str(v) for k, v in record.items()}, None


def _matching(value: Any, pattern: re.Pattern[str]) -> str | None:
    """`value` if it is text of the shape hacc writes: a state file's text reaches the terminal."""
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def _channel(value: Any) -> str | None:
    from hacc.compiler.model import CHANNEL

    return _matching(value, CHANNEL)


def _extensions(value: Any) -> dict[str, list[str]] | None:
    """What the last build recorded of the extension points (None if nothing usable). Only
    printable lines reach the terminal."""
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


def text(
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
    return json.dumps(doc, indent=2) + "\n"
