"""Upstream CRD schemas, checked strictly: a field the CRD does not declare is an error (as
`kubectl apply --validate=strict` reports it), not silently pruned by the apiserver."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"
FOLDERS = ("prometheus-operator", "gitops-crds")


def strict(schema: Any) -> Any:
    """`schema` with every object that lists its properties closed to any other."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@lru_cache(maxsize=1)
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the served version's schema, closed."""
    out = {}
    for folder in FOLDERS:
        for path in sorted(Path(FIXTURES / folder).glob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text()):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                group = crd["spec"]["group"]
                for v in crd["spec"]["versions"]:
                    if v.get("served"):
                        schema = strict(copy.deepcopy(v["schema"]["openAPIV3Schema"]))
                        # metadata is the apiserver's (ObjectMeta), not the CRD's
                        schema["properties"]["metadata"] = {"type": "object"}
                        out[(f"{group}/{v['name']}", crd["spec"]["names"]["kind"])] = schema
    return out


def problems(doc: dict[str, Any]) -> list[str]:
    schema = schemas()[(doc["apiVersion"], doc["kind"])]
    validator = jsonschema.Draft4Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]
