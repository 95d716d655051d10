"""`hacc verify`'s text report shows what a server sent as text: a hostile apiserver's status
line (a terminal title, a screen clear, a C1 control, a bidi override) is printed escaped."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from pathlib import Path

from hacc.live.probes import Report, Target, probe, table
from realtools import tool

HOSTILE = b"HTTP/1.1 200 \x1b]0;pwned\x07\x1b[2J\x9b31m\xe2\x80\xae ok"


def serve(tmp_path: Path, answer: bytes) -> tuple[int, threading.Thread]:
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30", "-keyout", str(key),
         "-out", str(crt), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def once() -> None:
        with listener:
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(answer + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
                with contextlib.suppress(OSError):  # the client may go first
                    tls.unwrap()

    thread = threading.Thread(target=once, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_a_hostile_status_line_is_printed_escaped(tmp_path) -> None:
    port, thread = serve(tmp_path, HOSTILE)
    p = probe(Target("endpoint", "127.0.0.1", port, []), "127.0.0.1", None, 5)
    thread.join(10)
    assert p.readyz.startswith("answered 200 \x1b]0;")  # the probe keeps what it got
    text = table(Report("c", None, "not checked", [], [p], f"the endpoint {p.readyz}"))
    for raw in ("\x1b", "\x07", "\x9b", "\x80"):
        assert raw not in text
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m" in text
    assert all(line.isprintable() for line in text.splitlines())
