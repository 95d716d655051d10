"""10,000 generated specs: `validate` never fails inside hacc, and every spec that validates
builds (its artifacts pass the build's self-check). Seeded, so a failure can be replayed."""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

import pytest

from hacc.compiler.frontend import analyze_text
from hacc.targets import render_cluster
from hacc.targets.selfcheck import problems
from test_property import NASTY_NUMBERS, NASTY_STRINGS, SPECS, mutate, paths

pytestmark = pytest.mark.slow

COUNT = 10_000
SEED = 20261129
TAILS = ["\n", "\r", "\t", " ", "\x00", "\u0085", "\u2028", "\u00a0", "\u009b", "\ud800", "'", '"']


def _strings(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


REAL = sorted({s for spec in SPECS for s in _strings(spec)})


def value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.5:  # a real value with something after, before or inside it
        s, t = rng.choice(REAL), rng.choice(TAILS)
        return rng.choice([s + t, t + s, s[: len(s) // 2] + t + s[len(s) // 2 :]])
    if roll < 0.7:
        return rng.choice(NASTY_STRINGS)
    if roll < 0.85:
        return rng.choice(NASTY_NUMBERS)
    return rng.choice([None, [], {}, "x" * rng.randint(0, 300), rng.randint(-(2**40), 2**40)])


def generate(rng: random.Random) -> dict[str, Any]:
    spec = rng.choice(SPECS)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths(spec))
        action = rng.choice(["delete", "replace", "replace", "replace", "add-key", "duplicate"])
        spec = mutate(spec, path, action, value(rng))
    return spec


def cli(*argv: str) -> int:
    import contextlib
    import io

    from hacc.cli.main import main

    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return main(list(argv))


def test_generated_specs_validate_without_crashing_and_valid_ones_build(tmp_path) -> None:
    rng = random.Random(SEED)
    started = time.monotonic()
    valid = 0
    for i in range(COUNT):
        spec = generate(rng)
        # JSON is YAML: the text carries every value exactly, escapes included.
        text = json.dumps(spec, ensure_ascii=False)
        try:
            analysis = analyze_text(text, f"spec-{i}.yaml")
            if analysis.ok and analysis.cluster is not None:
                valid += 1
                broken = problems(render_cluster(analysis.cluster))
                assert not broken, broken[:3]
            if i % 20 == 0:  # the whole command, writing files, for a sample
                spec_file = tmp_path / f"spec-{i}.yaml"
                spec_file.write_text(text, encoding="utf-8", errors="surrogatepass")
                command = ("build", "-o", str(tmp_path / "out")) if analysis.ok else ("validate",)
                assert cli(*command, str(spec_file)) == (0 if analysis.ok else 1)
        except Exception as e:
            raise AssertionError(f"spec {i} (seed {SEED}): {type(e).__name__}: {e}\n{text}") from e
        assert time.monotonic() - started < 900, f"bounded: stopped at spec {i}"
    print(f"{COUNT} specs, {valid} valid and built, {time.monotonic() - started:.0f} s")
    assert valid > COUNT // 20, "the generator still produces specs that validate"


# -- hostile value classes in every free-text field, and every generated script run ----------

TOUCH = "touch${IFS}@CANARY@"
HOSTILE = {
    "shell": [f"$({TOUCH})", f";{TOUCH};", f"|{TOUCH}", f"&&{TOUCH}", ">@CANARY@", "`id`"],
    "C1": ["\u0085", "\u009b31m"],
    "noncharacter": ["\ufffe", "\uffff"],
    "surrogate": ["\ud800"],
    "bidi": ["\u202e", "\u200b", "\u2066"],
    "template": ["{{ .cluster }}", "{{.cluster}}", "{%raw%}", "${{x}}", "{{`x`}}"],
}


def full_spec() -> dict[str, Any]:
    """The keepalived example with every optional free-text field set, so each gets fuzzed."""
    import yaml

    from conftest import KEEPALIVED_EXAMPLE

    spec: dict[str, Any] = yaml.safe_load(KEEPALIVED_EXAMPLE.read_text())
    s = spec["spec"]
    s["microk8s"]["addons"].append({"name": "metallb", "args": ["198.18.10.150-198.18.10.160"]})
    s["microk8s"]["apiserverArgs"]["--feature-gates"] = "A=true"
    s["extensions"]["postCommands"] = ["echo done"]
    s["extensions"]["taints"] = ["dedicated=infra:NoSchedule"]
    s["controlPlane"]["nodes"][0]["extensions"] = {
        "labels": {"rack": "r1"},
        "preCommands": ["true"],
    }
    s["monitoring"] = {
        "enabled": True,
        "runbookURL": "https://wiki.example.com/runbook",
        "blackboxExporter": "127.0.0.1:9115",
        "ruleLabels": {"release": "prom"},
    }
    s["gitops"]["secretRef"] = "repo-creds"
    return spec


def string_leaves(data: Any) -> list[tuple[Any, ...]]:
    """Every path to a string value (the free-text fields: map values and list items too)."""
    found = []
    for path in paths(data):
        node = data
        for part in path:
            node = node[part]
        if isinstance(node, str) and path[:1] != ("apiVersion",) and path[:1] != ("kind",):
            found.append(path)
    return found


def run_scripts(arts: dict[str, str], cluster: Any, canary: Any, work: Any) -> int:
    """Every generated script of a built variant, run as test_shell_injection runs them; the
    number of script runs."""
    import yaml

    from hacc.targets.monitoring import TEXTFILE_DIR
    from hacc.targets.upgrade_script import procedure
    from hacc.targets.upgrade_script import script as upgrade_script
    from realtools import run
    from test_shell_injection import day2_tree, stubs

    runs = 0
    fakes = stubs(work / "fakes", ("ss", "openssl", "curl", "journalctl", "systemctl", "ip",
                                   "microk8s"))  # fmt: skip
    env = {"PATH": f"{fakes}:/usr/bin:/bin", "HACC_MICROK8S": str(fakes / "microk8s"),
           "HACC_LABELLED": str(work / "labelled")}  # fmt: skip
    for node in cluster.nodes:
        base = f"nodes/{node.name}"
        root = work / node.name
        root.mkdir()
        tree = root / "empty"
        if f"{base}/apply-day2.sh" in arts:
            tree, _ = day2_tree(root, arts[f"{base}/apply-day2.sh"])
            runs += 1
        text = arts[f"{base}/verify.sh"].replace("=/var/snap/", f"={tree}/var/snap/", 2)
        (root / "verify.sh").write_text(text, errors="surrogateescape")
        run("sh", str(root / "verify.sh"), cwd=root, env=env)
        runs += 1
        files = yaml.safe_load(arts[f"{base}/user-data.yaml"])["write_files"]
        for f in files:
            name = f["path"].rsplit("/", 1)[-1]
            if name in ("label-nodes.sh", "check-apiserver.sh", "keepalived-notify.sh"):
                content = f["content"].replace(TEXTFILE_DIR, str(root / "tf"))
                (root / name).write_text(content)
                run("bash", str(root / name), "I", "VI_1", "MASTER", "1", cwd=root, env=env)
                runs += 1
    if len(cluster.control_plane) >= 3 and cluster.track:
        major, minor = cluster.track
        p = procedure(cluster, f"{major}.{minor + 1}/stable")
        (work / "upgrade.sh").write_text(upgrade_script(p))
        r = run("bash", str(work / "upgrade.sh"), "--dry-run", cwd=work, env=env)
        assert r.returncode == 0, r.stderr
        runs += 1
    assert not canary.exists(), "a generated script ran a value of the spec"
    return runs


def boot_first(cluster: Any, arts: dict[str, str], canary: Any, work: Any) -> None:
    """The first node's bootstrap on the bootstrap bench (bootbench.py)."""
    from bootbench import boot
    from hacc.outdir.secret_store import fill_tokens

    first = cluster.first
    ud = fill_tokens(arts[f"nodes/{first.name}/user-data.yaml"], "Fuzz-token-" + "0" * 30, "c")
    b = boot(cluster, first, ud, work)
    assert not canary.exists(), "the bootstrap ran a value of the spec"
    assert b.rc == 0, b.output[-2000:]


def test_hostile_values_in_every_free_text_field(tmp_path) -> None:
    """Each value class in each string field of the examples and of a spec with every optional
    field: validation refuses it with a located error, or it builds (self-check clean), and every
    script of what it built runs without executing it. Prints, per class, how many variants
    built and which fields took them."""
    import hashlib
    from collections import defaultdict

    canary = tmp_path / "canary"
    bases = [full_spec(), *SPECS]
    tried = built = runs = 0
    builds: dict[str, set[str]] = defaultdict(set)
    seen_scripts: set[str] = set()
    booted: set[tuple[str, str]] = set()
    for b, base in enumerate(bases):
        for path in string_leaves(base):
            node = base
            for part in path:
                node = node[part]
            for cls, values in HOSTILE.items():
                for v in values:
                    for variant in (node + v, v):
                        spec = mutate(base, path, "replace", variant)
                        text = json.dumps(spec, ensure_ascii=False).replace("@CANARY@", str(canary))
                        tried += 1
                        where = f"spec {b} {'.'.join(map(str, path))} {cls} {variant!r}"
                        try:
                            analysis = analyze_text(text, "hostile.yaml")
                        except Exception as e:
                            raise AssertionError(f"{where}: {type(e).__name__}: {e}") from e
                        if not (analysis.ok and analysis.cluster is not None):
                            assert any(d.is_error for d in analysis.diagnostics), where
                            continue
                        built += 1
                        builds[cls].add(".".join(str(p) for p in path if not isinstance(p, int)))
                        arts_list = render_cluster(analysis.cluster)
                        assert not problems(arts_list), where
                        arts = {a.path: a.content for a in arts_list}
                        scripts = "".join(c for p, c in sorted(arts.items()) if p.endswith(".sh"))
                        digest = hashlib.sha256(
                            (scripts + arts.get("nodes/cp1/user-data.yaml", "")).encode(
                                "utf-8", "surrogatepass"
                            )
                        ).hexdigest()
                        if digest in seen_scripts:
                            continue
                        seen_scripts.add(digest)
                        work = tmp_path / f"run-{len(seen_scripts)}"
                        work.mkdir()
                        try:
                            runs += run_scripts(arts, analysis.cluster, canary, work)
                        except AssertionError as e:
                            raise AssertionError(f"{where}: {e}") from e
                        field = ".".join(str(p) for p in path if not isinstance(p, int))
                        if (
                            os.geteuid() == 0
                            and (cls, field) not in booted
                            and not any(p in ("preCommands", "postCommands") for p in path)
                        ):  # a command is run by design: test_shell_injection covers its log
                            booted.add((cls, field))
                            boot_first(analysis.cluster, arts, canary, work / "boot")
                        if len(seen_scripts) % 25 == 1:  # the whole command, for a sample
                            spec_file = tmp_path / f"hostile-{len(seen_scripts)}.yaml"
                            spec_file.write_text(text, encoding="utf-8", errors="surrogatepass")
                            out = str(tmp_path / "out")
                            assert cli("build", "-o", out, str(spec_file)) == 0, where
    print(f"\n{tried} hostile variants, {built} built, {len(seen_scripts)} distinct script sets, "
          f"{runs} script runs, {len(booted)} bootstraps, canary never created")  # fmt: skip
    for cls in HOSTILE:
        print(f"  {cls}: builds through {sorted(builds[cls]) or 'no field'}")
    assert not canary.exists()
    assert built > 0 and runs > 0
