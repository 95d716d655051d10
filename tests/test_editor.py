"""The editor works offline on a fresh spec: `hacc init` writes the schema beside the spec and a
relative modeline, and the real yaml-language-server (scripts/test installs it with npm) reports
a schema error inline, and nothing for the valid starter spec, with no network at all."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO

SERVER = REPO / ".venv" / "node" / "node_modules" / ".bin" / "yaml-language-server"


class Lsp:
    """A minimal LSP client over the server's stdio: requests, notifications, diagnostics."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.next_id = 0
        self.diagnostics: dict[str, list[dict[str, Any]]] = {}
        self.replies: dict[int, Any] = {}
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while (line := out.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                return
            msg = json.loads(out.read(length))
            with self.lock:
                if msg.get("method") == "textDocument/publishDiagnostics":
                    self.diagnostics[msg["params"]["uri"]] = msg["params"]["diagnostics"]
                elif "id" in msg and "method" in msg:  # a request from the server: answer it
                    self._send({"id": msg["id"], "result": _answer(msg)})
                elif "id" in msg:
                    self.replies[msg["id"]] = msg.get("result")

    def request(self, method: str, params: Any, timeout: float = 30) -> Any:
        self.next_id += 1
        ident = self.next_id
        self._send({"id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if ident in self.replies:
                    return self.replies[ident]
            time.sleep(0.05)
        raise AssertionError(f"no answer to {method}")

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def diagnostics_for(self, uri: str, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if uri in self.diagnostics:
                    return self.diagnostics[uri]
            time.sleep(0.05)
        raise AssertionError(f"no diagnostics published for {uri}")

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=5)
            self.notify("exit", None)
            self.proc.wait(timeout=5)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.reader.join(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


def _answer(msg: dict[str, Any]) -> Any:
    if msg["method"] == "workspace/configuration":
        items = msg["params"]["items"]
        config = {"validate": True, "schemaStore": {"enable": False}, "schemas": {}}
        return [config if i.get("section") == "yaml" else None for i in items]
    return None


def open_and_diagnose(lsp: Lsp, path: Path) -> list[dict[str, Any]]:
    uri = path.as_uri()
    lsp.notify(
        "textDocument/didOpen",
        {
            "textDocument": {
                "uri": uri,
                "languageId": "yaml",
                "version": 1,
                "text": path.read_text(),
            }
        },
    )
    return lsp.diagnostics_for(uri)


@pytest.mark.slow
def test_yaml_language_server_uses_the_schema_beside_the_spec(tmp_path, hacc) -> None:
    if not SERVER.exists():
        pytest.fail("yaml-language-server is not installed; scripts/test installs it with npm")
    spec = tmp_path / "ha-cluster.yaml"
    assert hacc("init", str(spec), "--name", "edge").code == 0
    assert spec.read_text().startswith("# yaml-language-server: $schema=./hacluster-v1alpha1")
    assert (tmp_path / "hacluster-v1alpha1.schema.json").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec.read_text().replace("name: edge", "name: Edge_01", 1))
    # As root, in a network namespace of its own with no interface up: a fetch of the schema
    # from the network could only fail.
    offline = ["unshare", "--net"] if os.geteuid() == 0 else []
    lsp = Lsp([*offline, str(SERVER), "--stdio"])
    try:
        lsp.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": tmp_path.as_uri(),
                "capabilities": {"workspace": {"configuration": True}},
            },
        )
        lsp.notify("initialized", {})
        lsp.notify(
            "workspace/didChangeConfiguration",
            {"settings": {"yaml": {"validate": True, "schemaStore": {"enable": False}}}},
        )
        assert open_and_diagnose(lsp, spec) == []
        problems = open_and_diagnose(lsp, bad)
    finally:
        lsp.close()
    assert problems, "the server found nothing wrong with an invalid name"
    line = next(
        i for i, t in enumerate(spec.read_text().splitlines()) if t.startswith("  name: edge")
    )
    assert [p["range"]["start"]["line"] for p in problems] == [line], problems
    assert "pattern" in problems[0]["message"].lower(), problems
