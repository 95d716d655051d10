"""The keepalived example moved onto the drill lab's own addresses, for the lab tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from conftest import KEEPALIVED_EXAMPLE
from hacc.drill.lab import VIP, node_address

NAME = "api.paris.example.com"
EXTRA = "k8s.paris.example.com"


def lab_spec(folder: Path, monitoring: dict[str, Any] | None = None) -> Path:
    """The keepalived example, on the lab's own addresses (so no remapping is needed)."""
    data = yaml.safe_load(KEEPALIVED_EXAMPLE.read_text())
    cp = data["spec"]["controlPlane"]
    cp["endpoint"]["address"] = VIP
    cp["extraSANs"] = [EXTRA]
    for i, node in enumerate(cp["nodes"]):
        node["address"] = node_address(i)
    for i, node in enumerate(data["spec"]["workers"]["nodes"]):
        node["address"] = f"198.18.0.{21 + i}"
    data["spec"]["network"]["subnet"] = "198.18.0.0/24"
    if monitoring is not None:
        data["spec"]["monitoring"] = monitoring
    path = folder / "lab-spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
