"""`hacc completion bash|zsh|fish`: shell completion scripts, generated from the command line
parser itself, so they always offer exactly the commands, options and choices hacc accepts."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from hacc.commands.args import command
from hacc.errors import EXIT_OK

if TYPE_CHECKING:
    from hacc.commands import Report

SHELLS = ("bash", "zsh", "fish")


def _listed_values() -> dict[tuple[str, str], list[str]]:
    """Values of options that take a list rather than one choice: offered, not enforced."""
    from hacc.drill.scenarios import SCENARIOS

    return {("drill", "--scenarios"): [s.name for s in SCENARIOS]}


def commands(parser: argparse.ArgumentParser) -> dict[str, dict[str, Any]]:
    """command -> {"help": str, "options": {flag: choices or None (a value) or False (none)},
    "values": the choices of its first positional argument, or None (file names)}"""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help or "" for c in sub._choices_actions}
    out: dict[str, dict[str, Any]] = {}
    listed = _listed_values()
    for name, p in sub.choices.items():
        options: dict[str, Any] = {}
        values: list[str] | None = None
        for action in p._actions:
            if action.help == argparse.SUPPRESS:
                continue
            if not action.option_strings and values is None and action.choices:
                values = list(action.choices)
            for flag in action.option_strings:
                if action.nargs == 0:
                    options[flag] = False
                else:
                    choices = list(action.choices) if action.choices else None
                    options[flag] = choices or listed.get((name, flag))
        out[name] = {"help": helps.get(name, ""), "options": options, "values": values}
    return out


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    cmds = commands(parser)
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](cmds)


def _bash(cmds: dict[str, dict[str, Any]]) -> str:
    cases = []
    for name, c in sorted(cmds.items()):
        flags = " ".join(sorted(c["options"]))
        positional = (
            f'COMPREPLY=($(compgen -W "{" ".join(c["values"])}" -- "$cur"))'
            if c["values"]
            else 'COMPREPLY=($(compgen -f -- "$cur"))'
        )
        values = []
        for flag, choices in sorted(c["options"].items()):
            if choices:
                values.append(
                    f'            {flag}) COMPREPLY=($(compgen -W "{" ".join(choices)}" -- "$cur")); return ;;'
                )
            elif choices is None:
                values.append(f'            {flag}) COMPREPLY=($(compgen -f -- "$cur")); return ;;')
        cases.append(
            f"        {name})\n"
            f'            case "$prev" in\n'
            + "\n".join(values)
            + ("\n" if values else "")
            + "            esac\n"
            f'            if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "{flags}" -- "$cur"))\n'
            f"            else {positional}; fi ;;"
        )
    names = " ".join(sorted(cmds))
    return (
        "# bash completion for hacc: `source <(hacc completion bash)`, or save it as\n"
        "# /etc/bash_completion.d/hacc\n"
        "_hacc() {\n"
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd=""\n'
        "    local i\n"
        "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
        '        [[ "${COMP_WORDS[i]}" != -* ]] && { cmd="${COMP_WORDS[i]}"; break; }\n'
        "    done\n"
        '    if [[ -z "$cmd" ]]; then\n'
        f'        COMPREPLY=($(compgen -W "{names} --help --version" -- "$cur")); return\n'
        "    fi\n"
        '    case "$cmd" in\n' + "\n".join(cases) + "\n    esac\n"
        "}\n"
        "complete -o filenames -F _hacc hacc\n"
    )


def _zsh(cmds: dict[str, dict[str, Any]]) -> str:
    lines = [
        "#compdef hacc",
        "# zsh completion for hacc: save as _hacc in a folder on $fpath, or",
        "# `source <(hacc completion zsh)` after compinit",
        "_hacc() {",
        "    local -a commands",
        "    commands=(",
    ]
    for name, c in sorted(cmds.items()):
        lines.append(f"        {_zq(name + ':' + c['help'])}")
    lines += [
        "    )",
        "    if (( CURRENT == 2 )); then",
        "        _describe 'command' commands",
        "        return",
        "    fi",
        "    case ${words[2]} in",
    ]
    for name, c in sorted(cmds.items()):
        specs = []
        for flag, choices in sorted(c["options"].items()):
            if choices:
                specs.append(_zq(f"{flag}[]:value:({' '.join(choices)})"))
            elif choices is None:
                specs.append(_zq(f"{flag}[]:value:_files"))
            else:
                specs.append(_zq(f"{flag}[]"))
        if c["values"]:
            specs.append(_zq(f"1:value:({' '.join(c['values'])})"))
        else:
            specs.append(_zq("*:file:_files"))
        lines.append(f"        {name}) _arguments -s {' '.join(specs)} ;;")
    lines += [
        "    esac",
        "}",
        'if [[ "$funcstack[1]" == _hacc ]]; then _hacc "$@"; else compdef _hacc hacc; fi',
        "",
    ]
    return "\n".join(lines)


def _zq(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _fish(cmds: dict[str, dict[str, Any]]) -> str:
    names = " ".join(sorted(cmds))
    lines = [
        "# fish completion for hacc: `hacc completion fish > ~/.config/fish/completions/hacc.fish`",
        "complete -c hacc -f",
    ]
    for name, c in sorted(cmds.items()):
        lines.append(
            f"complete -c hacc -n 'not __fish_seen_subcommand_from {names}' -a {name} "
            f"-d {_fq(c['help'])}"
        )
    for name, c in sorted(cmds.items()):
        cond = f"-n '__fish_seen_subcommand_from {name}'"
        if c["values"]:
            lines.append(f"complete -c hacc {cond} -x -a {_fq(' '.join(c['values']))}")
        else:
            lines.append(f"complete -c hacc {cond} -F")
        for flag, choices in sorted(c["options"].items()):
            opt = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
            extra = ""
            if choices:
                extra = f" -x -a {_fq(' '.join(choices))}"
            elif choices is None:
                extra = " -r -F"
            lines.append(f"complete -c hacc {cond} {opt}{extra}")
    return "\n".join(lines) + "\n"


def _fq(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def arguments(sub: Any) -> None:
    comp = command(
        sub,
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for the shell, made from hacc's own command "
        "line: `source <(hacc completion bash)` (zsh alike, after compinit), or "
        "`hacc completion fish > ~/.config/fish/completions/hacc.fish`.",
        epilog="exit codes: 0 success, 2 usage error.",
    )
    comp.add_argument("shell", choices=SHELLS, help="the shell")


def main(args: argparse.Namespace, report: Report) -> int:
    from hacc.cli import parser

    report.out(script(args.shell, parser.build()), plain=True)
    return EXIT_OK
