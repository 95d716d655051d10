"""Every file hacc reads, writes or removes goes through here.

OUT is shared with Git, CI and other people: a state file, a symbolic link or a FIFO planted in
it must not make hacc touch anything outside it, replace what is not a plain file, or hang. So:
paths read from a state file are checked before use; no symbolic link below OUT is followed;
only regular files are read or replaced; files are written through a temporary file created
exclusively, with an unpredictable name, in the target's own folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import re
import stat
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hacc.errors import HaccError

if TYPE_CHECKING:  # pathlib is imported where used: not on `validate`'s path
    from pathlib import Path

TMP_MARK = ".hacc-tmp-"
# What a path hacc writes looks like: names of DNS labels, dots, dashes and underscores.
_PART = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}"
MAX_PATH = 1024


_SAFE_PATH = re.compile(f"(?:{_PART}/)*{_PART}", re.ASCII)


def relative_path(rel: object, where: str) -> str:
    """`rel` if it is a normalised relative path of the kind hacc writes, else an error that names
    `where` (the state file it came from)."""
    if not isinstance(rel, str) or not rel or len(rel) > MAX_PATH:
        raise HaccError(f"{where} lists an unusable path {str(rel)[:80]!r}")
    # No part is empty, "." or "..": a part starts with a letter, digit or underscore.
    if not _SAFE_PATH.fullmatch(rel):
        raise HaccError(
            f"{where} lists {rel[:200]!r}, which is not a plain relative path inside its folder; "
            "hacc never follows a state file out of its folder (restore the file from Git)"
        )
    if TMP_MARK in rel:
        raise HaccError(f"{where} lists a temporary file {rel!r}")
    return rel


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def inside(root: Path, rel: str) -> Path:
    """`root/rel`, after checking that no folder on the way below `root` is a symbolic link or
    something else than a folder. `root` itself may be a link: the user named it."""
    from pathlib import Path, PurePosixPath

    if _SAFE_PATH.fullmatch(rel):
        parts: tuple[str, ...] | list[str] = rel.split("/")
    else:
        parts = PurePosixPath(rel).parts
    base = os.fspath(root)
    path = base
    for i, part in enumerate(parts):
        path = os.path.join(path, part)  # strings: pathlib costs more than the lstat
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return Path(base, *parts)
        except OSError as e:
            raise HaccError(f"cannot reach {path}: {e.strerror}") from e
        last = i == len(parts) - 1
        if stat.S_ISLNK(st.st_mode):
            raise HaccError(
                f"{path} is a symbolic link; hacc never follows a link inside its output folder"
            )
        if not last and not stat.S_ISDIR(st.st_mode):
            raise HaccError(f"{path} is {_kind(st.st_mode)} where hacc needs a folder")
    return Path(path)


def regular_or_missing(path: str | Path) -> os.stat_result | None:
    """The lstat of `path` if it is a regular file, None if it does not exist, else an error."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError as e:
        raise HaccError(f"cannot reach {path}: a part of it is a file, not a folder") from e
    except OSError as e:
        raise HaccError(f"cannot reach {path}: {e.strerror}") from e
    if not stat.S_ISREG(st.st_mode):
        raise HaccError(
            f"{path} is {_kind(st.st_mode)}; hacc reads and replaces regular files only"
        )
    return st


