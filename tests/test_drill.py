"""A CI-sized failover drill on the generated configurations, in namespaces the drill makes itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import KEEPALIVED_EXAMPLE
from hacc.commands.drill import with_profile
from hacc.compiler.frontend import analyze
from hacc.drill.configs import UnsafeConfig, from_cluster, remap
from hacc.drill.lab import host_state, namespaces
from hacc.drill.report import verdict
from hacc.drill.runner import Timing, run_drill
from hacc.drill.scenarios import BY_NAME
from realtools import require_root, tool

pytestmark = pytest.mark.slow
CI_TIMING = Timing(pre=1.0, observe=6.0, after=6.0)


def our_leftovers() -> list[str]:
    left = [n for n in namespaces() if n.startswith("hd")]
    left += [str(p) for p in Path("/run").glob("hacc-drill-*")]
    return left


@pytest.fixture
def drill_ready():
    require_root()
    for name in ("keepalived", "haproxy", "ip", "bridge", "openssl", "curl"):
        tool(name)
    assert our_leftovers() == [], "a previous drill left something behind"
    before = host_state()
    yield
    assert host_state() == before, "the host's links, addresses, routes or sysctls changed"
    assert our_leftovers() == []


@pytest.mark.parametrize("profile", ["default", "fast"])
def test_ci_drill(profile, drill_ready) -> None:
    analysis = analyze(KEEPALIVED_EXAMPLE)
    cluster = with_profile(analysis.document.data, profile, str(KEEPALIVED_EXAMPLE))
    scenarios = [BY_NAME["holder-cut-off"], BY_NAME["apiserver-kill-other"]]
    results, changed = run_drill(lambda d: from_cluster(cluster, d), scenarios, CI_TIMING)
    assert changed == []
    cut, api = results
    # the VIP moves when its holder is cut off (3 adverts + skew: about 3.5 s, or 0.35 s fast)
    assert cut.vip_moved_s is not None
    assert cut.vip_moved_s < (4.5 if profile == "default" else 1.0), cut
    # A dead apiserver behind HAProxy costs no request sent after its death. Whether a request
    # was sent before the death is timed by the drill's own clock, which a busy CI machine can
    # skew by a few milliseconds: a single such failure is re-measured once, and must not recur.
    if api.failed - api.in_flight_failed == 1:
        (api,), changed = run_drill(
            lambda d: from_cluster(cluster, d), [BY_NAME["apiserver-kill-other"]], CI_TIMING
        )
        assert changed == []
        results = [cut, api]
    assert api.failed - api.in_flight_failed == 0 and api.vip_moved_s is None, api
    for r in results:
        assert r.one_holder_after, r
        assert r.failback_failed <= 1, r  # at most the request in flight at recovery
        assert verdict(r) == (True, ""), r
        assert r.total > 100
        assert r.timeline is not None and len(r.timeline.requests) >= r.total
    # the measurements drawn: the same bytes from the same measurements
    from xml.etree import ElementTree

    from hacc.drill.plot import svg
    from hacc.drill.runner import as_json

    picture = svg(as_json(results))
    assert picture == svg(as_json(results))
    texts = "".join(ElementTree.fromstring(picture).itertext())
    assert "holder cut off" in texts and f"VIP on {cut.target}" in texts


def test_interrupted_drill_cleans_up(drill_ready, tmp_path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hacc",
            "drill",
            str(KEEPALIVED_EXAMPLE),
            "--scenarios",
            "holder-cut-off",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        n.startswith(f"hd{proc.pid}-") for n in namespaces()
    ):
        time.sleep(0.2)
    assert any(n.startswith(f"hd{proc.pid}-") for n in namespaces()), "the lab never came up"
    time.sleep(2)  # daemons running
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err


def test_drill_refuses_without_root(hacc, monkeypatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    r = hacc("drill", str(KEEPALIVED_EXAMPLE))
    assert r.code == 1 and "needs root" in r.err


def test_drill_refuses_other_modes(hacc) -> None:
    r = hacc("drill", str(KEEPALIVED_EXAMPLE.parent / "kube-vip.yaml"))
    assert r.code == 1 and "keepalived-haproxy" in r.err


def test_remap_refuses_addresses_outside_the_lab() -> None:
    assert remap("peer 198.18.10.11\n", {"198.18.10.11": "198.18.0.11"}, {}) == "peer 198.18.0.11\n"
    with pytest.raises(UnsafeConfig):
        remap("peer 10.0.0.1\n", {}, {})


def test_plot_is_deterministic_and_draws_every_request(tmp_path) -> None:
    from xml.etree import ElementTree

    from hacc.drill.plot import svg

    def result(title: str, failed: list[int]) -> dict:
        requests = [(i * 0.05 - 1.0, i * 0.05 - 0.97, i not in failed) for i in range(200)]
        return {
            "config": "hacc fast",
            "title": title,
            "target": "cp1",
            "vip_moved_s": 0.3,
            "outage_s": 0.4,
            "failed": len(failed),
            "timeline": {
                "holder": "cp1",
                "requests": requests,
                "vip": [
                    (0.05, "cp1", False),
                    (0.3, "cp2", True),
                    (7.5, "cp2", False),
                    (7.6, "cp1", True),
                ],
                "recovered": 7.0,
            },
        }

    results = [result("holder cut off", [21, 22, 23]), result("HAProxy killed", [])]
    one, two = svg(results), svg(results)
    assert one == two and one.startswith(b"<?xml")
    root = ElementTree.fromstring(one)
    texts = "".join(root.itertext())
    assert "holder cut off" in texts and "HAProxy killed" in texts and "VIP on cp2" in texts
    assert svg([result("holder cut off", [21])]) != svg([result("holder cut off", [22])])
    (tmp_path / "drill.svg").write_bytes(one)


def test_drilled_configs_differ_only_in_addresses_and_paths() -> None:
    cluster = analyze(KEEPALIVED_EXAMPLE).cluster
    config = from_cluster(cluster, Path("/run/hacc-drill-x"))
    from hacc.targets import render_cluster

    arts = {a.path: a.content for a in render_cluster(cluster)}
    original = arts["nodes/cp2/haproxy.cfg"].splitlines()
    drilled = config.files["cp2"].haproxy_cfg.splitlines()
    changed = [(a, b) for a, b in zip(original, drilled, strict=True) if a != b]
    assert changed and all("198.18.10." in a or "/run/haproxy" in a for a, _ in changed)


def test_a_leftover_namespace_is_a_clear_error_not_a_bug(hacc, drill_ready) -> None:
    """Another run's namespace in the way: exit 1 with one line, and ours are cleaned up."""
    import os
    import subprocess

    name = f"hd{os.getpid()}-lan"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        r = hacc("drill", str(KEEPALIVED_EXAMPLE), "--scenarios", "apiserver-kill-other")
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)
    assert r.code == 1, r.err
    assert "already exists" in r.err and "internal error" not in r.err


