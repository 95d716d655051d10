"""`hacc help [COMMAND]`: the same text as `hacc COMMAND --help` (or `hacc --help`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from hacc.commands.args import command
from hacc.errors import EXIT_OK

if TYPE_CHECKING:
    from hacc.commands import Report


def arguments(sub: Any) -> None:
    from hacc.cli.parser import NAMES

    h = command(
        sub,
        "help",
        help="describe hacc, or one command",
        description="Print the help of COMMAND, as `hacc COMMAND --help` does; without COMMAND, "
        "hacc's own.",
        epilog="exit codes: 0 success, 2 usage error.",
    )
    h.add_argument("topic", nargs="?", choices=NAMES, metavar="COMMAND", help="a command")


def main(args: argparse.Namespace, report: Report) -> int:
    from hacc.cli import parser

    if args.topic is None:
        report.out(parser.build().format_help(), plain=True)
    else:
        report.out(parser.command_parser(args.topic).format_help(), plain=True)
    return EXIT_OK
