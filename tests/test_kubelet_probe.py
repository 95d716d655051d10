"""`hacc verify`'s kubelet probe against TLS servers on loopback that serve certificates as
MicroK8s issues kubelet.crt (CN system:node:<host>, O system:nodes, SAN DNS and IPs; reference
6.1), made by the real openssl."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from hacc.live.probes import KubeletProbe, kubelet_probe, kubelet_problems, kubelet_table
from realtools import tool


def certificate(tmp_path: Path, *, days: int, ips: str) -> tuple[Path, Path]:
    key, crt = tmp_path / f"kubelet-{days}.key", tmp_path / f"kubelet-{days}.crt"
    subprocess.run(
        [tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(crt), "-days", str(days), "-subj", "/CN=system:node:w1/O=system:nodes",
         "-addext", f"subjectAltName=DNS:w1,{ips}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return crt, key


@contextlib.contextmanager
def serving(crt: Path, key: Path) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that completes each handshake and closes."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()
        thread.join(10)


def test_a_kubelet_certificate_expiring_in_ten_days(tmp_path) -> None:
    with serving(*certificate(tmp_path, days=10, ips="IP:127.0.0.1")) as port:
        k = kubelet_probe("w1", "127.0.0.1", 2.0, port)
    assert k.tls == "ok" and k.has_address and k.days_left in (9, 10)
    assert not k.ok
    assert kubelet_problems([k]) == [
        f"the kubelet certificate w1 serves expires in {k.days_left} days (hacc certs renews it)"
    ]


def test_a_kubelet_certificate_without_the_nodes_address(tmp_path) -> None:
    with serving(*certificate(tmp_path, days=3650, ips="IP:198.18.10.99")) as port:
        k = kubelet_probe("w1", "127.0.0.1", 2.0, port)
    assert k.tls == "ok" and k.has_address is False and not k.ok
    (problem,) = kubelet_problems([k])
    assert "lacks its address 127.0.0.1" in problem
    assert "missing" in kubelet_table([k])[1]


def test_a_healthy_kubelet_and_one_that_does_not_answer(tmp_path) -> None:
    with serving(*certificate(tmp_path, days=3650, ips="IP:127.0.0.1")) as port:
        k = kubelet_probe("w1", "127.0.0.1", 2.0, port)
    assert k.ok and kubelet_problems([k]) == []
    free = socket.create_server(("127.0.0.1", 0))
    closed = free.getsockname()[1]
    free.close()
    down = kubelet_probe("w2", "127.0.0.1", 2.0, closed)
    # Shown, not failed: port 10250 is often closed to a workstation.
    assert down.tls == "refused" and down.ok and kubelet_problems([down]) == []
    assert isinstance(down, KubeletProbe)
