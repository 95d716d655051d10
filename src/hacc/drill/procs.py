"""Every process the drill starts is a child of this supervisor and is stopped by its PID.

Daemons run in the foreground under `ip netns exec NS`, which execs the daemon itself, so the
Popen PID is the daemon's. Nothing is ever looked up or killed by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hacc.drill.lab import LabError


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[Any]
    log: IO[Any] | None
    extra_pids: list[Path] = field(default_factory=list)  # pid files of children (keepalived VRRP)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None


class Supervisor:
    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: dict[str, Proc] = {}

    def start(
        self,
        name: str,
        netns: str,
        argv: list[str],
        extra_pids: list[Path] | None = None,
        stdout_pipe: bool = False,
    ) -> Proc:
        if name in self.procs and self.procs[name].alive:
            raise LabError(f"{name} is already running")
        log = None if stdout_pipe else open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115
        popen = subprocess.Popen(
            ["ip", "netns", "exec", netns, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else log,
            stderr=subprocess.STDOUT if not stdout_pipe else subprocess.DEVNULL,
            text=stdout_pipe,
            start_new_session=True,  # a Ctrl-C reaches the drill, which stops its children itself
        )
        proc = Proc(name, popen, log, extra_pids or [])
        self.procs[name] = proc
        return proc

    def signal(self, name: str, sig: int) -> None:
        """Send `sig` to the process (and, for SIGKILL, SIGSTOP and SIGCONT, to its recorded
        children: keepalived's VRRP process acts on its own)."""
        proc = self.procs[name]
        pids = [proc.popen.pid]
        if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCONT):
            pids += [p for p in (_read_pid(f) for f in proc.extra_pids) if p]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stop(self, name: str, timeout: float = 5.0) -> None:
        proc = self.procs.get(name)
        if proc is None:
            return
        if proc.alive:
            self.signal(name, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal(name, signal.SIGKILL)
                proc.popen.wait(timeout=timeout)
        # children a SIGKILL orphaned (keepalived's VRRP process) go too
        for pid in (_read_pid(f) for f in proc.extra_pids):
            if pid and _is_ours(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if proc.log:
            proc.log.close()
        del self.procs[name]

    def stop_all(self) -> None:
        for name in list(self.procs):
            with contextlib.suppress(Exception):  # keep stopping the others
                self.stop(name)

    def wait_gone(self, name: str, timeout: float = 5.0) -> None:
        proc = self.procs[name]
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=timeout)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_ours(pid: int) -> bool:
    """Only a keepalived started from our lab folder (its command line names our config)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"hacc-drill" in cmdline


def wait_until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
