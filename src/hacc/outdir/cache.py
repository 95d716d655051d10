"""What a cluster folder was built from, so that an unchanged spec is not compiled again.

Three records, for three purposes:
- the state file's `inputs` digest (committed, the same on every machine): hacc's own files and
  the spec's bytes and path. Equal digests, a complete state file and files on disk that match
  their recorded hashes mean the folder holds what a new compile would write.
- a local cache of each spec's analysis (never committed, under $HACC_CACHE_DIR, by default
  $XDG_CACHE_HOME/hacc): the parsed document and its diagnostics, as JSON, keyed by everything
  they depend on and a secret of this user's kept elsewhere ($XDG_STATE_HOME/hacc/cache-key),
  so an unchanged spec is not parsed again. A missing, unreadable or foreign entry is a miss.
- beside it, per output folder, the digest (with the same secret) of the state file a build
  here last wrote or checked there, with the libraries it rendered with: a folder is reused only if that matches, since the
  committed state file alone proves nothing (anyone who can commit can set its hashes).
Nothing the build writes depends on the cache: a miss only costs time.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from functools import cache
from typing import Any, NamedTuple

from hacc.diagnostics import Diagnostic
from hacc.digests import digest, sha256

__all__ = ["digest"]  # hacc.digests.digest, which the state file records

# Plain os.path, not pathlib: `validate` of one cached spec imports little else.
PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # the hacc package
SOURCE_SUFFIXES = (".py", ".j2", ".json", ".md")
CACHE_FORMAT = b"hacc-analysis-3"  # JSON: the diagnostics and the parsed document
CODE = re.compile(r"HACC[0-9]{3,4}", re.ASCII)


def _package_files() -> list[tuple[str, str]]:
    """hacc's own files: (path relative to the package, full path), sorted."""
    found = []
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(SOURCE_SUFFIXES):
                full = os.path.join(folder, name)
                found.append((os.path.relpath(full, PACKAGE).replace(os.sep, "/"), full))
    return sorted(found)


@cache
def code_fingerprint() -> bytes:
    """A digest of hacc's own files (code, templates, schemas): any change to them may change
    what a spec compiles to, version bump or not."""
    h = sha256()
    for rel, full in _package_files():
        with open(full, "rb") as f:
            h.update(rel.encode() + b"\0" + sha256(f.read()).digest())
    return h.digest()


def _code_stamp() -> bytes:
    """hacc's files by name, size and modification time: for the local cache, where reading
    them all on every run would cost more than the cache saves."""
    parts = []
    for rel, full in _package_files():
        st = os.stat(full)
        parts.append(f"{rel} {st.st_size} {st.st_mtime_ns}")
    return "\n".join(parts).encode()


def inputs_digest(spec: str, source: str) -> str:
    """The state file's record of what built a folder: hacc's files, the spec's path relative
    to the folder and the digest of its bytes (`source`)."""
    h = sha256(code_fingerprint())
    h.update(spec.encode() + b"\0" + source.encode())
    return "sha256:" + h.hexdigest()


# The local analysis cache.


def cache_dir() -> str | None:
    """Where analyses are cached; None when HACC_CACHE_DIR is set empty (no cache)."""
    configured = os.environ.get("HACC_CACHE_DIR")
    if configured is not None:
        return configured or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hacc")


def _libraries(*modules: str) -> list[bytes]:
    """The Python running and these libraries, each known by where its code is and when that
    was installed (cheaper than asking its version)."""
    from importlib.util import find_spec

    parts = [sys.version.encode()]
    for module in modules:
        spec = find_spec(module)
        origin = spec.origin if spec else None
        try:
            st = os.stat(origin) if origin else None
        except OSError:
            st = None
        parts.append(f"{module} {origin} {st and st.st_mtime_ns} {st and st.st_size}".encode())
    return parts


@cache
def _environment() -> bytes:
    """Everything besides the spec an analysis depends on: hacc's files, the Python that
    wrote it, and the libraries that parse a spec (its schema check is hacc's own)."""
    return b"\0".join([CACHE_FORMAT, _code_stamp(), *_libraries("ruamel.yaml", "yaml")])