def read(path: Path, limit: int = 64 << 20) -> bytes | None:
    """The bytes of the regular file `path` (None if missing); never follows a link, never
    blocks on a FIFO."""
    if regular_or_missing(path) is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise HaccError(f"cannot read {path}: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped since the lstat
            raise HaccError(f"{path} is not a regular file")
        data = _read_all(fd, st.st_size, limit)
    except OSError as e:
        raise HaccError(f"cannot read {path}: {e.strerror}") from e
    finally:
        os.close(fd)
    if data is None:
        raise HaccError(f"{path} is larger than {limit >> 20} MiB; it is not hacc's")
    return data


def _read_all(fd: int, size: int, limit: int) -> bytes | None:
    """Everything `fd` holds (its size as fstat said, if still true), or None past `limit`.
    Buffers sized by the file, not the limit: a read of 64 MiB for a 2 KiB file costs."""
    chunks: list[bytes] = []
    total = 0
    want = min(size, limit) + 1
    while True:
        chunk = os.read(fd, want)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return None
        want = min(1 << 20, limit + 1 - total)


def regular_files(folder: Path) -> dict[str, str] | None:
    """Every regular file below `folder`, by path relative to it, links neither followed nor
    listed; None if `folder` is not a folder or holds a temporary file of an interrupted hacc."""
    found: dict[str, str] = {}
    pending = [(str(folder), "")]
    try:
        while pending:
            here, prefix = pending.pop()
            with os.scandir(here) as entries:
                for e in entries:
                    if TMP_MARK in e.name:
                        return None
                    if e.is_dir(follow_symlinks=False):
                        pending.append((e.path, f"{prefix}{e.name}/"))
                    elif e.is_file(follow_symlinks=False):
                        found[prefix + e.name] = e.path
    except OSError:
        return None
    return found


def read_exactly(path: str, executable: bool, limit: int = 64 << 20) -> bytes | None:
    """The bytes of `path` if it is still a regular file, executable by its owner or not as
    said; None otherwise (or if unreadable)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or bool(st.st_mode & 0o100) != executable:
            return None
        return _read_all(fd, st.st_size, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


def write(
    path: str | Path,
    data: bytes,
    mode: int,
    *,
    durable: bool = True,
    owner: tuple[int, int] | None = None,
) -> None:
    """Replace the regular file `path` (or create it) with `data`, atomically: a temporary file
    created exclusively beside it, with a random name, then a rename. Folders on the way are
    created 0755 (0700 for a private `mode`). `durable`: on disk before this returns; a build
    writes its many files without, and makes them durable together with `sync` before its
    state file. `owner`: the (uid, gid) the new file gets before it takes the old one's place."""
    parent, name = os.path.split(os.fspath(path))
    tmp = os.path.join(parent, f".{name}{TMP_MARK}{os.urandom(6).hex()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileNotFoundError:  # a new folder: create it, once
            os.makedirs(parent or ".", mode=0o700 if not mode & 0o077 else 0o755, exist_ok=True)
            fd = os.open(tmp, flags, 0o600)
    except OSError as e:
        raise _write_error(path, e) from e
    replaced = False
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        regular_or_missing(path)  # only a regular file is replaced, whatever was planted
        os.replace(tmp, path)
        replaced = True
    except OSError as e:
        raise _write_error(path, e) from e
    finally:
        if not replaced and os.path.lexists(tmp):
            os.unlink(tmp)


@functools.cache
def _syncfs() -> Any:
    """libc's syncfs, or None where there is none (looked up once: find_library runs ldconfig)."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


def sync(folder: Path) -> None:
    """Everything written on `folder`'s file system reaches the disk: one syncfs(2) instead of
    an fsync per file (os.sync where syncfs is not to be had)."""
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def sync_all(folders: list[Path]) -> None:
    """`sync` once for each file system the folders are on."""
    seen: set[int] = set()
    for folder in folders:
        try:
            device = os.stat(folder).st_dev
        except OSError:
            continue
        if device not in seen:
            seen.add(device)
            sync(folder)


def _write_error(path: str | Path, e: OSError) -> HaccError:
    hint = {
        errno.ENOSPC: "the disk is full",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.ELOOP: "too many symbolic links",
        errno.ENAMETOOLONG: "the name is too long",
    }.get(e.errno or 0, e.strerror or str(e))
    return HaccError(f"cannot write {path}: {hint}")


def remove(path: Path) -> None:
    if regular_or_missing(path) is None:
        return
    try:
        path.unlink()
    except OSError as e:
        raise HaccError(f"cannot remove {path}: {e.strerror}") from e


def stale_temporaries(folder: Path) -> list[Path]:
    """Temporary files an interrupted hacc left in `folder` and below (never through links)."""
    from pathlib import Path

    found: list[Path] = []
    if not folder.is_dir() or folder.is_symlink():
        return found
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            full = Path(dirpath) / name
            if (
                name.startswith(".")
                and TMP_MARK in name
                and full.is_file()
                and not full.is_symlink()
            ):
                found.append(full)
    return sorted(found)


@contextlib.contextmanager
def locked(folder: Path, *, exclusive: bool, wait: float = 60.0) -> Iterator[None]:
    """Hold a lock on the output folder: one build writes at a time, and plans and checks read a
    consistent folder. A missing folder needs no lock when only reading."""
    if not folder.is_dir():
        if not exclusive:
            yield
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _write_error(folder, e) from e
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise HaccError(
                        f"another hacc is writing {folder}; waited {wait:.0f} s, try again"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)
