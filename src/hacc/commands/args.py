"""What several commands' parsers share: the spec arguments, --format, the epilogs."""

from __future__ import annotations

import argparse
from typing import Any

from hacc.errors import UsageError

MODES = ("keepalived-haproxy", "kube-vip", "external")

EPILOG = """\
exit codes: 0 success (warnings allowed), 1 problems found, 2 usage error, 3 internal error.
Diagnostics read FILE:LINE:COL: error[HACCnnn]: message; docs/diagnostics.md explains each code."""

ENVIRONMENT = """
environment: HACC_CACHE_DIR where analyses of specs and records of built folders are cached
(default $XDG_CACHE_HOME/hacc, else ~/.cache/hacc; empty: no cache; their keys use a secret kept in
$XDG_STATE_HOME/hacc/cache-key, else ~/.local/state/hacc/cache-key); HACC_JOBS how many processes share a fleet's work
(default: every core)."""


def command(sub: Any, name: str, **kw: Any) -> argparse.ArgumentParser:
    """A subcommand's parser; `--debug` is accepted after the subcommand too."""
    parser: argparse.ArgumentParser = sub.add_parser(name, **kw)
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    return parser


SPECS_HELP = "spec files ('-': one spec on standard input)"


def spec_arguments(
    parser: argparse.ArgumentParser, *, output: bool, specs_help: str | None = None
) -> None:
    """What every compiling command takes: specs, the output folder, --strict. `specs_help`:
    SPEC is optional, and this says when."""
    nargs = "+" if specs_help is None else "*"
    parser.add_argument("specs", nargs=nargs, metavar="SPEC", help=specs_help or SPECS_HELP)
    if output:
        parser.add_argument(
            "-o", "--output", default="out", metavar="OUT", help="output folder (default: out)"
        )
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")


def format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default), or one JSON document on stdout (format_version 1; docs/commands.md "
        '"JSON output")',
    )


def specs_given(specs: list[str], command: str) -> list[str]:
    """The SPEC arguments, standard input at most once (it can be read only once)."""
    if specs.count("-") > 1:
        raise UsageError(f"hacc {command}: '-' (standard input) may be given once")
    return specs
