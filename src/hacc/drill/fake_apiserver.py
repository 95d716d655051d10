"""A stand-in kube-apiserver for the drill: HTTPS on :16443 answering /readyz, /livez, /healthz.

Run inside a node's namespace: `python -m hacc.drill.fake_apiserver NAME CERT KEY [BIND]`. Standard
library only. The TLS handshake happens in the per-connection thread, so health checks never
stall the accept loop.
"""

from __future__ import annotations

import socket
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PORT = 16443
HEALTH = {"/readyz", "/livez", "/healthz"}


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-kube-apiserver"

    def do_GET(self) -> None:
        ok = self.path.split("?")[0] in HEALTH
        body = b"ok" if ok else b"not found"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", self.server.node_name)  # type: ignore[attr-defined]
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, node: str, context: ssl.SSLContext, bind: str = "0.0.0.0") -> None:
        self.node_name = node
        self.context = context
        super().__init__((bind, PORT), Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(tls, client_address)


def main(argv: list[str]) -> int:
    node, cert, key, *bind = argv  # bind: 127.0.0.1 plays an apiserver on loopback only
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Server(node, context, *bind)
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    print(f"fake apiserver {node} on :{PORT}", flush=True)
    server.serve_forever(poll_interval=0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
