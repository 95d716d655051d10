"""What a cluster folder was built from, so that an unchanged spec is not compiled again.

Two records, for two purposes:
- the state file's `inputs` digest (committed, the same on every machine): hacc's own files and
  the spec's bytes and path. Equal digests, a complete state file and files on disk that match
  their recorded hashes mean the folder holds what a new compile would write.
- a local cache of each spec's analysis (never committed, under $HACC_CACHE_DIR, by default
  $XDG_CACHE_HOME/hacc): the parsed, checked model, keyed by everything it depends on, so an
  unchanged spec is not parsed again. A missing, unreadable or foreign entry is a miss.
Nothing the build writes depends on either: a miss only costs time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent
SOURCE_SUFFIXES = (".py", ".j2", ".json", ".md")
CACHE_FORMAT = b"hacc-analysis-1"


@cache
def code_fingerprint() -> bytes:
    """A digest of hacc's own files (code, templates, schemas): any change to them may change
    what a spec compiles to, version bump or not."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
            h.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.digest()


def inputs_digest(spec: str, source: str) -> str:
    """The state file's record of what built a folder: hacc's files, the spec's path relative
    to the folder and the digest of its bytes (`source`)."""
    h = hashlib.sha256(code_fingerprint())
    h.update(spec.encode() + b"\0" + source.encode())
    return "sha256:" + h.hexdigest()


def source_digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


# The local analysis cache.


def cache_dir() -> Path | None:
    """Where analyses are cached; None when HACC_CACHE_DIR is set empty (no cache)."""
    configured = os.environ.get("HACC_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hacc"


@cache
def _environment() -> bytes:
    """Everything besides the spec an analysis depends on: hacc's files, the Python that
    pickled it, and the libraries that parse and check a spec (each known by where its code is
    and when that was installed: cheaper than asking its version)."""
    from importlib.util import find_spec

    parts = [CACHE_FORMAT, sys.version.encode(), code_fingerprint()]
    for module in ("ruamel.yaml", "jsonschema", "yaml"):
        spec = find_spec(module)
        origin = spec.origin if spec else None
        try:
            st = os.stat(origin) if origin else None
        except OSError:
            st = None
        parts.append(f"{module} {origin} {st and st.st_mtime_ns} {st and st.st_size}".encode())
    return b"\0".join(parts)


def _entry(name: str, raw: bytes) -> tuple[Path, bytes] | None:
    folder = cache_dir()
    if folder is None:
        return None
    where = hashlib.sha256(f"{os.getcwd()}\0{name}".encode()).hexdigest()
    key = hashlib.sha256(_environment() + b"\0" + name.encode() + b"\0" + raw).digest()
    return folder / where[:2] / where, key


def _trusted(path: Path) -> bool:
    """A cache entry is unpickled only if this user owns it and its folders and nobody else can
    write them: a pickle is code."""
    uid = os.getuid()
    for p in (path, path.parent, path.parent.parent):
        st = os.lstat(p)
        if st.st_uid != uid or st.st_mode & 0o022 or stat.S_ISLNK(st.st_mode):
            return False
    return True


def cached_analysis(name: str, raw: bytes) -> Any | None:
    """The analysis of the spec `name` holding `raw`, from the cache, or None."""
    entry = _entry(name, raw)
    if entry is None:
        return None
    path, key = entry
    try:
        if not _trusted(path):
            return None
        with open(path, "rb") as f:
            if f.read(len(key)) != key:
                return None
            return pickle.load(f)
    except Exception:  # any unreadable entry is a miss
        return None


def store_analysis(name: str, raw: bytes, analysis: Any) -> None:
    """Cache the analysis of `name` holding `raw` (one entry per spec path); a failure to
    write is ignored, as the cache only saves time."""
    entry = _entry(name, raw)
    if entry is None:
        return
    path, key = entry
    with contextlib.suppress(OSError, pickle.PicklingError):
        path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(key)
                pickle.dump(analysis, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
