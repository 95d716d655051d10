"""Hostile values in every free-text field that reaches a generated shell script, and every
generated script run with them: a value is text to the script, never code. Each value tries to
create a canary file (command substitution, `;`, `|`, `&&`, a redirection, a glob); the canary
must never appear, and the scripts must still print the values as they are.

The scripts run as they do on their nodes, on the benches the other tests use: apply-day2.sh on
MicroK8s's default files, verify.sh on the tree apply-day2.sh left (each check passing) and on
an empty one (each failing), the bootstrap on the bootstrap bench, the label script, the
keepalived scripts and the upgrade procedure against their fakes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bootbench import boot
from conftest import KEEPALIVED_EXAMPLE, REPO
from hacc.compiler.frontend import analyze_text
from hacc.compiler.model import Cluster
from hacc.outdir.secret_store import fill_tokens
from hacc.targets import render_cluster
from hacc.targets.monitoring import STATE_METRIC, TEXTFILE_DIR
from realtools import run, tool

DEFAULTS = REPO / "tests" / "fixtures" / "microk8s"
SNAP = "var/snap/microk8s/current"
COMMON = "var/snap/microk8s/common"
TOKEN = "Bench-cluster-token-0123456789abcdef"

# What each attempt runs: `touch CANARY`, spelled without blanks (the schema refuses them).
TOUCH = "touch${IFS}@CANARY@"
FLAG_VALUES = {
    "--audit-log-path": f"$({TOUCH})",
    "--audit-policy-file": f";{TOUCH};",
    "--audit-webhook-config-file": f"|{TOUCH}",
    "--audit-log-format": f"&&{TOUCH}",
    "--service-account-issuer": ">@CANARY@",
    "--profiling": f"!$({TOUCH})#*[a]~",
    "--feature-gates": f"A=true,$({TOUCH})=true,B*=false",
}
# The commands run by design; what must stay inert is their text when the bootstrap logs them.
COMMANDS = [f"printf %s '$({TOUCH})'", f": \"'\" '$({TOUCH})' ; : '\"'"]


def hostile_spec(canary: Path) -> str:
    spec: dict[str, Any] = yaml.safe_load(KEEPALIVED_EXAMPLE.read_text())
    spec["spec"]["microk8s"]["apiserverArgs"].update(FLAG_VALUES)
    spec["spec"]["extensions"]["preCommands"] = COMMANDS
    spec["spec"]["extensions"]["postCommands"] = COMMANDS
    return json.dumps(spec).replace("@CANARY@", str(canary))


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Cluster, dict[str, str]]:
    canary = tmp_path / "canary"
    analysis = analyze_text(hostile_spec(canary), "hostile.yaml")
    assert analysis.ok and analysis.cluster is not None, analysis.diagnostics
    arts = {a.path: a.content for a in render_cluster(analysis.cluster)}
    return canary, analysis.cluster, arts


def stubs(folder: Path, names: tuple[str, ...]) -> Path:
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\nexit 0\n")
        (folder / name).chmod(0o755)
    return folder


def day2_tree(tmp_path: Path, script: str, *args: str) -> tuple[Path, str]:
    tree = tmp_path / "tree"
    for d in ("args", "certs"):
        (tree / SNAP / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(DEFAULTS / "kube-apiserver", tree / SNAP / "args/kube-apiserver")
    shutil.copy(DEFAULTS / "csr.conf.template", tree / SNAP / "certs/csr.conf.template")
    path = tmp_path / "apply-day2.sh"
    path.write_text(script)
    noop = stubs(tmp_path / "noop", ("microk8s",)) / "microk8s"
    curl = tmp_path / "curl"  # the apiserver answers /readyz after the restart
    curl.write_text("#!/bin/sh\nprintf 200\n")
    curl.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "HACC_SNAP_DATA": str(tree / SNAP),
        "HACC_MICROK8S": str(noop),
        "HACC_SNAP": str(noop),
        "HACC_CURL": str(curl),
    }
    r = run("bash", str(path), *args, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return tree, r.stdout


def test_apply_day2_and_verify_treat_flag_values_as_text(tmp_path, hostile) -> None:
    canary, cluster, arts = hostile
    for node in cluster.control_plane:
        work = tmp_path / node.name
        work.mkdir()
        script = arts[f"nodes/{node.name}/apply-day2.sh"]
        day2_tree(work / "dry", script, "--dry-run")
        tree, _ = day2_tree(work, script)
        args = (tree / SNAP / "args/kube-apiserver").read_text()
        for flag, value in FLAG_VALUES.items():
            if flag != "--feature-gates":
                assert f"{flag}={value.replace('@CANARY@', str(canary))}\n" in args
        # verify.sh reads the tree apply-day2.sh left (every flag check passes), then a node
        # with none of it (every one fails, printing what it found and what it wanted).
        fakes = stubs(work / "fakes", ("ss", "openssl", "curl", "journalctl", "systemctl", "ip"))
        for root, wanted in ((tree, "ok    "), (work / "empty", "FAIL  ")):
            text = arts[f"nodes/{node.name}/verify.sh"]
            text = text.replace("=/var/snap/", f"={root}/var/snap/", 2)
            (work / "verify.sh").write_text(text)
            r = run("sh", str(work / "verify.sh"), cwd=work, env={"PATH": f"{fakes}:/usr/bin:/bin"})
            assert not canary.exists(), f"{node.name}: verify.sh ran a flag value:\n{r.stdout}"
            assert r.returncode == 1 and r.stderr == "", r.stderr
            lines = r.stdout.splitlines()
            for flag, value in FLAG_VALUES.items():
                literal = value.replace("@CANARY@", str(canary))
                if flag != "--feature-gates":
                    assert any(f"{flag}" in line and literal in line for line in lines), flag
                    assert any(line.startswith(wanted) and flag in line for line in lines), flag


def test_the_bootstrap_logs_the_commands_it_runs_as_text(tmp_path, hostile) -> None:
    canary, cluster, arts = hostile
    registered: tuple[str, ...] = ()
    for node in (cluster.first, cluster.control_plane[1], cluster.workers[0]):
        ud = fill_tokens(arts[f"nodes/{node.name}/user-data.yaml"], TOKEN, cluster.name)
        tokens = registered if not node.is_control_plane else (TOKEN,)
        b = boot(cluster, node, ud, tmp_path / node.name, accepted_tokens=tokens)
        assert not canary.exists(), f"{node.name}: the bootstrap ran a value"
        assert b.rc == 0, b.output
        if node == cluster.first:
            registered = tuple(b.read("credentials/cluster-tokens.txt").split())
        for c in COMMANDS:
            assert f"running: {c.replace('@CANARY@', str(canary))}" in b.output


def test_the_label_and_keepalived_scripts(tmp_path, hostile) -> None:
    canary, _, arts = hostile
    fakes = stubs(tmp_path / "fakes", ("microk8s", "systemctl", "curl"))
    env = {
        "PATH": f"{fakes}:/usr/bin:/bin",
        "HACC_MICROK8S": str(fakes / "microk8s"),
        "HACC_LABELLED": str(tmp_path / "labelled"),
    }
    files = yaml.safe_load(arts["nodes/cp1/user-data.yaml"])["write_files"]
    label = next(f["content"] for f in files if f["path"].endswith("/label-nodes.sh"))
    (tmp_path / "label-nodes.sh").write_text(label)
    r = run("bash", str(tmp_path / "label-nodes.sh"), env=env, cwd=tmp_path)
    assert r.returncode == 0 and "every node is labelled" in r.stdout, r.stdout + r.stderr
    check = arts["nodes/cp1/check-apiserver.sh"]
    (tmp_path / "check.sh").write_text(check)
    assert run("sh", str(tmp_path / "check.sh"), env=env, cwd=tmp_path).returncode == 1
    notify = arts["nodes/cp1/keepalived-notify.sh"].replace(TEXTFILE_DIR, str(tmp_path / "tf"))
    (tmp_path / "notify.sh").write_text(notify)
    r = run("sh", str(tmp_path / "notify.sh"), "INSTANCE", "VI_1", "MASTER", "150", env=env)
    assert r.returncode == 0, r.stderr
    assert (
        f'{STATE_METRIC}{{vrrp_instance="VI_1",state="MASTER"}} 1'
        in (tmp_path / "tf" / f"{STATE_METRIC}.prom").read_text()
    )
    assert not canary.exists()


def test_the_upgrade_procedure(tmp_path, hostile, hacc) -> None:
    from test_upgrade import Bench

    canary, _, _ = hostile
    bench = Bench(tmp_path, hacc, spec=hostile_spec(canary))
    assert bench.run("--dry-run").returncode == 0
    assert bench.run().returncode == 0
    assert not canary.exists()


def test_every_generated_script_is_shellcheck_clean(tmp_path, hostile) -> None:
    _, _, arts = hostile
    scripts = [p for p in arts if p.endswith(".sh")]
    assert {Path(p).name for p in scripts} >= {"verify.sh", "apply-day2.sh", "check-apiserver.sh"}
    for name in scripts:
        path = tmp_path / name.replace("/", "_")
        path.write_text(arts[name])
        # SC2016 says `$(...)` does not expand in single quotes: here that is the point.
        r = run(tool("shellcheck"), "--severity=style", "--exclude=SC2016", str(path))
        assert r.returncode == 0, r.stdout


TEMPLATES = REPO / "src" / "hacc" / "targets" / "templates"


def test_every_value_in_a_shell_template_goes_through_the_quoting_function() -> None:
    """Outside comments (which hold only names and addresses the schema's patterns confine to
    one line), each `{{ ... }}` of a shell template ends in `| sh` (hacc.targets.quoting), or in
    `| code` for a line of shell hacc composed with `sh` (a procedure's steps)."""
    import re

    unquoted = []
    for template in sorted(TEMPLATES.glob("*.sh.j2")):
        for number, line in enumerate(template.read_text().splitlines(), 1):
            if line.lstrip().startswith("#") or line == "{{ header }}":
                continue
            for expr in re.findall(r"\{\{(.*?)\}\}", line):
                if not re.search(r"\|\s*(sh\b|map\('sh'\)|code\b)", expr):
                    unquoted.append(f"{template.name}:{number}: {{{{{expr}}}}}")
    assert unquoted == []


def test_the_quoting_function_gives_back_every_text_as_one_word() -> None:
    """Through a real sh: each quoted word is one argument that reads back byte for byte."""
    import random
    import shlex

    from hacc.targets.quoting import sh

    rng = random.Random(29)
    alphabet = "ab-_./:=,@%+~*?[]{}!#$`'\"\\;|&()<> \t\n\u00e9\u202e\u0085"
    texts = ["", "'", "''", "a'b", "-n", "~root", "a=b", "*", *FLAG_VALUES.values()]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(300)]
    script = "printf '%s\\0'" + "".join(" " + sh(t) for t in texts) + "\n"
    r = subprocess.run(["sh", "-c", script], capture_output=True, check=True)
    assert r.stdout.decode().split("\0")[:-1] == texts
    assert all(sh(t) == shlex.quote(t) for t in texts)
    assert sh("a", always=True) == "'a'" and sh("1.32/stable") == "1.32/stable"
