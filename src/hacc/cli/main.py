"""The command line: parse, run the one command named, and turn every failure into one line and
an exit code. Heavy imports happen inside each command."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from hacc.cli import parser
from hacc.errors import EXIT_INTERNAL, EXIT_PROBLEMS, HaccError


def entry() -> None:
    """The `hacc` executable."""
    sys.exit(main())


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run the command, and turn every failure into one line and an exit code."""
    from hacc.commands import Report

    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = parser.build(parser.named(args_list)).parse_args(args_list)
        if args.command is None:
            parser.build().print_help(sys.stderr)
            return 2
        return parser.module(args.command).main(args, Report(sys.stdout, sys.stderr))
    except HaccError as e:
        _fail(f"hacc: {e}" if not str(e).startswith("hacc") else str(e))
        return e.exit_code
    except KeyboardInterrupt:
        _fail("hacc: interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`hacc schema | true`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        # The machine, not hacc: a full disk, a read-only or missing folder, a file in the way.
        where = f"{e.filename}: " if e.filename else ""
        _fail(f"hacc: {where}{e.strerror or e}")
        return EXIT_PROBLEMS
    except Exception as e:
        if debug:
            raise
        _fail(
            f"hacc: internal error: {type(e).__name__}: {e} (this is a bug in hacc; "
            "rerun with --debug for the traceback)"
        )
        return EXIT_INTERNAL


def _fail(line: str) -> None:
    """The one line a failed command ends with, on stderr (red on a terminal)."""
    from hacc.commands import colour

    print(colour.paint(line) if colour.enabled(sys.stderr) else line, file=sys.stderr)
