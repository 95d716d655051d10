"""Values the schema accepts are values their real consumer accepts: a GitOps branch that
`git check-ref-format --branch` takes, a blackbox exporter port that exists, a snap channel
without leading zeros, a join token that is not hacc's placeholder."""

from __future__ import annotations

import itertools
import json
import random
import subprocess

import pytest
import yaml

from conftest import KEEPALIVED_EXAMPLE
from hacc.compiler.frontend import analyze_text
from hacc.compiler.schema_check import pattern_search
from hacc.schemas import load_schema
from realtools import tool


def _gitops(field: str) -> str:
    gitops = load_schema()["properties"]["spec"]["properties"]["gitops"]["properties"]
    pattern: str = gitops[field]["pattern"]
    return pattern


def branch_names() -> list[str]:
    """Names from the schema's own characters, built to reach each of git's rules."""
    parts = ["a", "B9", ".", "..", "-", "_", "lock", ".lock", "HEAD", "main", "x.y"]
    names = {"".join(p) for n in (1, 2, 3) for p in itertools.product(parts, repeat=n)}
    names |= {f"{a}/{b}" for a, b in itertools.product(parts, repeat=2)}
    rng = random.Random(29)
    alphabet = "aZ09._-/"
    names |= {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))) for _ in range(400)}
    return sorted(names)


def test_the_branch_pattern_is_gits_check_ref_format(tmp_path) -> None:
    git = tool("git")
    subprocess.run([git, "init", "-q", str(tmp_path)], check=True)
    pattern = _gitops("branch")
    names = branch_names()
    # one git process for all: check-ref-format --stdin does not exist, so a shell loop
    script = 'for n; do git check-ref-format --branch "$n" >/dev/null 2>&1; echo $?; done'
    r = subprocess.run(
        ["sh", "-c", script, "sh", *names], cwd=tmp_path, capture_output=True, text=True,
        check=True, timeout=300,
    )  # fmt: skip
    git_ok = [code == "0" for code in r.stdout.split()]
    assert len(git_ok) == len(names)
    disagree = [
        (n, ok) for n, ok in zip(names, git_ok, strict=True) if pattern_search(pattern, n) != ok
    ]
    assert disagree == [], disagree[:10]
    assert sum(git_ok) > 100 and sum(not ok for ok in git_ok) > 100  # both sides are exercised
    for refused in ("-a", "a.lock", ".a", "a.", "HEAD", "a/.b", "a..b"):
        assert not pattern_search(pattern, refused)


def spec(**changes: object) -> str:
    data = yaml.safe_load(KEEPALIVED_EXAMPLE.read_text())
    for path, value in changes.items():
        node = data["spec"]
        *parents, leaf = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    "field, value, valid",
    [
        ("gitops__branch", "release/1.33", True),
        ("gitops__branch", "HEAD", False),
        ("gitops__branch", "-a", False),
        ("gitops__branch", "a.lock", False),
        ("monitoring__blackboxExporter", "127.0.0.1:65535", True),
        ("monitoring__blackboxExporter", "127.0.0.1:65536", False),
        ("monitoring__blackboxExporter", "127.0.0.1:99999", False),
        ("microk8s__channel", "1.33/stable", True),
        ("microk8s__channel", "01.33/stable", False),
        ("microk8s__channel", "1.033/stable", False),
    ],
)
def test_values_the_consumer_refuses_do_not_validate(field, value, valid) -> None:
    analysis = analyze_text(spec(**{field: value}), "s.yaml")
    assert analysis.ok is valid, [d.message for d in analysis.diagnostics]


@pytest.mark.parametrize("to", ["01.33/stable", "1.033/stable", "1.33/Stable"])
def test_upgrade_refuses_a_channel_with_leading_zeros(hacc, tmp_path, to) -> None:
    r = hacc("upgrade", str(KEEPALIVED_EXAMPLE), "--to", to, "-o", str(tmp_path / "up"))
    assert r.code == 1 and "is not a snap channel" in r.err
    assert not (tmp_path / "up").exists()


def test_materialize_refuses_a_token_made_of_placeholders(hacc, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HACC_JOIN_TOKEN", "__HACC_JOIN_TOKEN____HACC_JOIN_TOKEN__")
    r = hacc("materialize", str(KEEPALIVED_EXAMPLE), "-o", str(tmp_path / "private"))
    assert r.code == 1 and "placeholder" in r.err and "HACC230" in r.err, r.err
    assert not (tmp_path / "private").exists()