def _failback_timeline() -> dict:
    """cp2 took the VIP; at failback cp1 takes it back a moment before cp2 lets it go, as
    keepalived's adverts cross (the drill's own table: cp1 holds it after)."""
    return {
        "holder": "cp1",
        "requests": [(-1.0, -0.9, True), (8.0, 8.1, True)],
        "vip": [(0.05, "cp1", False), (0.3, "cp2", True), (7.5, "cp1", True), (7.6, "cp2", False)],
        "recovered": 7.0,
    }


def _failback_result() -> dict:
    return {
        "config": "hacc default",
        "title": "holder cut off",
        "target": "cp1",
        "vip_moved_s": 0.25,
        "outage_s": 0.3,
        "failed": 0,
        "timeline": _failback_timeline(),
    }


def test_the_plot_follows_every_holder_not_the_last_event() -> None:
    from hacc.drill.plot import NOBODY, holdings

    spans = holdings(_failback_timeline(), -1.0, 9.0)
    assert spans["cp1"] == [(-1.0, 0.05), (7.5, 9.0)]  # held again after failback, to the end
    assert spans["cp2"] == [(0.3, 7.6)]  # both for 0.1 s: two bars, not one level
    assert spans[NOBODY] == [(0.05, 0.3)]
    # the drawn rows have labels, "nobody" too
    from xml.etree import ElementTree

    from hacc.drill.plot import svg

    result = _failback_result()
    texts = "".join(ElementTree.fromstring(svg([result])).itertext())
    assert "VIP on nobody" in texts and "VIP on cp1" in texts and "VIP on cp2" in texts


def test_plot_saved_measurements_and_fail_early_without_matplotlib(
    hacc, tmp_path, monkeypatch
) -> None:
    import json
    import sys as _sys

    from hacc.drill.plot import svg

    result = _failback_result()
    saved = tmp_path / "drill.json"
    saved.write_text(json.dumps({"cluster": "x", "results": [result]}))
    out = tmp_path / "drill.svg"
    r = hacc("drill", "--from-json", str(saved), "--plot", str(out))
    assert r.code == 0, r.err
    assert out.read_bytes() == svg(json.loads(saved.read_text())["results"])
    assert hacc("drill", "--from-json", str(saved)).code == 2  # nothing to draw into
    saved.write_text("{}")
    bad = hacc("drill", "--from-json", str(saved), "--plot", str(out))
    assert bad.code == 1 and "not the JSON of hacc drill --json" in bad.err
    # no matplotlib: refused before the drill (here, before the root check) rather than after
    monkeypatch.setitem(_sys.modules, "matplotlib", None)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    r = hacc("drill", str(KEEPALIVED_EXAMPLE), "--plot", str(out))
    assert r.code == 1 and "needs matplotlib" in r.err and "needs root" not in r.err
