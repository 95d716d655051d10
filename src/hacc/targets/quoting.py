"""The one quoting function for values that reach a generated shell script.

Every generated script is POSIX sh or bash, and both read a single-quoted string the same way:
nothing inside it is special but the closing quote, and a quote itself cannot be escaped inside
one, so it is written as `'"'"'` (close, a double-quoted quote, reopen). The result is always one
word, whatever the value holds: `$`, backquotes, `;`, globs, newlines, non-ASCII text.

A word made only of `A-Za-z0-9_@%+=:,./-` is left bare, as `shlex.quote` leaves it, so the
scripts read as before for names, addresses, paths and channels. It is one literal word in every
place a template puts a value (an argument, the value of an assignment, a `case` pattern):
none of these characters starts an expansion (`$`, `` ` ``, `~` at a word's start or after
`:`/`=` in an assignment, bash's `{` braces and `!` history), a glob (`*`, `?`, `[`), a
comment (`#`), a redirection or an operator, and no expansion result is field-split because
there is none. Templates never put a value in a command's name position, where `a=b` would be
an assignment and a reserved word a keyword, nor inside another quoted string (the function's
result is a whole word or is concatenated with other words).
"""

from __future__ import annotations

import re

_BARE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def sh(value: object, *, always: bool = False) -> str:
    """`value` as one POSIX sh word that expands to exactly its text; `always` quotes a bare
    word too (shellcheck reads a bare comma in an array element as a mistake, SC2054). The
    same bytes as `shlex.quote` otherwise, a quote inside being written `'"'"'`."""
    text = str(value)
    if _BARE.fullmatch(text) and not always:
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"
