"""Shell completion scripts, run by the real shells: bash and fish complete commands, options and
choices; zsh parses the script and registers it with compinit."""

from __future__ import annotations

import pytest

from hacc.cli.completion import commands, script
from hacc.cli.parser import build
from realtools import run, tool


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("completion")
    out = {}
    for shell in ("bash", "zsh", "fish"):
        path = folder / f"hacc.{shell}"
        path.write_text(script(shell, build()))
        out[shell] = str(path)
    return out


def test_every_command_and_option_is_offered() -> None:
    cmds = commands(build())
    assert {"build", "plan", "validate", "completion", "drill", "verify"} <= set(cmds)
    assert cmds["plan"]["options"]["--format"] == ["text", "json"]
    assert cmds["build"]["options"]["--check"] is False
    assert cmds["build"]["options"]["-o"] is None  # takes a value
    assert "--debug" not in cmds["build"]["options"]  # hidden


def bash_complete(path: str, *words: str) -> list[str]:
    array = " ".join(f"'{w}'" for w in words)
    r = run(
        tool("bash"),
        "-c",
        f'source "{path}"; COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; _hacc; '
        'printf "%s\\n" "${COMPREPLY[@]}"',
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_bash(scripts) -> None:
    assert run(tool("bash"), "-n", scripts["bash"]).returncode == 0
    assert bash_complete(scripts["bash"], "hacc", "pl") == ["plan"]
    assert bash_complete(scripts["bash"], "hacc", "plan", "--detailed") == ["--detailed-exitcode"]
    assert bash_complete(scripts["bash"], "hacc", "build", "--format", "") == ["text", "json"]
    assert bash_complete(scripts["bash"], "hacc", "completion", "--") == ["--help"]
    assert bash_complete(scripts["bash"], "hacc", "completion", "") == ["bash", "zsh", "fish"]
    assert bash_complete(scripts["bash"], "hacc", "secret", "") == ["new"]
    assert "build" in bash_complete(scripts["bash"], "hacc", "help", "")
    scenarios = bash_complete(scripts["bash"], "hacc", "drill", "--scenarios", "")
    assert "keepalived-stop" in scenarios and "holder-cut-off" in scenarios


def test_fish(scripts) -> None:
    fish = tool("fish")
    assert run(fish, "--no-execute", scripts["fish"]).returncode == 0

    def complete(line: str) -> list[str]:
        r = run(fish, "-c", f"source {scripts['fish']}; complete -C '{line}'")
        assert r.returncode == 0, r.stderr
        return [x.split("\t")[0] for x in r.stdout.splitlines()]

    assert complete("hacc pl") == ["plan"]
    assert complete("hacc plan --for") == ["--format"]
    assert sorted(complete("hacc plan --format ")) == ["json", "text"]
    assert sorted(complete("hacc completion ")) == ["bash", "fish", "zsh"]
    assert complete("hacc secret ") == ["new"]
    assert "holder-cut-off" in complete("hacc drill --scenarios ")


def test_zsh(scripts) -> None:
    zsh = tool("zsh")
    assert run(zsh, "-n", scripts["zsh"]).returncode == 0
    r = run(
        zsh,
        "-f",
        "-c",
        f"autoload -U compinit; compinit -u; source {scripts['zsh']}; print $_comps[hacc]",
    )
    assert r.returncode == 0 and r.stdout.strip() == "_hacc", r.stdout + r.stderr


def test_the_command_prints_the_script(hacc) -> None:
    r = hacc("completion", "bash")
    assert r.code == 0 and "complete -o filenames -F _hacc hacc" in r.out
    assert hacc("completion", "tcsh").code == 2
