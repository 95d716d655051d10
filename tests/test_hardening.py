"""An output folder nobody can turn against its owner, and mistakes reported as mistakes.

Each test plants what an attacker (a pull request to the GitOps repository) or a careless user
could leave in OUT, then checks that hacc exits 1 with one clear line, touches nothing outside
OUT, replaces nothing but regular files, and never hangs."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import KEEPALIVED_EXAMPLE, REPO, replaced, run_hacc
from hacc.outdir.writer import STATE_FILE

CLUSTER = "edge-paris-01"


def snapshot(root: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry below `root`: its type and content (or link target)."""
    out: dict[str, tuple[int, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[str(p)] = (st.st_mode, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[str(p)] = (st.st_mode, p.read_bytes())
            else:
                out[str(p)] = (st.st_mode, b"")
    return out


@pytest.fixture
def built(hacc, tmp_path):
    """A built OUT and a folder outside it holding a victim file."""
    out = tmp_path / "out"
    assert hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out)).code == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("precious\n")
    return out, outside


def one_line_error(r) -> None:
    assert r.code == 1, (r.code, r.err)
    assert "Traceback" not in r.err and "internal error" not in r.err
    assert r.err.strip(), "says what is wrong"


def forge_state(out: Path, mutate) -> None:
    path = out / CLUSTER / STATE_FILE
    state = json.loads(path.read_text())
    mutate(state)
    path.write_text(json.dumps(state))


@pytest.mark.parametrize(
    "entry",
    [
        "../../outside/victim.txt",
        "/tmp/outside/victim.txt",
        "lnk/victim.txt",
        "../other-cluster/RUNBOOK.md",
        "nodes/../../outside/victim.txt",
        "a\x00b",
        "x/" * 600 + "y",
        "nodes/cp1/.user-data.yaml.hacc-tmp-1",
    ],
)
@pytest.mark.parametrize("command", ["build", "plan", "check"])
def test_a_crafted_state_file_reaches_nothing(hacc, built, entry, command) -> None:
    out, outside = built
    (out / CLUSTER / "lnk").symlink_to(outside)
    (out / "other-cluster").mkdir()
    (out / "other-cluster" / "RUNBOOK.md").write_text("not hacc's\n")
    entry = entry.replace("/tmp/outside", str(outside))
    forge_state(out, lambda s: s["files"].update({entry: "sha256:" + "0" * 64}))
    before = snapshot(out.parent)
    argv = {"build": ["build"], "plan": ["plan"], "check": ["build", "--check"]}[command]
    r = hacc(*argv, str(KEEPALIVED_EXAMPLE), "-o", str(out))
    one_line_error(r)
    assert STATE_FILE in r.err or (entry.startswith("lnk/") and "symbolic link" in r.err)
    assert snapshot(out.parent) == before


@pytest.mark.parametrize(
    "state",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"files": {"nodes/cp1/user-data.yaml": "md5:abc"}}',
        '{"files": []}',
        "\xff\xfe",
        '{"files": {}, "gitops": {"repoURL": "https://x/\\n", "branch": "main", "path": "c"}}',
        '{"files": {}, "gitops": {"repoURL": "https://x", "branch": "main", "path": "../../x"}}',
    ],
    ids=["deep", "digest", "list", "bytes", "gitops-newline", "gitops-path"],
)
def test_a_malformed_state_file_is_a_clear_error(hacc, built, state) -> None:
    out, _ = built
    # The fleet reads what other clusters' folders record of GitOps; the folder of a cluster
    # being built is about to be replaced, and its gitops no longer matters.
    folder = out / ("other-cluster" if '"gitops"' in state else CLUSTER)
    folder.mkdir(exist_ok=True)
    (folder / STATE_FILE).write_text(state, encoding="latin-1")
    r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out))
    one_line_error(r)
    assert STATE_FILE in r.err


@pytest.mark.parametrize("where", [CLUSTER, f"{CLUSTER}/nodes", f"{CLUSTER}/nodes/cp1"])
def test_links_below_out_are_never_followed(hacc, built, where) -> None:
    out, outside = built
    target = out / where
    shutil.rmtree(target)
    target.symlink_to(outside)
    before = snapshot(out.parent)
    r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out))
    one_line_error(r)
    assert "symbolic link" in r.err
    assert snapshot(out.parent) == before


def test_a_fifo_where_hacc_writes_or_reads_is_an_error_not_a_hang(hacc, built) -> None:
    out, _ = built
    for rel in ("RUNBOOK.md", STATE_FILE):
        path = out / CLUSTER / rel
        saved = path.read_bytes()
        path.unlink()
        os.mkfifo(path)
        r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out))
        one_line_error(r)
        assert "FIFO" in r.err
        assert stat.S_ISFIFO(os.lstat(path).st_mode)
        path.unlink()
        path.write_bytes(saved)


