"""One drill: bring the lab up, run scenarios against live daemons, measure, tear everything down.

Times are `time.monotonic()` in every process. The VIP's movements come from one
`ip monitor address` per node namespace (events, not polling); the client writes one JSON line
per request. Every wait is bounded.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hacc.drill.configs import LabConfig, make_certificates
from hacc.drill.lab import VIP, Lab, LabError, host_state
from hacc.drill.procs import Supervisor, wait_until
from hacc.drill.scenarios import HOLDER, Scenario


@dataclass(frozen=True)
class Timing:
    pre: float = 1.0  # seconds of traffic before the failure
    observe: float = 7.0  # after the failure, before recovery
    after: float = 9.0  # after recovery
    interval: float = 0.05  # between client requests
    timeout: float = 0.25  # per client request
    settle: float = 30.0  # longest wait for a steady state before a scenario
    warmup: float = 8.0  # keepalived's track scripts settle (rise x interval) before a scenario


@dataclass
class Timeline:
    """A scenario's raw measurements, in seconds from the fault (for `hacc drill --plot`)."""

    holder: str  # the VIP's holder before the fault
    requests: list[tuple[float, float, bool]]  # (start, end, succeeded)
    vip: list[tuple[float, str, bool]]  # (time, node, VIP appeared (or went))
    recovered: float  # when the fault was undone


@dataclass
class Result:
    scenario: str
    title: str
    config: str
    target: str
    vip_moved_s: float | None  # failure -> VIP on another node
    outage_s: float  # first failed request's start -> last failed request's end
    restored_s: float  # failure -> end of the last failed request (0 if none failed)
    failed: int
    in_flight_failed: int  # of `failed`: sent before the failure had fully happened
    total: int
    failback_failed: int  # failed requests after recovery
    holders_after: list[str]
    errors: dict[str, int] = field(default_factory=dict)  # failed requests by error
    notes: list[str] = field(default_factory=list)
    timeline: Timeline | None = None

    @property
    def one_holder_after(self) -> bool:
        return len(self.holders_after) == 1


