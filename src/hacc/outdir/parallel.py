"""Spreading independent work over the machine's cores, results in the order given.

Compiling and writing one cluster never depends on another, so a fleet's clusters are split
among worker processes forked from this one (they inherit what it loaded and computed). The
result is the list a serial loop would give: the output does not depend on the split.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 16  # below this, forking costs more than it saves


def jobs() -> int:
    """How many processes to use: HACC_JOBS if set (1: none forked), else the usable cores."""
    configured = os.environ.get("HACC_JOBS", "")
    if configured:
        if not (configured.isascii() and configured.isdigit() and 0 < int(configured) <= 1024):
            from hacc.errors import UsageError

            raise UsageError(
                f"HACC_JOBS={configured[:40]!r}: give a number of processes, 1 to 1024"
            )
        return int(configured)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# The work of the map in progress, which forked workers find here (a lambda cannot be pickled).
_work: list[tuple[Callable[[Any], Any], Sequence[Any]]] = []
PR_SET_PDEATHSIG = 1


def _worker_start(parent: int) -> None:
    """A worker dies with the process that forked it: a killed build must not go on writing
    (or hold OUT's lock, which the worker shares) behind the user's back."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _run(index: int) -> Any:
    fn, items = _work[-1]
    return fn(items[index])


def batches(count: int) -> list[list[int]]:
    """range(count) in contiguous batches, a few a core when there are enough for several (a
    core with a batch to work on while another waits for the disk)."""
    n = max(1, min(jobs() * 4, count // (MIN_ITEMS // 2)))
    size = -(-count // n) if count else 0
    return [list(range(i, min(i + size, count))) for i in range(0, count, size or 1)]


def map_ordered(fn: Callable[[T], R], items: Sequence[T], *, each: int = MIN_ITEMS // 2) -> list[R]:
    """[fn(x) for x in items], on several cores when there are at least `each` items for each
    and fork is to be had (Linux). `fn` and the items reach the workers by fork, not by
    pickling; results come back pickled. An exception in `fn` is raised here, as in a loop."""
    n = min(jobs(), len(items) // each)
    if n < 2 or sys.platform != "linux":
        return [fn(x) for x in items]
    import multiprocessing

    _work.append((fn, items))  # before the fork: the workers find their work in their copy
    try:
        try:  # a pool needs POSIX semaphores (/dev/shm), which some containers lack
            pool = multiprocessing.get_context("fork").Pool(
                n, initializer=_worker_start, initargs=(os.getpid(),)
            )
        except OSError:
            return [fn(x) for x in items]
        with pool:
            chunk = max(1, len(items) // (n * 8)) if each > 1 else 1
            return pool.map(_run, range(len(items)), chunksize=chunk)
    finally:
        _work.pop()