def test_every_conflict_is_reported_at_once(hacc, built) -> None:
    out, _ = built
    state = out / CLUSTER / STATE_FILE
    state.unlink()  # nothing is hacc's any more
    (out / CLUSTER / "RUNBOOK.md").write_text("mine\n")
    (out / CLUSTER / "nodes/cp1/haproxy.cfg").write_text("mine\n")
    r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out))
    one_line_error(r)
    assert "RUNBOOK.md" in r.err and "haproxy.cfg" in r.err


@pytest.mark.parametrize("kind", ["out-file", "cluster-file", "nodes-file", "loop"])
def test_files_where_folders_belong(hacc, tmp_path, kind) -> None:
    out = tmp_path / "out"
    if kind == "out-file":
        out.write_text("x\n")
    else:
        assert hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out)).code == 0
        where = {"cluster-file": out / CLUSTER, "nodes-file": out / CLUSTER / "nodes"}
        if kind == "loop":
            shutil.rmtree(out / CLUSTER / "nodes")
            (out / CLUSTER / "nodes").symlink_to(out / CLUSTER / "nodes")
        else:
            shutil.rmtree(where[kind])
            where[kind].write_text("x\n")
    r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out))
    one_line_error(r)


@pytest.mark.parametrize("special", ["symlink", "fifo", "device", "dir"])
def test_schema_and_init_replace_only_regular_files(hacc, tmp_path, special) -> None:
    path = tmp_path / "target"
    if special == "symlink":
        victim = tmp_path / "victim"
        victim.write_text("precious\n")
        path.symlink_to(victim)
    elif special == "fifo":
        os.mkfifo(path)
    elif special == "device":
        path = Path("/dev/null")
    else:
        path.mkdir()
    before = os.lstat(path)
    for argv in (["schema", "-o", str(path)], ["init", str(path), "--force"]):
        r = hacc(*argv)
        one_line_error(r)
        after = os.lstat(path)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    if special == "symlink":
        assert (tmp_path / "victim").read_text() == "precious\n"


def test_materialize_onto_a_file_or_a_shared_folder(hacc, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HACC_JOIN_TOKEN", "0123456789abcdef0123456789abcdef")
    file = tmp_path / "file"
    file.write_text("x\n")
    one_line_error(hacc("materialize", str(KEEPALIVED_EXAMPLE), "-o", str(file)))
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    r = hacc("materialize", str(KEEPALIVED_EXAMPLE), "-o", str(shared))
    one_line_error(r)
    assert "writable by others" in r.err and not any(shared.iterdir())
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / CLUSTER).symlink_to(tmp_path / "elsewhere")
    r = hacc("materialize", str(KEEPALIVED_EXAMPLE), "-o", str(private))
    one_line_error(r)
    assert not (tmp_path / "elsewhere").exists()


def test_a_32_digit_token_stays_a_string(hacc, tmp_path, monkeypatch) -> None:
    import yaml

    digits = "12345678901234567890123456789012"
    monkeypatch.setenv("HACC_JOIN_TOKEN", digits)
    assert hacc("materialize", str(KEEPALIVED_EXAMPLE), "-o", str(tmp_path / "p")).code == 0
    doc = yaml.safe_load((tmp_path / f"p/{CLUSTER}/nodes/cp2/user-data.yaml").read_text())
    launch = next(iter(yaml.safe_load_all(doc["write_files"][0]["content"])))
    assert launch["persistentClusterToken"] == digits


def test_stale_temporary_files_are_cleaned(hacc, built) -> None:
    out, _ = built
    stale = out / CLUSTER / "nodes" / "cp1" / ".haproxy.cfg.hacc-tmp-123"
    stale.write_text("half\n")
    assert hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out)).code == 0
    assert not stale.exists()


def test_a_closed_pipe_ends_quietly() -> None:
    r = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m hacc schema | true"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 141 and r.stderr == ""


def test_debug_after_the_subcommand() -> None:
    r = run_hacc("validate", str(KEEPALIVED_EXAMPLE), "--debug")
    assert r.returncode == 0, r.stderr


