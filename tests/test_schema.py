"""The schema is the contract: closed, described, strict about every string that reaches a file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft7Validator

from conftest import KEEPALIVED_EXAMPLE, replaced
from hacc.compiler.frontend import analyze
from hacc.compiler.loader import load_text
from hacc.compiler.model import apply_defaults, build_model
from hacc.compiler.schema_errors import validate
from hacc.schemas import load_schema

SCHEMA = load_schema()


def walk(s: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(s, dict):
        yield path, s
        for k, v in s.items():
            if isinstance(v, dict):
                if k in ("properties", "definitions"):
                    for name, sub in v.items():
                        yield from walk(sub, f"{path}/{k}/{name}")
                else:
                    yield from walk(v, f"{path}/{k}")
            elif isinstance(v, list):
                for i, sub in enumerate(v):
                    yield from walk(sub, f"{path}/{k}/{i}")


def test_schema_is_valid_draft7() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(SCHEMA)


def test_every_object_is_closed() -> None:
    for path, s in walk(SCHEMA):
        if s.get("type") == "object":
            closed = s.get("additionalProperties") is False
            typed_map = "propertyNames" in s and isinstance(s.get("additionalProperties"), dict)
            assert closed or typed_map, path


def test_every_property_is_described() -> None:
    for path, s in walk(SCHEMA):
        for name, sub in s.get("properties", {}).items():
            assert sub.get("description"), f"{path}/properties/{name}"


def test_every_string_is_constrained() -> None:
    for path, s in walk(SCHEMA):
        if s.get("type") == "string":
            assert "pattern" in s or "enum" in s, path
            if "pattern" in s:
                # anchored at both ends, so no value can smuggle in a newline after a valid prefix
                assert s["pattern"].startswith("^") and s["pattern"].endswith("$"), path


@pytest.mark.parametrize("bad", ["a\nb", "a b", "a'b", 'a"b', "a\\b", "a\tb", "a\x00b", "$(x)`y`"])
def test_flag_values_reject_injection(bad: str) -> None:
    doc, _ = load_text(KEEPALIVED_EXAMPLE.read_text(), "x.yaml")
    assert doc is not None
    doc.data["spec"]["microk8s"]["apiserverArgs"]["--audit-log-maxage"] = bad
    assert [d.code for d in validate(doc)] == ["HACC104"]


def test_defaults_are_valid_and_documented() -> None:
    for path, s in walk(SCHEMA):
        if "default" in s:
            sub = {
                "definitions": SCHEMA["definitions"],
                **{k: v for k, v in s.items() if k not in ("default", "description")},
            }
            errors = list(Draft7Validator(sub).iter_errors(s["default"]))
            assert not errors, (path, errors)
            if s["default"] not in ({}, []):
                assert "Default:" in s.get("description", ""), path


def minimal_spec(**control_plane: Any) -> dict[str, Any]:
    return {
        "apiVersion": "hacc.dev/v1alpha1",
        "kind": "HACluster",
        "metadata": {"name": "m"},
        "spec": {
            "microk8s": {"channel": "1.32/stable"},
            "network": {"subnet": "198.18.0.0/24"},
            "controlPlane": {
                "endpoint": {"address": "198.18.0.100"},
                "nodes": [{"name": f"cp{i}", "address": f"198.18.0.1{i}"} for i in range(3)],
                **control_plane,
            },
        },
    }


def test_minimal_spec_gets_every_default() -> None:
    minimal = minimal_spec()
    full = apply_defaults(minimal)
    assert list(Draft7Validator(SCHEMA).iter_errors(full)) == []
    c = build_model(minimal, "m.yaml")
    assert c.mode == "keepalived-haproxy"
    assert c.endpoint.port == 8443
    assert c.interface == "eth0" and all(n.interface == "eth0" for n in c.nodes)
    assert c.keepalived.virtual_router_id == 51 and c.keepalived.vrrp_version == 2
    assert c.haproxy.check_path == "/readyz" and c.haproxy.balance == "leastconn"
    assert c.join_token.kind == "env" and c.join_token.ref == "HACC_JOIN_TOKEN"
    assert c.worker_endpoint == "local-proxy" and c.workers == ()
    assert c.sans == ("198.18.0.100",)


@pytest.mark.parametrize(
    "mode,port", [("keepalived-haproxy", 8443), ("kube-vip", 16443), ("external", 16443)]
)
def test_port_default_depends_on_mode(mode: str, port: int) -> None:
    spec = minimal_spec(loadBalancer={"mode": mode})
    assert build_model(spec, "m.yaml").endpoint.port == port


def test_fractional_advert_picks_vrrp3(tmp_path) -> None:
    text = replaced(
        KEEPALIVED_EXAMPLE.read_text(),
        "keepalived: {virtualRouterId: 51}",
        "keepalived: {virtualRouterId: 51, advertInterval: 0.2}",
    )
    assert "advertInterval: 0.2" in text
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    result = analyze(spec)
    assert result.ok and result.cluster is not None
    assert result.cluster.keepalived.vrrp_version == 3


def subschemas(s: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield s
    for key in ("properties", "definitions"):
        for sub in s.get(key, {}).values():
            yield from subschemas(sub)
    for key in ("items", "additionalProperties", "propertyNames"):
        if isinstance(s.get(key), dict):
            yield from subschemas(s[key])
    for key in ("anyOf", "oneOf"):
        for sub in s.get(key, []):
            yield from subschemas(sub)


def test_schema_uses_only_keywords_the_fast_validator_knows() -> None:
    from hacc.compiler.schema_check import KEYWORDS

    seen = set()
    for s in subschemas(SCHEMA):
        assert set(s) <= KEYWORDS, set(s) - KEYWORDS
        seen |= set(s)
    assert len(seen) > 20
