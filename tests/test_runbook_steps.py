"""The runbook's bootstrap steps follow the spec: no worker step for a spec without workers."""

from __future__ import annotations

import re

import yaml

from conftest import REPO


def test_no_worker_step_without_workers(hacc, tmp_path) -> None:
    data = yaml.safe_load((REPO / "examples" / "keepalived-haproxy.yaml").read_text())
    del data["spec"]["workers"]
    nodes = data["spec"]["controlPlane"]["nodes"]
    nodes += [
        {"name": "cp4", "address": "198.18.10.14", "failureDomain": 1},
        {"name": "cp5", "address": "198.18.10.15", "failureDomain": 2},
    ]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data))
    assert hacc("build", str(spec), "-o", str(tmp_path / "out")).code == 0
    runbook = (tmp_path / "out" / data["metadata"]["name"] / "RUNBOOK.md").read_text()
    order = runbook.split("## 1. Bootstrap order", 1)[1].split("\n## ", 1)[0]
    assert "Boot the workers" not in order
    assert re.findall(r"^(\d)\. ", order, re.M) == ["1", "2", "3"]
    assert "3. The VIP appears by itself" in order