def key_file() -> str:
    """Where this user's cache secret is kept: not in the cache folder, which may be restored
    from elsewhere (a CI cache) or shared, so a cache copied in is of no use to anyone."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "hacc", "cache-key")


@cache
def _secret() -> bytes | None:
    """32 random bytes made once per user (0600 in a 0700 folder), mixed into every cache key and
    folder record: an entry or record made without it is never a hit, so one written by anyone
    who cannot read this file costs a parse and nothing else. None (no cache) if it cannot be
    read or made as such."""
    path = key_file()
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, os.urandom(32))
            finally:
                os.close(fd)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            secret = f.read(33)
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077:
            return secret if len(secret) == 32 else None
    return None


def _entry(name: str, raw: bytes) -> tuple[str, bytes] | None:
    folder = cache_dir()
    secret = _secret() if folder is not None else None
    if folder is None or secret is None:
        return None
    where = sha256(f"{os.getcwd()}\0{name}".encode()).hexdigest()
    key = sha256(secret + _environment() + b"\0" + name.encode() + b"\0" + raw).digest()
    return os.path.join(folder, where[:2], where), key


def _trusted(path: str) -> bool:
    """A cache entry is read only if this user owns it and its folders and nobody else can
    write them (what another user wrote is not this user's cache)."""
    uid = os.getuid()
    shard = os.path.dirname(path)
    for p in (path, shard, os.path.dirname(shard)):
        st = os.lstat(p)
        if st.st_uid != uid or st.st_mode & 0o022 or stat.S_ISLNK(st.st_mode):
            return False
    return True


def _open_trusted(path: str) -> Any:
    """The cache entry `path` opened for reading if `_trusted`, else None. Never through a link,
    and never a FIFO or device, which could block."""
    if not _trusted(path):
        return None
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


# An entry is its key, then JSON: the spec's diagnostics and the document it parsed to (plain
# data and where each part stands). Data, never objects: reading an entry runs no code of its
# own, and nothing read is trusted. Each part is checked for its shape (any other is a miss),
# and the document is validated, checked and modelled again on every read (frontend.analyze),
# which costs about a millisecond; only the YAML parse is saved. Its key holds this user's
# secret (`_secret`), so an entry made elsewhere, even one holding another valid spec, is a miss.
ENTRY_LIMIT = 64 << 20


class Entry(NamedTuple):
    diagnostics: list[Diagnostic]
    document: (
        tuple[Any, list[tuple[tuple[Any, ...], int, int]], list[Any]] | None
    )  # data, values, keys


def cached_entry(name: str, raw: bytes) -> Entry | None:
    """The cached analysis of the spec `name` holding `raw`, as data, or None."""
    found = _read_entry(name, raw)
    if found is None:
        return None
    diagnostics = _diagnostics(found.get("diagnostics"))
    document = found.get("document")
    if diagnostics is None or not (document is None or isinstance(document, dict)):
        return None
    if document is None:
        return Entry(diagnostics, None)
    values, keys = _positions(document.get("values")), _positions(document.get("keys"))
    if values is None or keys is None or "data" not in document:
        return None
    return Entry(diagnostics, (document["data"], values, keys))


def cached_diagnostics(name: str, raw: bytes) -> list[Diagnostic] | None:
    """Only the diagnostics of that analysis, if it found no error: what `validate` of one valid
    spec prints, read without the classes of the model (whose import costs more than the rest
    of such a run)."""
    found = _read_entry(name, raw)
    diagnostics = _diagnostics(found.get("diagnostics")) if found is not None else None
    if diagnostics is None or any(d.is_error for d in diagnostics):
        return None  # errors are said after a parse: an entry cannot fail a good spec
    return diagnostics


def _read_entry(name: str, raw: bytes) -> dict[str, Any] | None:
    import json

    entry = _entry(name, raw)
    if entry is None:
        return None
    path, key = entry
    try:
        f = _open_trusted(path)
        if f is None:
            return None
        with f:
            if f.read(len(key)) != key:
                return None
            data = f.read(ENTRY_LIMIT + 1)
        if len(data) > ENTRY_LIMIT:
            return None
        found = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # unreadable, not JSON, nested too deeply
        return None
    return found if isinstance(found, dict) else None


def _diagnostics(items: Any) -> list[Diagnostic] | None:
    """Diagnostics as the cache holds them (lists of six fields), checked; None if any is not."""
    from hacc.diagnostics import ERROR, WARNING

    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 6):
            return None
        file, line, column, severity, code, message = item
        if not (
            isinstance(file, str)
            and _position(line)
            and _position(column)
            and severity in (ERROR, WARNING)
            and isinstance(code, str)
            and CODE.fullmatch(code)
            and isinstance(message, str)
        ):
            return None
        out.append(Diagnostic(file, line, column, severity, code, message))
    return out


