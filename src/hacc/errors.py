"""The one exception root of hacc and the exit codes it maps to."""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class HaccError(Exception):
    """An expected failure, reported as one line without a traceback."""

    exit_code = EXIT_PROBLEMS


class UsageError(HaccError):
    """The command line itself is wrong."""

    exit_code = EXIT_USAGE


class InternalError(HaccError):
    """hacc produced something invalid: a bug in hacc, never in the spec."""

    exit_code = EXIT_INTERNAL
