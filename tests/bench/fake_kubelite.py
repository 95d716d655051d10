#!/usr/bin/python3
"""The day-2 bench's kubelite, behind `snap restart microk8s.daemon-kubelite` and `microk8s
refresh-certs --cert server.crt`: one program named by argv[0], run inside the bench's
namespaces (bench/day2.sh). Each restart stops the running apiserver and starts kubelite
again, which runs the apiserver in-process with the flags in args/kube-apiserver.

A fake, not a consumer, modelled on canonical/microk8s:
- kubelite exits when any component fails, a flag kube-apiserver rejects among them: the kubelite
  patch (build-scripts/components/kubernetes/patches/*/0000-Kubelite-integration.patch) turns a
  component error into klog.Fatalf; kube-apiserver refuses an unknown flag at parse time
  ("Error: unknown flag: --x", cobra/pflag). Which flags are unknown comes from the bench
  config (DAY2_BENCH/rejected-flags, one a line), so a test names the flag it breaks with.
- `refresh-certs --cert server.crt` re-issues the server certificate and restarts kubelite and
  the cluster-agent (scripts/wrappers/refresh_certs.py).
Events go to DAY2_BENCH/events, one line each.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

WORK = Path(os.environ["DAY2_BENCH"])
ARGS = Path("/var/snap/microk8s/current/args/kube-apiserver")
PID = WORK / "apiserver.pid"


def event(text: str) -> None:
    with open(WORK / "events", "a") as f:
        f.write(text + "\n")


def stop() -> None:
    if PID.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(PID.read_text()), signal.SIGTERM)
        PID.unlink()


def start() -> None:
    rejected = set((WORK / "rejected-flags").read_text().split())
    flags = [line.split("=")[0].split(" ")[0] for line in ARGS.read_text().splitlines()]
    bad = [f for f in flags if f in rejected]
    if bad:
        event(f"kubelite exited: Error: unknown flag: {bad[0]}")
        return
    proc = subprocess.Popen(
        [os.environ["PYTHON"], "-m", "hacc.drill.fake_apiserver", "node",
         str(WORK / "apiserver.crt"), str(WORK / "apiserver.key")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    PID.write_text(str(proc.pid))
    event("kubelite started")


def main() -> int:
    name, args = Path(sys.argv[0]).name, sys.argv[1:]
    if name == "snap" and args == ["restart", "microk8s.daemon-kubelite"]:
        event("restart kubelite")
    elif name == "microk8s" and args == ["refresh-certs", "--cert", "server.crt"]:
        event("refresh-certs server.crt")
    elif name == "stop-kubelite":
        stop()
        return 0
    else:
        print(f"fake: unsupported: {name} {args}", file=sys.stderr)
        return 2
    stop()
    start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
