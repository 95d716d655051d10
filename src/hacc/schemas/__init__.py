"""JSON Schemas shipped as package data."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

SPEC_SCHEMA = "hacluster-v1alpha1.json"


def schema_text(name: str = SPEC_SCHEMA) -> str:
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


@cache
def load_schema(name: str = SPEC_SCHEMA) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text(name))
    return data
