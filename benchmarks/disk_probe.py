#!/usr/bin/env python3
"""How fast this machine's file system creates a fleet's worth of files, without hacc.

Writes FOLDERS folders of 42 files of 2.5 KB each (about the shape of `hacc build` for
FOLDERS specs: `nodes/<node>/` folders, files written through a temporary file and a rename),
syncs, deletes them, syncs, and repeats CYCLES times, printing wall, user and system time of
each cycle. On a file system that slows down where many files were just deleted, the system
time grows from cycle to cycle: build_speed.py's fresh builds then grow alike, for the same
reason. Run it with TMPDIR pointing where build_speed.py writes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

DATA = b"x" * 2500


def cycle(root: str, folders: int) -> tuple[float, float, float]:
    start, before = time.perf_counter(), os.times()
    for d in range(folders):
        for node in range(6):
            folder = os.path.join(root, f"c{d:04d}", "nodes", f"n{node}")
            os.makedirs(folder)
            for f in range(7):
                path = os.path.join(folder, f"f{f}")
                tmp = f"{path}.tmp-{os.urandom(6).hex()}"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                os.write(fd, DATA)
                os.fchmod(fd, 0o644)
                os.close(fd)
                os.replace(tmp, path)
    os.sync()
    after = time.perf_counter()
    used = os.times()
    shutil.rmtree(root)
    os.sync()
    return after - start, used.user - before.user, used.system - before.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--folders", type=int, default=1000, help="folders (specs) per cycle")
    ap.add_argument("--cycles", type=int, default=3, help="create-and-delete cycles")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{args.folders * 42} files in {args.folders} folders under {tmp}, per cycle:")
        for i in range(args.cycles):
            wall, user, system = cycle(os.path.join(tmp, "fleet"), args.folders)
            print(f"  cycle {i + 1}: {wall:6.2f} s  user {user:5.2f}  sys {system:5.2f}")


if __name__ == "__main__":
    main()