def _position(n: Any) -> bool:
    return type(n) is int and n >= 1


def _positions(items: Any) -> list[tuple[tuple[Any, ...], int, int]] | None:
    """[(path, line, column)] as the cache holds them, checked; None if any is not."""
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 3):
            return None
        path, line, column = item
        if not (isinstance(path, list) and _position(line) and _position(column)):
            return None
        if not all(type(p) is str or (type(p) is int and p >= 0) for p in path):
            return None
        out.append((tuple(path), line, column))
    return out


def store_analysis(name: str, raw: bytes, analysis: Any) -> None:
    """Cache the analysis of `name` holding `raw` (one entry per spec path); a failure to
    write, or a document JSON would not give back as it is, is ignored: the cache only saves
    time."""
    import json

    entry = _entry(name, raw)
    if entry is None:
        return
    path, key = entry
    doc = analysis.document
    record: dict[str, Any] = {"diagnostics": [list(d) for d in analysis.diagnostics]}
    record["document"] = doc and {
        "data": doc.data,
        "values": [[list(p), *at] for p, at in doc.values.items()],
        "keys": [[list(p), *at] for p, at in doc.keys.items()],
    }
    try:
        text = json.dumps(record, allow_nan=False)
        if doc is not None and not _same(json.loads(text)["document"]["data"], doc.data):
            return  # a key that is not a string, a tuple: JSON would change it
    except (ValueError, TypeError, RecursionError):
        return
    _store(path, key + text.encode())


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (JSON turns 1 into "1" as a key)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _store(path: str, data: bytes) -> None:
    """Write a cache entry, only into folders of this user's that nobody else can write (the
    same rule `_trusted` reads by: an entry written where it would never be read is waste, and
    through a link, a write elsewhere). A failure is ignored: the cache only saves time."""
    from hacc.errors import HaccError
    from hacc.outdir import fsafe

    shard = os.path.dirname(path)
    root = os.path.dirname(shard)
    with contextlib.suppress(OSError, HaccError):
        os.makedirs(os.path.dirname(root), exist_ok=True)
        if _own_folder(root) and _own_folder(shard):
            fsafe.write(path, data, 0o600, durable=False)


def _own_folder(path: str) -> bool:
    """`path` is (now) a folder of this user's, not a link, that nobody else can write."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    st = os.lstat(path)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


# Folders this user's builds wrote. A folder is reused only if its state file is one a build on
# this machine wrote or checked (output.unchanged): the state file is committed, and anyone who
# can commit could set its recorded hashes to match a file edited by hand.


def _folder_entry(folder: str) -> str | None:
    root = cache_dir()
    if root is None or _secret() is None:
        return None
    where = sha256(os.path.realpath(folder).encode()).hexdigest()
    return os.path.join(root, "folders", where)


@cache
def _renderers() -> bytes:
    """The libraries whose behaviour shapes a folder's files besides hacc's own code (which the
    state file's `inputs` covers): not committed, as they may differ between machines, but a
    folder written with others is not reused here."""
    return b"\0".join(_libraries("jinja2", "markupsafe", "yaml", "jsonschema", "ruamel.yaml"))


def _folder_stamp(state: bytes) -> bytes:
    return sha256((_secret() or b"") + _renderers() + b"\0" + state).hexdigest().encode()


def remember_folder(folder: str, state: bytes) -> None:
    """Record that a build here, with these libraries, wrote (or found) this state file in
    `folder`."""
    path = _folder_entry(folder)
    if path is not None:
        _store(path, _folder_stamp(state))


def remembers(folder: str, state: bytes) -> bool:
    """Whether the state file in `folder` is the one a build here, with the same libraries,
    last wrote or found."""
    path = _folder_entry(folder)
    if path is None:
        return False
    try:
        f = _open_trusted(path)
        if f is None:
            return False
        with f:
            return bool(f.read(65) == _folder_stamp(state))
    except OSError:
        return False
