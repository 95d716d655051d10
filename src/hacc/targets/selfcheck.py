"""In-process checks of what hacc generated, run by `hacc build` before anything is written.

A failure here is a bug in hacc, never in the spec: the build stops with exit 3 naming the
artifact. The real consumers (cloud-init, keepalived, HAProxy, kubectl) check the same files in
the test suite; these are the checks cheap enough to run on every build.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hacc.schemas import load_schema
from hacc.targets.artifact import Artifact

CLOUD_CONFIG_SCHEMA = "cloud-config-v1.json"
LAUNCH_CONFIG_SCHEMA = "microk8s-launch-config.json"


@cache
def _known_keys() -> frozenset[str]:
    schema = load_schema(CLOUD_CONFIG_SCHEMA)
    known: set[str] = set()
    for part in schema["allOf"]:
        name = part["$ref"].rsplit("/", 1)[-1]
        known |= set(schema["$defs"][name].get("properties", {}))
    return frozenset(known)


@cache
def _cloud_config(keys: frozenset[str]) -> Any:
    """cloud-init's schema for a document with these top-level keys: its `allOf` holds one
    definition per module, each only `properties` of its own keys (cc_ubuntu_autoinstall adds
    `additionalProperties: true`), so the modules that name none of the keys cannot fail and
    are left out. The same verdict, several times faster."""
    from jsonschema import Draft4Validator

    schema = load_schema(CLOUD_CONFIG_SCHEMA)
    defs = schema["$defs"]
    parts = []
    for part in schema["allOf"]:
        d = defs[part["$ref"].rsplit("/", 1)[-1]]
        inert = (
            set(d) <= {"type", "properties", "additionalProperties"}
            and d.get("additionalProperties", True) is True
        )
        if not inert or keys & set(d.get("properties", {})):
            parts.append(part)
    return Draft4Validator({**schema, "allOf": parts})


@cache
def _launch_config() -> Any:
    from jsonschema import Draft7Validator

    return Draft7Validator(load_schema(LAUNCH_CONFIG_SCHEMA))


def _load_all(text: str) -> list[Any]:
    # cloud-init reads user-data with PyYAML's safe loader (YAML 1.1): read it the same way.
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return list(yaml.load_all(text, Loader=loader))


def _where(error: Any) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top)"


def cloud_config_problems(text: str) -> list[str]:
    """cloud-init's own schema, plus what its CLI lets through: unknown top-level keys."""
    if not text.startswith("#cloud-config\n"):
        return ["does not start with #cloud-config"]
    docs = _load_all(text)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return ["is not one YAML mapping"]
    validator = _cloud_config(frozenset(k for k in docs[0] if isinstance(k, str)))
    problems = [f"{_where(e)}: {e.message}" for e in validator.iter_errors(docs[0])]
    problems += [f"unknown top-level key {k!r}" for k in docs[0] if k not in _known_keys()]
    return problems


def launch_config_problems(text: str) -> list[str]:
    problems = []
    for i, doc in enumerate(_load_all(text)):
        problems += [
            f"document {i + 1}: {_where(e)}: {e.message}" for e in _launch_config().iter_errors(doc)
        ]
    return problems


CHECKS = {
    "cloud-config": cloud_config_problems,
    "launch-config": launch_config_problems,
}


def problems(artifacts: list[Artifact]) -> list[str]:
    out = []
    for a in artifacts:
        check = CHECKS.get(a.kind.check or "")
        if check:
            out += [f"{a.path}: {p}" for p in check(a.content)]
    return out