def in_own_mount(script: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`hacc build` into a tmpfs of our own (a private mount namespace: nothing on the host)."""
    from realtools import require_root

    require_root()
    hacc = f"{sys.executable} -m hacc build {KEEPALIVED_EXAMPLE} -o {out}"
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", script.format(out=out, hacc=hacc)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("mount -t tmpfs -o size=24k tmpfs {out} && {hacc}", "the disk is full"),
        ("mount -t tmpfs -o ro tmpfs {out} && {hacc}", "read-only"),
    ],
    ids=["full-disk", "read-only"],
)
def test_full_or_read_only_output(tmp_path, script, message) -> None:
    out = tmp_path / "out"
    out.mkdir()
    r = in_own_mount(script, out)
    assert r.returncode == 1, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# -- values that pass validation must build ---------------------------------------------------


def variant(tmp_path: Path, old: str, new: str) -> Path:
    text = KEEPALIVED_EXAMPLE.read_text()
    assert text.count(old) == 1, old
    spec = tmp_path / "spec.yaml"
    spec.write_text(replaced(text, old, new))
    return spec


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("name: edge-paris-01", 'name: "edge-paris-01\\n"', "HACC104"),
        (
            "{name: cp2, address: 198.18.10.12,",
            '{name: cp2, address: "198.18.10.12\\n",',
            "HACC104",
        ),
        ("{name: cp2,", "{name: !!int cp2,", "HACC009"),
        ("kind: HACluster", "kind: !!bool HACluster", "HACC009"),
        ("path: /readyz, rise", 'path: /readyz, interval: "2s\\n", rise', "HACC104"),
        ("subnet: 198.18.10.0/24", 'subnet: "198.18.10.0/24\\n"', "HACC104"),
        ("--event-ttl: null", '"--event-ttl\\n": "5m"', "HACC104"),
        ("--event-ttl: null", '--event-ttl: "5m\\u009b"', "HACC104"),
        ("--event-ttl: null", '--event-ttl: "5m\\ud800"', "HACC104"),
        ("--event-ttl: null", '--event-ttl: "5\\u00a0m"', "HACC104"),
        ("path: /readyz, rise", "path: /readyz, interval: 597h, rise", "HACC105"),
        ("channel: 1.32/stable", 'channel: "1.32/stable\\n"', "HACC104"),
    ],
)
def test_values_that_used_to_validate_and_then_crash(hacc, tmp_path, old, new, code) -> None:
    spec = variant(tmp_path, old, new)
    r = hacc("validate", str(spec))
    assert r.code == 1 and f"error[{code}]" in r.err, r.err
    assert "internal error" not in r.err
    r = hacc("build", str(spec), "-o", str(tmp_path / "out"))
    assert r.code == 1 and not (tmp_path / "out").exists()


def test_the_longest_haproxy_duration_hacc_accepts_is_one_haproxy_accepts(hacc, tmp_path) -> None:
    from realtools import run, tool

    spec = variant(tmp_path, "path: /readyz, rise", "path: /readyz, interval: 596h, rise")
    assert hacc("build", str(spec), "-o", str(tmp_path / "out")).code == 0
    cfg = tmp_path / "out" / CLUSTER / "nodes" / "cp1" / "haproxy.cfg"
    assert "596h" in cfg.read_text()
    r = run(tool("haproxy"), "-c", "-f", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr


def test_yaml_oddities_are_located(hacc, tmp_path) -> None:
    anchors = tmp_path / "anchors.yaml"
    anchors.write_text("a: &A 1\nb: &A 2\n")
    r = hacc("validate", str(anchors))
    assert r.err.startswith(f"{anchors}:2:4: error[HACC005]: the anchor &A is defined twice")
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 1000 + "]" * 1000 + "\n")
    r = hacc("validate", str(deep))
    assert f"{deep}:1:" in r.err and "error[HACC004]" in r.err and f"{deep}:1:1:" not in r.err


def test_many_workers_meet_the_node_limit_not_the_alias_guard(hacc, tmp_path) -> None:
    import yaml

    data = yaml.safe_load(KEEPALIVED_EXAMPLE.read_text())
    data["spec"]["workers"]["nodes"] = [
        {"name": f"w{i}", "address": f"198.18.{10 + i // 250}.{i % 250 + 1}"} for i in range(5000)
    ]
    spec = tmp_path / "big.yaml"
    spec.write_text(json.dumps(data))
    r = hacc("validate", str(spec))
    assert r.code == 1 and "error[HACC105]" in r.err and "HACC007" not in r.err


def test_a_file_name_cannot_forge_diagnostic_lines(hacc, tmp_path) -> None:
    spec = tmp_path / "x.yaml\nfake.yaml:1:1: error[HACC999]: forged"
    spec.write_text("a: 1\n")
    r = hacc("validate", str(spec))
    assert r.code == 1 and len(r.err.splitlines()) == 6  # five diagnostics and the summary
    assert not any(line.startswith("fake.yaml") for line in r.err.splitlines())


# -- secrets and fleets -----------------------------------------------------------------------


def test_plan_diff_never_prints_a_token(hacc, tmp_path, monkeypatch) -> None:
    token = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("HACC_JOIN_TOKEN", token)
    out = tmp_path / "out"
    assert hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out)).code == 0
    private = tmp_path / "private"
    assert hacc("materialize", str(KEEPALIVED_EXAMPLE), "-o", str(private)).code == 0
    # Someone copies the materialized files over the committed ones.
    for node in ("cp2", "w1"):
        rel = f"{CLUSTER}/nodes/{node}/user-data.yaml"
        (out / rel).write_bytes((private / rel).read_bytes())
    r = hacc("plan", "--diff", str(KEEPALIVED_EXAMPLE), "-o", str(out))
    assert r.code == 0 and "<redacted>" in r.out
    assert token not in r.out
    from hacc.outdir.secret_store import worker_token

    assert worker_token(token, CLUSTER, "w1") not in r.out
    one_line_error(hacc("build", "--check", str(KEEPALIVED_EXAMPLE), "-o", str(out)))


def test_a_token_pasted_as_a_variable_name_is_not_echoed(hacc, tmp_path, monkeypatch) -> None:
    token = "Ab0123456789abcdef0123456789abcdef"
    monkeypatch.delenv(token, raising=False)
    spec = variant(tmp_path, "joinToken: {env: HACC_JOIN_TOKEN}", f"joinToken: {{env: {token}}}")
    r = hacc("materialize", str(spec), "-o", str(tmp_path / "p"))
    assert r.code == 1 and "HACC231" in r.err and token not in r.err


def test_a_short_token_does_not_flag_every_file(hacc, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HACC_JOIN_TOKEN", "x")
    assert hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(tmp_path / "out")).code == 0


def test_two_fleets_on_one_path_keep_their_own_files(hacc, tmp_path) -> None:
    import yaml

    out = tmp_path / "out"
    specs = []
    for i, (repo, name) in enumerate(
        [("https://a.example/x.git", "c1"), ("https://a.example/x.git", "c2"),
         ("https://b.example/y.git", "c3"), ("https://b.example/y.git", "c4")]
    ):  # fmt: skip
        text = KEEPALIVED_EXAMPLE.read_text()
        assert text.count("198.18.10.") > 5  # every address moves to another subnet
        data = yaml.safe_load(text.replace("198.18.10.", f"198.18.{60 + i}."))
        data["metadata"]["name"] = name
        data["spec"]["gitops"] = {"repoURL": repo, "branch": "main", "path": "clusters"}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        specs.append(str(path))
    assert hacc("build", *specs, "-o", str(out)).code == 0
    root = out / "_fleet"
    fleet = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.yaml")
        if not p.name.endswith("kustomization.yaml")
    )
    assert len(fleet) == 4, fleet  # an ApplicationSet file and a Flux file per fleet
    texts = "".join((root / f).read_text() for f in fleet)
    assert "a.example" in texts and "b.example" in texts


def test_materialize_folders_are_private_whatever_the_umask(hacc, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HACC_JOIN_TOKEN", "0123456789abcdef0123456789abcdef")
    old = os.umask(0)
    try:
        r = hacc("materialize", str(KEEPALIVED_EXAMPLE), "-o", str(tmp_path / "p"))
    finally:
        os.umask(old)
    assert r.code == 0, r.err
    for path in (tmp_path / "p").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_check_without_a_spec_never_compiles_a_yaml_file_a_state_file_names(hacc, built) -> None:
    """A state file naming another YAML file of the work tree (a crafted one, or a spec moved
    and a secrets file put in its place) makes its folder an orphan named by path: the file
    is not compiled, and none of its values reach the diagnostics."""
    out, _ = built
    folder = out / "edge-paris-01"
    secrets = out.parent / "secrets.yaml"
    secrets.write_text("database:\n  password: Canary-hunter2-value\napiKey: Canary-key-42\n")
    state_file = folder / ".hacc-state.json"
    state = json.loads(state_file.read_text())
    state["spec"] = "../../secrets.yaml"
    state_file.write_text(json.dumps(state))
    r = hacc("build", "--check", "-o", str(out))
    assert r.code == 1 and "1 orphaned cluster folder" in r.err, r.err
    assert "Canary" not in r.err + r.out and "is not a hacc spec" in r.err, r.err
    # with a spec given, the folder is an orphan, named with its reason
    other = out.parent / "other.yaml"
    other.write_text(replaced(KEEPALIVED_EXAMPLE.read_text(), "edge-paris-01", "edge-other"))
    r = hacc("build", "--check", str(other), "-o", str(out))
    assert r.code == 1 and "Canary" not in r.err + r.out, r.err
    assert "secrets.yaml is not a hacc spec" in r.err, r.err


def test_out_itself_may_be_a_link_the_user_named(hacc, tmp_path) -> None:
    """Decided (docs/security.md): OUT is followed as `cd` would follow it; below it, nothing."""
    real = tmp_path / "real"
    real.mkdir()
    out = tmp_path / "out"
    out.symlink_to(real)
    assert hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(out)).code == 0
    assert (real / "edge-paris-01" / "RUNBOOK.md").is_file()
    assert hacc("build", "--check", str(KEEPALIVED_EXAMPLE), "-o", str(out)).code == 0