class VipMonitor:
    """Watches the VIP appear and vanish in every node namespace."""

    def __init__(self, lab: Lab) -> None:
        self.events: list[tuple[float, str, bool]] = []  # (time, node, present)
        self.procs: list[subprocess.Popen[str]] = []
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        for node in lab.nodes:
            p = subprocess.Popen(
                ["ip", "-n", node.netns, "-4", "monitor", "address"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            t = threading.Thread(target=self._read, args=(p, node.name), daemon=True)
            t.start()
            self.procs.append(p)
            self.threads.append(t)

    def _read(self, proc: subprocess.Popen[str], node: str) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if f"inet {VIP}/" in line:
                with self.lock:
                    self.events.append((time.monotonic(), node, not line.startswith("Deleted")))

    def since(self, t: float) -> list[tuple[float, str, bool]]:
        with self.lock:
            return [e for e in self.events if e[0] >= t]

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        for t in self.threads:
            t.join(timeout=5)
        for p in self.procs:
            if p.stdout:
                p.stdout.close()


ConfigBuilder = Callable[[Path], LabConfig]


class Drill:
    def __init__(self, build: ConfigBuilder, timing: Timing, python: str = sys.executable) -> None:
        self.timing = timing
        self.python = python
        # /run is root-only: keepalived's script security refuses scripts under a writable path
        self.labdir = Path(tempfile.mkdtemp(prefix="hacc-drill-", dir="/run"))
        try:
            self.config: LabConfig = build(self.labdir)
        except BaseException:
            shutil.rmtree(self.labdir, ignore_errors=True)
            raise
        self.lab: Lab = Lab.for_nodes(self.config.nodes)
        self.supervisor = Supervisor(self.labdir)
        self.monitor: VipMonitor | None = None
        self.ca: Path | None = None
        self.started = 0.0

    # -- set-up and tear-down ----------------------------------------------------------------

    def __enter__(self) -> Drill:
        try:
            self._up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _up(self) -> None:
        for name, _ in self.config.nodes:
            (self.labdir / name).mkdir(mode=0o755)
        self.ca = make_certificates(self.labdir, self.config)
        for name, files in self.config.files.items():
            d = self.labdir / name
            (d / "keepalived.conf").write_text(files.keepalived_conf)
            (d / "haproxy.cfg").write_text(files.haproxy_cfg)
            for path, text in files.scripts.items():
                Path(path).write_text(text)
                Path(path).chmod(0o755)
        self.lab.up()
        self.monitor = VipMonitor(self.lab)
        for name, _ in self.config.nodes:
            for kind in ("apiserver", "haproxy", "keepalived"):
                self.start(kind, name)
        self.started = time.monotonic()

    def start(self, kind: str, node: str, *, bind: str = "0.0.0.0") -> None:
        d = self.labdir / node
        netns = self.lab.node(node).netns
        if kind == "apiserver":
            argv = [
                self.python,
                "-m",
                "hacc.drill.fake_apiserver",
                node,
                str(d / "apiserver.crt"),
                str(d / "apiserver.key"),
                bind,
            ]
            self.supervisor.start(f"apiserver-{node}", netns, argv)
        elif kind == "haproxy":
            # as haproxy.service runs it: master and worker, the master's PID in a file
            argv = ["haproxy", "-Ws", "-f", str(d / "haproxy.cfg"), "-p", str(d / "haproxy.pid")]
            self.supervisor.start(f"haproxy-{node}", netns, argv)
        elif kind == "keepalived":
            pids = [d / "keepalived.pid", d / "vrrp.pid", d / "checkers.pid"]
            argv = [
                "keepalived",
                "-n",
                "-l",
                "-G",
                "-P",
                "-f",
                str(d / "keepalived.conf"),
                "-p",
                str(pids[0]),
                "-r",
                str(pids[1]),
                "-c",
                str(pids[2]),
            ]
            self.supervisor.start(f"keepalived-{node}", netns, argv, extra_pids=[pids[1]])
        else:
            raise ValueError(kind)

    def close(self) -> None:
        self.supervisor.stop_all()
        if self.monitor:
            self.monitor.stop()
        left = self.lab.down()
        shutil.rmtree(self.labdir, ignore_errors=True)
        if left:
            raise LabError(f"could not delete network namespaces {left}")

    # -- observation -------------------------------------------------------------------------

    def backends_up(self, node: str) -> bool:
        """Whether this node's HAProxy sees every apiserver UP (its stats socket lives in our folder)."""
        path = self.labdir / node / "haproxy.sock"
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(str(path))
                s.sendall(b"show stat\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        except OSError:
            return False
        rows = [r.split(",") for r in data.decode().splitlines() if r and not r.startswith("#")]
        servers = [
            r
            for r in rows
            if len(r) > 17 and r[1] not in ("FRONTEND", "BACKEND") and r[0] != "health"
        ]
        return bool(servers) and all(r[17] == "UP" for r in servers)

    def steady(self) -> list[str]:
        """Wait for one VIP holder and every backend UP; return the holders seen."""
        names = [n for n, _ in self.config.nodes]

        def ok() -> bool:
            return len(self.lab.holders()) == 1 and all(self.backends_up(n) for n in names)

        time.sleep(max(0.0, self.started + self.timing.warmup - time.monotonic()))
        wait_until(ok, self.timing.settle, step=0.2)
        # prefer the highest-priority node, so every scenario starts alike
        wait_until(lambda: self.lab.holders() == [names[0]], 5, step=0.1)
        return self.lab.holders()

    def client(self, count: int, deadline: float) -> subprocess.Popen[str]:
        assert self.ca is not None
        argv = [
            self.python,
            "-m",
            "hacc.drill.client",
            VIP,
            str(self.config.port),
            self.config.server_name,
            str(self.ca),
            str(count),
            str(self.timing.interval),
            str(self.timing.timeout),
            str(deadline),
        ]
        return self.supervisor.start("client", self.lab.client, argv, stdout_pipe=True).popen

    def probe(self) -> bool:
        """A few requests through the VIP; True when all succeed."""
        proc = self.client(5, 5)
        out, _ = proc.communicate(timeout=15)
        self.supervisor.stop("client")
        lines = [json.loads(x) for x in out.splitlines() if x.strip()]
        return len(lines) == 5 and all(r["ok"] for r in lines)

    # -- one scenario ------------------------------------------------------------------------

    def run(self, scenario: Scenario, observe: float | None = None) -> Result:
        t = self.timing
        observe = t.observe if observe is None else observe
        notes = []
        holders = self.steady()
        if len(holders) != 1:
            notes.append(f"no steady state before the scenario: holders {holders}")
        if not self.probe():
            notes.append("requests through the VIP failed before the scenario")
        names = [n for n, _ in self.config.nodes]
        holder = holders[0] if holders else names[0]
        target = holder if scenario.target == HOLDER else next(n for n in names if n != holder)

        total_time = t.pre + observe + t.after
        count = int(total_time / t.interval) + 1
        client = self.client(count, total_time + 5)
        time.sleep(t.pre)
        t_act = time.monotonic()
        scenario.act(self, target)
        t_done = time.monotonic()  # the failure has fully happened (the process is gone)
        time.sleep(max(0.0, t_act + observe - time.monotonic()))
        t_rec = time.monotonic()
        scenario.recover(self, target)
        out, _ = client.communicate(timeout=total_time + 30)
        self.supervisor.stop("client")
        requests = [json.loads(x) for x in out.splitlines() if x.strip()]

        assert self.monitor is not None
        events = self.monitor.since(t_act)
        moved = next(
            (e[0] - t_act for e in events if e[2] and e[1] != target and e[0] < t_rec), None
        )
        if not scenario.moves_vip and any(e[0] < t_rec for e in events):
            notes.append("the VIP moved although this failure should not move it")
        window = [r for r in requests if t_act - t.timeout <= r["start"] < t_rec]
        failed = [r for r in window if not r["ok"]]
        after = [r for r in requests if r["start"] >= t_rec]
        outage = (
            (max(r["end"] for r in failed) - min(r["start"] for r in failed)) if failed else 0.0
        )
        restored = (max(r["end"] for r in failed) - t_act) if failed else 0.0
        wait_until(lambda: len(self.lab.holders()) == 1, 5, step=0.1)
        return Result(
            scenario.name,
            scenario.title,
            self.config.label,
            target,
            round(moved, 3) if moved is not None else None,
            round(outage, 3),
            round(restored, 3),
            len(failed),
            sum(1 for r in failed if r["start"] < t_done),
            len([r for r in requests if r["start"] < t_rec]),
            sum(1 for r in after if not r["ok"]),
            self.lab.holders(),
            _count_errors(failed),
            notes,
            Timeline(
                holder,
                [
                    (round(r["start"] - t_act, 3), round(r["end"] - t_act, 3), bool(r["ok"]))
                    for r in requests
                ],
                [(round(e[0] - t_act, 3), e[1], e[2]) for e in self.monitor.since(t_act)],
                round(t_rec - t_act, 3),
            ),
        )


def _count_errors(failed: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in failed:
        kind = r["error"].split(":")[0] or "error"
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def run_drill(
    build: ConfigBuilder,
    scenarios: list[Scenario],
    timing: Timing,
    observe: dict[str, float] | None = None,
) -> tuple[list[Result], list[str]]:
    """Run `scenarios` in one lab; return the results and any change left on the host.

    Ctrl-C and SIGTERM unwind through the lab's cleanup (even where the caller's shell started
    it with SIGINT ignored) and then raise KeyboardInterrupt."""
    before = host_state()
    results = []

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with Drill(build, timing) as drill:
            for scenario in scenarios:
                results.append(drill.run(scenario, (observe or {}).get(scenario.name)))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    after = host_state()
    changed = [k for k in before if before[k] != after[k]]
    return results, changed


def as_json(results: list[Result]) -> list[dict[str, Any]]:
    return [{**asdict(r), "one_holder_after": r.one_holder_after} for r in results]
