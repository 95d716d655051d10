from __future__ import annotations

import pytest

from conftest import EXAMPLES
from hacc.compiler.frontend import analyze
from hacc.compiler.model import VIP_MODES


def test_there_is_one_example_per_mode() -> None:
    modes = set()
    for path in EXAMPLES:
        result = analyze(path)
        assert result.cluster is not None
        modes.add(result.cluster.mode)
    assert modes == {"keepalived-haproxy", "kube-vip", "external"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_clean(path, hacc) -> None:
    r = hacc("validate", "--strict", str(path))
    assert r.code == 0, r.err
    assert r.err == "1 spec valid\n"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_highly_available(path) -> None:
    cluster = analyze(path).cluster
    assert cluster is not None
    assert len(cluster.control_plane) >= 3
    if cluster.mode in VIP_MODES:
        assert cluster.endpoint.address in cluster.sans
