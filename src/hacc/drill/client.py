"""The drill's client: paced, bounded TLS requests to the endpoint, one JSON line per request.

Run inside the client namespace: `python -m hacc.drill.client ADDR PORT SERVERNAME CA COUNT
INTERVAL TIMEOUT DEADLINE`. Each request is a new TCP and TLS connection verified against the
lab CA and the spec's DNS name (as kubectl would), then `GET /readyz`. Times are
`time.monotonic()`, which all processes on the machine share.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import sys
import time


def one(
    addr: str, port: int, name: str, context: ssl.SSLContext, timeout: float
) -> tuple[bool, str, str]:
    """One request on a fresh connection: (ok, which apiserver answered, error)."""
    try:
        with (
            socket.create_connection((addr, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            tls.sendall(
                f"GET /readyz HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode()
            )
            resp = http.client.HTTPResponse(tls)
            resp.begin()
            body = resp.read()
        ok = resp.status == 200 and body == b"ok"
        return ok, resp.getheader("X-Served-By") or "", "" if ok else f"HTTP {resp.status}"
    except (OSError, ssl.SSLError, http.client.HTTPException) as e:
        return False, "", f"{type(e).__name__}: {e}"[:160]


def main(argv: list[str]) -> int:
    addr, port, name, ca = argv[0], int(argv[1]), argv[2], argv[3]
    count, interval, timeout, deadline = (
        int(argv[4]),
        float(argv[5]),
        float(argv[6]),
        float(argv[7]),
    )
    context = ssl.create_default_context(cafile=ca)
    stop_at = time.monotonic() + deadline
    next_at = time.monotonic()
    for i in range(count):
        if time.monotonic() > stop_at:
            break
        start = time.monotonic()
        ok, served_by, error = one(addr, port, name, context, timeout)
        end = time.monotonic()
        print(
            json.dumps(
                {"i": i, "start": start, "end": end, "ok": ok, "by": served_by, "error": error}
            ),
            flush=True,
        )
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
