"""What a cluster folder was built from, so that an unchanged spec is not compiled again.

Three records, for three purposes:
- the state file's `inputs` digest (committed, the same on every machine): hacc's own files and
  the spec's bytes and path. Equal digests, a complete state file and files on disk that match
  their recorded hashes mean the folder holds what a new compile would write.
- a local cache of each spec's analysis (never committed, under $HACC_CACHE_DIR, by default
  $XDG_CACHE_HOME/hacc): the parsed, checked model, keyed by everything it depends on, so an
  unchanged spec is not parsed again. A missing, unreadable or foreign entry is a miss.
- beside it, per output folder, the digest of the state file a build here last wrote or checked
  there, with the libraries it rendered with: a folder is reused only if that matches, since the
  committed state file alone proves nothing (anyone who can commit can set its hashes).
Nothing the build writes depends on the cache: a miss only costs time.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import stat
import sys
from functools import cache
from typing import Any

from hacc.digests import digest, sha256

__all__ = ["digest"]  # hacc.digests.digest, which the state file records

# Plain os.path, not pathlib: `validate` of one cached spec imports little else.
PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # the hacc package
SOURCE_SUFFIXES = (".py", ".j2", ".json", ".md")
CACHE_FORMAT = b"hacc-analysis-2"  # the diagnostics, then the whole analysis


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
    pickled it, and the libraries that parse a spec (its schema check is hacc's own)."""
    return b"\0".join([CACHE_FORMAT, _code_stamp(), *_libraries("ruamel.yaml", "yaml")])


def _entry(name: str, raw: bytes) -> tuple[str, bytes] | None:
    folder = cache_dir()
    if folder is None:
        return None
    where = sha256(f"{os.getcwd()}\0{name}".encode()).hexdigest()
    key = sha256(_environment() + b"\0" + name.encode() + b"\0" + raw).digest()
    return os.path.join(folder, where[:2], where), key


def _trusted(path: str) -> bool:
    """A cache entry is unpickled only if this user owns it and its folders and nobody else can
    write them: a pickle is code."""
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


def cached_analysis(name: str, raw: bytes) -> Any | None:
    """The analysis of the spec `name` holding `raw`, from the cache, or None."""
    found = _cached(name, raw, 2)
    return found[1] if found else None


def cached_diagnostics(name: str, raw: bytes) -> list[Any] | None:
    """Only the diagnostics of that analysis: what `validate` of one spec prints, read without
    the classes of the model (whose import costs more than the rest of such a run)."""
    found = _cached(name, raw, 1)
    return found[0] if found else None


def _cached(name: str, raw: bytes, parts: int) -> list[Any] | None:
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
            return [pickle.load(f) for _ in range(parts)]
    except Exception:  # any unreadable entry is a miss
        return None


def store_analysis(name: str, raw: bytes, analysis: Any) -> None:
    """Cache the analysis of `name` holding `raw` (one entry per spec path); a failure to
    write is ignored, as the cache only saves time."""
    entry = _entry(name, raw)
    if entry is None:
        return
    path, key = entry
    with contextlib.suppress(pickle.PicklingError):
        data = b"".join(
            (
                key,
                *(
                    pickle.dumps(o, pickle.HIGHEST_PROTOCOL)
                    for o in (analysis.diagnostics, analysis)
                ),
            )
        )
        _store(path, data)


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
    if root is None:
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
    return sha256(_renderers() + b"\0" + state).hexdigest().encode()


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
