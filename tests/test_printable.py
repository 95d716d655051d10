"""One printable-text rule (hacc.compiler.printable) for every free-text pattern of the schema,
and no value that Argo CD's Go templates would evaluate."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from conftest import KEEPALIVED_EXAMPLE, replaced
from hacc.compiler.printable import FORBIDDEN, PRINTABLE_CHARS, forbidden
from hacc.compiler.schema_check import pattern_search
from hacc.schemas import load_schema
from test_patterns import ecma

# Free-text values that may hold characters of the refused ranges: a file's tab and newline.
ALLOWED = {"definitions/extraFile/properties/content": "\t\n"}
# The shortest valid value of each free-text pattern starts with one of these.
STARTS = ("a", "https://a")


def _located_patterns(node: Any, where: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            found.append((where, node["pattern"]))
        for key, value in node.items():
            found += _located_patterns(value, f"{where}/{key}".lstrip("/"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _located_patterns(value, f"{where}/{i}")
    return found


# Free text: a pattern built on a negated class (anything but ...), not on a list of what is
# allowed (a label prefix's look-ahead `[^/]` only measures a part the rest spells out).
NEGATED = re.compile(r"\[\^(?!/\])")
FREE_TEXT = [(w, p) for w, p in _located_patterns(load_schema()) if NEGATED.search(p)]


def test_the_rule_covers_what_it_says() -> None:
    refused = set(forbidden())
    for (
        c
    ) in "\x00\x1b\x7f\x85\x9b\u200b\u200d\u2028\u202e\u2066\u2069\ud800\udfff\ufeff\ufffe\uffff":
        assert c in refused, hex(ord(c))
    for c in "a ~é\u00a0\u200a\u200e\u2030\u206a\ue000\ufffd\U0001f600":
        assert c not in refused, hex(ord(c))
    assert len(refused) == sum(hi - lo + 1 for lo, hi in FORBIDDEN)
    line = re.compile(PRINTABLE_CHARS + "+")
    assert all(line.fullmatch(c) is None for c in refused)


def test_every_free_text_field_is_found() -> None:
    found = {w.split("/properties/")[-1] for w, _ in FREE_TEXT}
    for field in ("repoURL", "runbookURL", "content", "file", "sops", "args/items"):
        assert field in found, found
    assert len(FREE_TEXT) >= 8


@pytest.mark.parametrize(("where", "pattern"), FREE_TEXT, ids=[w for w, _ in FREE_TEXT])
def test_free_text_pattern_refuses_what_the_rule_refuses(where: str, pattern: str) -> None:
    base = next((s for s in STARTS if pattern_search(pattern, s + "x")), None)
    assert base is not None, f"{where}: no valid value starts with {STARTS}"
    allowed = ALLOWED.get(where, "")
    let_through = [
        f"U+{ord(c):04X}" for c in forbidden(allowed) if pattern_search(pattern, base + c + "x")
    ]
    assert not let_through, f"{where} lets through {let_through[:8]}"
    for c in allowed:
        assert pattern_search(pattern, base + c + "x")
    # editors and other JSON Schema tools (ECMA-262) refuse the same: a sample of each range
    for low, high in FORBIDDEN:
        for code in {low, (low + high) // 2, high}:
            if chr(code) not in allowed:
                assert not ecma(pattern, base + chr(code) + "x"), f"{where}: U+{code:04X}"


BAD = [
    (
        "C1 in the runbook URL",
        "  gitops:\n",
        '  monitoring:\n    runbookURL: "https://a/\\x85"\n  gitops:\n',
    ),
    ("a noncharacter in a flag", '--audit-log-maxage: "30"', '--audit-log-maxage: "3\\uFFFE0"'),
    ("a lone surrogate in a flag", '--audit-log-maxage: "30"', '--audit-log-maxage: "3\\uD800"'),
    ("a bidi override in a command", "- systemctl restart systemd-timesyncd", '- "echo \\u202E"'),
    ("a zero-width space in a file", "NTP=ntp.paris", "NTP=ntp.\u200bparis"),
    ("a Go template in the repository", "clusters.git", "{{.path.path}}.git"),
    ("template delimiters in the repository", "clusters.git", "c{{lusters}}.git"),
]


@pytest.mark.parametrize(("what", "old", "new"), BAD, ids=[b[0] for b in BAD])
def test_a_hostile_value_is_a_located_error(hacc, tmp_path, what, old, new) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(replaced(KEEPALIVED_EXAMPLE.read_text(), old, new), encoding="utf-8")
    result = hacc("build", str(spec), "-o", str(tmp_path / "out"))
    assert result.code == 1, result.err
    assert re.search(rf"{re.escape(str(spec))}:\d+:\d+: error\[HACC\d+\]", result.err), result.err
    assert not (tmp_path / "out").exists()


# Argo CD renders every string of an ApplicationSet's template with Go's text/template when
# goTemplate is true (argoproj/argo-cd applicationset/utils/utils.go: deeplyReplace visits each
# string field, Replace parses it with template.New("").Parse). Go's lexer
# (text/template/parse/lex.go) starts an action at the left delimiter "{{" and nowhere else; a
# "}}" outside an action is text. So a string is taken as written exactly when it holds no "{{".
GO_ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)


# Values that land in a string a Go template engine evaluates: the fleet ApplicationSet's
# template (Argo CD, above) and alerting rules' annotations (Prometheus expands each label and
# annotation: prometheus/prometheus rules/alerting.go, AlertingRule.Eval). Jinja's delimiters
# too, for safety.
GO_TEMPLATED = {
    "properties/spec/properties/gitops/properties/repoURL": "https://a/",
    "properties/spec/properties/monitoring/properties/runbookURL": "https://a/",
}
DELIMITERS = ("{{", "}}", "{%", "%}", "{#", "#}")


@pytest.mark.parametrize("where", sorted(GO_TEMPLATED))
def test_values_that_reach_a_template_hold_no_delimiter(where: str) -> None:
    pattern = dict(FREE_TEXT)[where]
    base = GO_TEMPLATED[where]
    assert pattern_search(pattern, base + "x")
    for d in DELIMITERS:
        assert not pattern_search(pattern, base + d + "x"), (where, d)
        assert not ecma(pattern, base + d + "x"), (where, d)


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def test_the_fleet_template_holds_only_hacc_s_own_actions(hacc, tmp_path) -> None:
    import yaml

    from test_gitops import second_cluster

    out = tmp_path / "o"
    assert (
        hacc("build", str(KEEPALIVED_EXAMPLE), str(second_cluster(tmp_path)), "-o", str(out)).code
        == 0
    )
    appsets = sorted((out / "_fleet" / "argocd").glob("*applicationset*.yaml"))
    assert appsets
    for appset in appsets:
        for doc in yaml.safe_load_all(appset.read_text()):
            if not doc or doc.get("kind") != "ApplicationSet":
                continue
            assert doc["spec"]["goTemplate"] is True
            template = doc["spec"]["template"]
            actions = {a.strip() for s in _strings(template) for a in GO_ACTION.findall(s)}
            # the Application's name and cluster come from hacc's values, the path from Git
            assert actions == {".values.app", ".values.cluster", ".path.path"}, actions
            assert not [s for s in _strings(template) if "{{" in GO_ACTION.sub("", s)]
            assert json.dumps(template).count("{{") == 3
