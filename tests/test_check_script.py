"""keepalived's generated check script, run as keepalived runs it (sh, no arguments) against a
stand-in HAProxy: a loopback HTTP server for its /healthz and a process whose PID is in the pid
file. It must pass while both are well, and fail at once when the process dies mid-run."""

from __future__ import annotations

import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from artifacts import compiled
from hacc.targets import haproxy


class Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def script(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cluster, arts = compiled("keepalived-haproxy")
    text = next(a.content for a in arts if a.path == "nodes/cp1/check-apiserver.sh")
    pid_file = tmp_path / "haproxy.pid"
    text = text.replace(haproxy.PID_FILE, str(pid_file)).replace(
        f"127.0.0.1:{cluster.haproxy.stats_port}/", f"127.0.0.1:{server.server_port}/"
    )
    path = tmp_path / "check.sh"
    path.write_text(text)
    master = subprocess.Popen(["sleep", "30"])
    pid_file.write_text(f"{master.pid}\n")
    yield path, master, cluster.keepalived.check_interval
    master.kill()
    master.wait()
    server.shutdown()
    server.server_close()


def test_passes_while_haproxy_runs(script) -> None:
    path, _, _ = script
    r = subprocess.run(["sh", str(path)], capture_output=True, text=True, timeout=10, check=False)
    assert r.returncode == 0 and r.stderr == ""


def test_fails_when_haproxy_dies_after_the_http_check(script) -> None:
    """Without the watch this run would pass (HAProxy answered), and keepalived would learn of
    the death only at its next run; the timing is the failover benchmark's to measure."""
    path, master, _ = script
    proc = subprocess.Popen(["sh", str(path)])
    time.sleep(0.3)
    master.kill()
    master.wait()
    proc.wait(timeout=10)
    assert proc.returncode == 1


def test_fails_without_a_pid_file(script, tmp_path) -> None:
    path, _, _ = script
    (tmp_path / "haproxy.pid").unlink()
    r = subprocess.run(["sh", str(path)], capture_output=True, text=True, timeout=10, check=False)
    assert r.returncode == 1 and r.stderr == ""
