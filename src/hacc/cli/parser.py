"""The command line's parser: built from each command module's own `arguments`, and for a line
that names a command, from that command alone (building every command's arguments is a good
part of `hacc validate`'s start-up)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, Protocol

from hacc import __version__
from hacc.errors import UsageError

if TYPE_CHECKING:
    from hacc.commands import Report

DESCRIPTION = """\
hacc compiles one declarative spec of a MicroK8s high-availability cluster into every
artifact its nodes, its load balancing and its GitOps pipeline need."""

EPILOG = """\
exit codes: 0 success (warnings allowed), 1 problems found, 2 usage error, 3 internal error.
Diagnostics read FILE:LINE:COL: error[HACCnnn]: message; docs/diagnostics.md explains each code.
`hacc help COMMAND` (or `hacc COMMAND --help`) describes one command."""

NAMES = (
    "init",
    "validate",
    "build",
    "plan",
    "materialize",
    "drill",
    "verify",
    "kubeconfig",
    "secret",
    "upgrade",
    "recover",
    "power",
    "certs",
    "completion",
    "schema",
    "help",
)


class Command(Protocol):
    """What every command module offers the command line."""

    def arguments(self, sub: Any) -> None: ...

    def main(self, args: argparse.Namespace, report: Report) -> int: ...


def module(name: str) -> Command:
    """The module of a command, imported only when its command is used."""
    if name == "init":
        from hacc.commands import init

        return init
    if name == "validate":
        from hacc.commands import validate

        return validate
    if name == "build":
        from hacc.commands import build

        return build
    if name == "plan":
        from hacc.commands import plan

        return plan
    if name == "materialize":
        from hacc.commands import materialize

        return materialize
    if name == "drill":
        from hacc.commands import drill

        return drill
    if name == "verify":
        from hacc.commands import verify

        return verify
    if name == "kubeconfig":
        from hacc.commands import kubeconfig

        return kubeconfig
    if name == "secret":
        from hacc.commands import secret

        return secret
    if name == "upgrade":
        from hacc.commands import upgrade

        return upgrade
    if name == "recover":
        from hacc.commands import recover

        return recover
    if name == "power":
        from hacc.commands import power

        return power
    if name == "certs":
        from hacc.commands import certs

        return certs
    if name == "completion":
        from hacc.cli import completion

        return completion
    if name == "schema":
        from hacc.commands import schema

        return schema
    if name == "help":
        from hacc.cli import help

        return help
    raise KeyError(name)


class _Width:
    """argparse's formatters with the width they would take from shutil.get_terminal_size(),
    without importing shutil (and bz2, lzma...) on every `hacc validate`."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or columns() - 2)  # type: ignore[call-arg]


class _Wrapped(_Width, argparse.HelpFormatter):
    pass


class _Raw(_Width, argparse.RawDescriptionHelpFormatter):
    pass


def columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the terminal's, else 80."""
    try:
        found = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        found = 0
    if found <= 0:
        try:
            found = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            found = 0
    return found or 80


class Parser(argparse.ArgumentParser):
    """Usage errors raise UsageError (exit 2, one line) instead of exiting from inside argparse."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        raw = kw.get("formatter_class") is argparse.RawDescriptionHelpFormatter
        kw["formatter_class"] = _Raw if raw else _Wrapped
        super().__init__(*args, **kw)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def build(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with `command`, only that command's arguments."""
    return _build(command)[0]


def command_parser(name: str) -> argparse.ArgumentParser:
    """One command's own parser (what `hacc NAME --help` prints)."""
    return _build(name)[1][name]


def _build(
    command: str | None,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    p = Parser(
        prog="hacc",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"hacc {__version__}")
    p.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in NAMES:
        if command in (None, name):
            module(name).arguments(sub)
    choices: dict[str, argparse.ArgumentParser] = dict(sub.choices)
    return p, choices


def named(args: list[str]) -> str | None:
    """The command a command line names (top-level options take no values), if it is one."""
    found = next((a for a in args if not a.startswith("-")), None)
    return found if found in NAMES else None
