"""Inputs that made hacc exit 3 (an internal error) get a clear error instead: a deep document
through the fast YAML loader, a deep kubeconfig on stdin, a sops that never exits. (Git's lock
file and a missing git: tests/test_commit_recovery.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import KEEPALIVED_EXAMPLE, replaced
from hacc.compiler import loader

# A `'` after a space opens no quoted string in a plain scalar: the scan for deep flow
# collections is misled, and libyaml composes the rest.
DEEP = "apiVersion: x '\nkind: " + "{b: " * 500 + "1" + "}" * 500 + "\n"


def test_a_deep_document_through_the_fast_loader_is_told_as_ruamel_tells_it(hacc, tmp_path) -> None:
    from ruamel.yaml import YAML

    assert loader._too_deep(DEEP) is None and loader._compose_fast(DEEP) is not None
    expected = loader._compose_located(DEEP, "s.yaml", YAML(typ="rt"))
    assert loader.load_text(DEEP, "s.yaml") == expected
    assert [d.code for d in expected[1]] == ["HACC004"]
    spec = tmp_path / "s.yaml"
    spec.write_text(DEEP)
    r = hacc("validate", str(spec))
    assert r.code == 1 and f"{spec}:1:1: error[HACC004]: the document is nested too deeply" in r.err


def test_a_deep_kubeconfig_on_stdin_is_refused(tmp_path) -> None:
    deep = "kind: Config\nclusters: " + "[" * 20_000 + "]" * 20_000 + "\n"
    p = subprocess.run(
        [sys.executable, "-m", "hacc", "kubeconfig", str(KEEPALIVED_EXAMPLE)],
        input=deep,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert p.returncode == 1, p.stderr
    assert "nested too deeply" in p.stderr and "internal error" not in p.stderr


def test_a_sops_that_never_exits_is_stopped(hacc, tmp_path, monkeypatch) -> None:
    from hacc.outdir import secret_store

    fake = tmp_path / "bin" / "sops"
    fake.parent.mkdir()
    pid_file = tmp_path / "sops.pid"
    fake.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 600\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(secret_store, "SOPS_TIMEOUT", 1.0)
    (tmp_path / "secrets.sops.yaml").write_text("microk8s: {joinToken: ENC[...]}\n")
    spec = tmp_path / "c.yaml"
    spec.write_text(
        replaced(
            KEEPALIVED_EXAMPLE.read_text(),
            "joinToken: {env: HACC_JOIN_TOKEN}",
            "joinToken: {sops: secrets.sops.yaml, key: microk8s.joinToken}",
        )
    )
    r = hacc("materialize", str(spec), "-o", str(tmp_path / "private"))
    assert r.code == 1 and "error[HACC231]" in r.err
    assert "sops did not finish decrypting" in r.err and "was stopped" in r.err
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left running
        os.kill(pid, 0)
