"""Checks across specs and over time: no two clusters take one address, VIP or virtual router
id (HACC227), and clusters no spec builds any more are reported and pruned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import KEEPALIVED_EXAMPLE
from hacc.outdir.writer import STATE_FILE

BASE = yaml.safe_load(KEEPALIVED_EXAMPLE.read_text())


def _replace(data: Any, old: str, new: str) -> Any:
    if isinstance(data, str):
        return data.replace(old, new)
    if isinstance(data, dict):
        return {k: _replace(v, old, new) for k, v in data.items()}
    if isinstance(data, list):
        return [_replace(v, old, new) for v in data]
    return data


def spec(path: Path, name: str, *, subnet: str = "198.18.10.", vrid: int | None = None) -> Path:
    data = _replace(BASE, "198.18.10.", subnet)
    data["metadata"]["name"] = name
    if vrid is not None:
        data["spec"]["controlPlane"]["loadBalancer"]["keepalived"]["virtualRouterId"] = vrid
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_two_clusters_on_the_same_addresses(hacc, tmp_path) -> None:
    a = spec(tmp_path / "a.yaml", "edge-a")
    b = spec(tmp_path / "b.yaml", "edge-b")
    r = hacc("validate", str(a), str(b))
    assert r.code == 1
    clashes = [line for line in r.err.splitlines() if "HACC227" in line]
    assert clashes and all(line.startswith(f"{b}:") for line in clashes)
    assert any("address 198.18.10.11 is also used by cluster edge-a" in c for c in clashes)
    assert any("the VIP 198.18.10.100" in c for c in clashes)
    assert hacc("validate", str(a)).code == 0 and hacc("validate", str(b)).code == 0


def test_same_virtual_router_id_on_one_subnet(hacc, tmp_path) -> None:
    data = json.loads(json.dumps(BASE))
    data["metadata"]["name"] = "edge-b"
    cp = data["spec"]["controlPlane"]
    cp["endpoint"]["address"] = "198.18.10.99"
    for i, node in enumerate(cp["nodes"]):
        node["address"] = f"198.18.10.{31 + i}"
    for i, node in enumerate(data["spec"]["workers"]["nodes"]):
        node["address"] = f"198.18.10.{41 + i}"
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(data, sort_keys=False))
    a = spec(tmp_path / "a.yaml", "edge-a")
    r = hacc("validate", str(a), str(b))
    assert r.code == 1 and r.err.count("error[HACC227]") == 1
    assert "virtual router id 51 on 198.18.10.0/24 is also used" in r.err
    cp["loadBalancer"]["keepalived"]["virtualRouterId"] = 52
    b.write_text(yaml.safe_dump(data, sort_keys=False))
    assert hacc("validate", str(a), str(b)).code == 0


def test_clusters_already_built_count(hacc, tmp_path) -> None:
    out = tmp_path / "out"
    a = spec(tmp_path / "a.yaml", "edge-a")
    b = spec(tmp_path / "b.yaml", "edge-b")
    assert hacc("build", str(a), "-o", str(out)).code == 0
    r = hacc("build", str(b), "-o", str(out))
    assert r.code == 1 and "recorded in its output folder" in r.err
    assert not (out / "edge-b").exists()
    other = spec(tmp_path / "b.yaml", "edge-b", subnet="198.18.11.")
    assert hacc("build", str(other), "-o", str(out)).code == 0


def test_renamed_and_deleted_specs_leave_orphans_that_prune_removes(hacc, tmp_path) -> None:
    out = tmp_path / "out"
    a = spec(tmp_path / "a.yaml", "edge-a")
    c = spec(tmp_path / "c.yaml", "edge-c", subnet="198.18.12.")
    assert hacc("build", str(a), str(c), "-o", str(out)).code == 0
    # Building a subset (as pre-commit does) does not make the others orphans.
    assert hacc("build", "--check", str(a), "-o", str(out)).code == 0
    notes = out / "edge-a" / "notes.txt"
    notes.write_text("mine\n")
    spec(a, "edge-renamed")  # the same file now builds another cluster
    r = hacc("build", "--check", str(a), "-o", str(out))
    assert r.code == 1 and "no spec builds cluster edge-a any more" in r.err
    assert "now builds cluster edge-renamed" in r.err
    plan = hacc("plan", str(a), "-o", str(out))
    assert "`hacc build --prune` removes them" in plan.out and "edge-a/" in plan.out
    r = hacc("build", str(a), "-o", str(out))
    assert r.code == 0 and "hacc build --prune removes its files" in r.err
    assert (out / "edge-a" / STATE_FILE).exists()
    r = hacc("build", "--prune", str(a), "-o", str(out))
    assert r.code == 0, r.err
    assert sorted(p.name for p in (out / "edge-a").rglob("*")) == ["notes.txt"]
    assert (out / "edge-c" / STATE_FILE).exists()  # still built by c.yaml
    c.unlink()
    r = hacc("build", "--check", str(a), "-o", str(out))
    assert r.code == 1 and "its spec ../../c.yaml is gone" in r.err
    assert hacc("build", "--prune", str(a), "-o", str(out)).code == 0
    assert not (out / "edge-c").exists()
    assert hacc("build", "--check", str(a), "-o", str(out)).code == 0
    fleet = json.loads((out / "edge-renamed" / STATE_FILE).read_text())
    assert fleet["spec"] == "../../a.yaml"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("claims", {"addresses": 7, "vip": ["x"], "vrrp": None}),
        ("claims", "198.18.10.11"),
        ("spec", "../../../../etc/passwd"),
        ("spec", "/etc/hostname.yaml"),
        ("spec", ["a.yaml"]),
    ],
)
def test_odd_records_in_another_folder_are_ignored(hacc, tmp_path, field, value) -> None:
    """Another cluster's state file is input too: records of the wrong shape count for nothing,
    and a spec path is only ever a relative YAML file."""
    out = tmp_path / "out"
    a = spec(tmp_path / "a.yaml", "edge-a")
    assert hacc("build", str(a), "-o", str(out)).code == 0
    state = out / "edge-a" / STATE_FILE
    data = json.loads(state.read_text())
    data[field] = value
    state.write_text(json.dumps(data))
    b = spec(tmp_path / "b.yaml", "edge-b", subnet="198.18.11.")
    r = hacc("build", "--check", str(b), "-o", str(out))
    assert r.code == 1 and "internal error" not in r.err  # b is not built yet
    assert "edge-a" not in r.err  # neither an orphan nor a clash
    assert hacc("build", str(b), "-o", str(out)).code == 0
