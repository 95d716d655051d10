"""Read a spec file into plain data plus the line:column of every key and value.

The YAML node tree is walked by hand instead of trusting a constructor, so that every
problem is found at once and located: duplicate keys, alias bombs, values JSON Schema
cannot describe. The result holds only dict, list, str, int, float, bool and None.
"""

from __future__ import annotations

import math
import os
import re
import stat
import sys
import warnings
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from hacc.diagnostics import ERROR, Diagnostic

if TYPE_CHECKING:  # plain os calls at run time: pathlib is not on `validate`'s path
    from pathlib import Path

Path_ = tuple[str | int, ...]

# A real spec has a few hundred values; this bounds what aliases may expand to.
MAX_EXPANDED_NODES = 20_000

_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_T + "str", _T + "int", _T + "float", _T + "bool", _T + "null"}
_MERGE = _T + "merge"


class Document:
    """A loaded spec: plain data and where each part of it stands in the file. (A plain class:
    see hacc.diagnostics.Diagnostic.)"""

    def __init__(self, file: str, data: Any) -> None:
        self.file = file
        self.data = data
        self.values: dict[Path_, tuple[int, int]] = {}
        self.keys: dict[Path_, tuple[int, int]] = {}

    def locate(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value at `path` (or its key), else the nearest ancestor."""
        p = tuple(path)
        if key and p in self.keys:
            return self.keys[p]
        while p:
            if p in self.values:
                return self.values[p]
            p = p[:-1]
        return self.values.get((), (1, 1))

    def diag(
        self, path: Path_, severity: str, code: str, message: str, *, key: bool = False
    ) -> Diagnostic:
        line, col = self.locate(path, key=key)
        return Diagnostic(self.file, line, col, severity, code, message)


def _error(file: str, line: int, col: int, code: str, message: str) -> Diagnostic:
    return Diagnostic(file, line, col, ERROR, code, message)


def _offset_to_line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


STDIN = "-"  # a spec path that means standard input
STDIN_NAME = "<stdin>"  # how diagnostics name it
STDIN_LIMIT = 16 << 20  # bytes: far more than any spec, and a bound on a runaway pipe


def spec_name(path: str | Path) -> str:
    """How diagnostics and records name the spec at `path`."""
    return STDIN_NAME if str(path) == STDIN else str(path)


@cache
def _stdin() -> bytes | None:
    """Standard input, read once per process (forked workers inherit what the parent read);
    None when it is larger than STDIN_LIMIT."""
    data = sys.stdin.buffer.read(STDIN_LIMIT + 1)
    return data if len(data) <= STDIN_LIMIT else None


def read_spec(path: str | Path, name: str) -> tuple[bytes | None, list[Diagnostic]]:
    """The bytes of a spec file (`-`: standard input), or why they cannot be read."""
    if str(path) == STDIN:
        data = _stdin()
        if data is None:
            why = f"cannot read the spec: standard input holds more than {STDIN_LIMIT >> 20} MiB"
            return None, [_error(name, 1, 1, "HACC001", why)]
        return data, []
    try:
        mode: int | None = os.stat(path).st_mode
    except OSError:
        mode = None  # the open below says why
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        # A FIFO or a device would block or never end.
        return None, [_error(name, 1, 1, "HACC001", "cannot read the spec: not a regular file")]
    try:
        with open(path, "rb") as f:
            return f.read(), []
    except IsADirectoryError:
        return None, [_error(name, 1, 1, "HACC001", "cannot read the spec: it is a directory")]
    except FileNotFoundError:
        return None, [_error(name, 1, 1, "HACC001", "cannot read the spec: no such file")]
    except OSError as e:
        return None, [_error(name, 1, 1, "HACC001", f"cannot read the spec: {e.strerror or e}")]


def load_bytes(raw: bytes, name: str) -> tuple[Document | None, list[Diagnostic]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        good = raw[: e.start].decode("utf-8", errors="replace")
        line, col = _offset_to_line_col(good, len(good))
        return None, [
            _error(
                name,
                line,
                col,
                "HACC002",
                f"invalid UTF-8: byte 0x{raw[e.start]:02x} cannot start or continue a character",
            )
        ]
    text = text.removeprefix("\ufeff")
    return load_text(text, name)


def load_text(text: str, name: str) -> tuple[Document | None, list[Diagnostic]]:
    deep = _too_deep(text)
    if deep is not None:
        return None, [
            _error(name, *deep, "HACC004", f"collections nest deeper than {MAX_DEPTH} levels here")
        ]
    fast = _load_fast(text, name)
    if fast is not None:
        return fast
    # ruamel is imported only here: most specs never need it.
    from ruamel.yaml import YAML

    return _compose_located(text, name, YAML(typ="rt"))


def _load_fast(text: str, name: str) -> tuple[Document | None, list[Diagnostic]] | None:
    """`load_text` by libyaml's composer, with YAML 1.2's tags and only values whose reading is
    plain (`_plain_value`); None when that cannot stand in for ruamel's reading."""
    root = _compose_fast(text)
    if root is None:
        return None
    try:
        return _walked(root, name, None)
    except (_NotPlain, RecursionError):  # ruamel's reading says what a deep document is
        return None


def _compose_located(text: str, name: str, yaml: Any) -> tuple[Document | None, list[Diagnostic]]:
    """ruamel's composer: slower than libyaml's, but it says where and why a document is not
    YAML, and warns of a reused anchor."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            root = yaml.compose(text)
        reused = [_reused_anchor(name, str(w.message)) for w in caught]
        if any(reused):
            return None, [d for d in reused if d]
    except ReaderError as e:
        line, col = _offset_to_line_col(text, e.position)
        code = ord(e.character) if isinstance(e.character, str) else int(e.character)
        return None, [
            _error(
                name,
                line,
                col,
                "HACC004",
                f"character U+{code:04X} is not allowed in YAML; "
                "use an escape in a double-quoted string",
            )
        ]
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (e.problem or e.context or "invalid YAML").strip()
        if "found another document" in problem:
            return None, [
                _error(
                    name,
                    line,
                    col,
                    "HACC006",
                    "a spec file holds one YAML document; found another one here",
                )
            ]
        if "'\\t'" in problem:
            return None, [
                _error(name, line, col, "HACC004", "YAML forbids tabs for indentation; use spaces")
            ]
        context = f" ({e.context.strip()})" if e.context and e.problem else ""
        return None, [_error(name, line, col, "HACC004", problem + context)]
    except RecursionError:
        return None, [_error(name, 1, 1, "HACC004", "the document is nested too deeply")]
    except YAMLError as e:
        return None, [_error(name, 1, 1, "HACC004", str(e).strip().splitlines()[0])]
    if root is None:
        return None, [_error(name, 1, 1, "HACC003", "the spec is empty")]
    return _walked(root, name, yaml)


def _walked(root: Any, name: str, yaml: Any) -> tuple[Document | None, list[Diagnostic]]:
    walker = _Walker(name, yaml)
    size_problem = walker.check_size(root)
    if size_problem:
        return None, [size_problem]
    doc = Document(name, None)
    doc.data = walker.convert(root, (), doc)
    if walker.problems:
        return None, walker.problems
    if not isinstance(doc.data, dict):
        line, col = doc.locate(())
        kind = type(doc.data).__name__ if doc.data is not None else "null"
        kind = {
            "list": "a list",
            "str": "a string",
            "int": "a number",
            "float": "a number",
            "bool": "a boolean",
        }.get(kind, kind)
        return None, [
            _error(
                name,
                line,
                col,
                "HACC008",
                f"the spec must be a mapping with apiVersion, kind, metadata and spec, not {kind}",
            )
        ]
    return doc, []


_YAML11_BREAKS = re.compile("[\x85\u2028\u2029]")


def _compose_fast(text: str) -> Any | None:
    """The node tree as ruamel composes it (YAML 1.2 tags, the same lines and columns), by
    libyaml's composer, several times faster; None whenever that cannot stand in for ruamel:
    no libyaml, a %YAML or %TAG directive (ruamel honours a version), an empty document, or any
    error at all (ruamel's composer then finds and locates it), or a line break only YAML 1.1
    knows (U+0085, U+2028, U+2029)."""
    try:
        from yaml._yaml import CParser
    except ImportError:
        return None
    if text.startswith("%") or "\n%" in text:
        return None
    if _YAML11_BREAKS.search(text):  # line breaks to libyaml (YAML 1.1), not to ruamel (1.2)
        return None
    if "\ufeff" in text:  # libyaml skips a byte order mark inside the text, ruamel does not
        return None

    class Composer(CParser):
        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            return _resolve(kind.id, value, implicit)

        def descend_resolver(self, *_: Any) -> None:  # no path resolvers, as in ruamel's
            return None

        def ascend_resolver(self) -> None:
            return None

    try:
        composer = Composer(text)
        try:
            return composer.get_single_node()
        finally:
            composer.dispose()
    except Exception:  # any problem: ruamel's composer reports it
        return None


# YAML 1.2's implicit tags as ruamel.yaml resolves them (ruamel/yaml/resolver.py,
# `implicit_resolvers`, the (1, 2) entries, in order): (tag, pattern, first characters, flags).
_FLOAT = r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$"""
_TIMESTAMP = r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
    (?:[Tt]|[ \t]+)[0-9][0-9]?
    :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
    (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"""
_IMPLICIT_12 = (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF", re.X),
    ("float", _FLOAT, "-+0123456789.", re.X),
    (
        "int",
        r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$",
        "-+0123456789",
        re.X,
    ),
    ("merge", r"^(?:<<)$", "<", 0),
    ("null", r"^(?:~|null|Null|NULL|)$", "~nN", re.X),  # and the empty value
    ("timestamp", _TIMESTAMP, "0123456789", re.X),
    ("value", r"^(?:=)$", "=", 0),
    ("yaml", r"^(?:!|&|\*)$", "!&*", 0),
)


@cache
def _implicit(first: str) -> list[tuple[str, re.Pattern[str]]]:
    """The implicit tags a plain scalar starting with `first` may have, in ruamel's order."""
    return [
        (_T + tag, re.compile(pattern, flags))
        for tag, pattern, chars, flags in _IMPLICIT_12
        if (first in chars if first else tag == "null")
    ]


def _resolve(kind: str, value: str, implicit: tuple[bool, bool]) -> str:
    """ruamel's VersionedResolver.resolve for YAML 1.2 (no path resolvers), for libyaml's
    composer: a plain scalar by its patterns, any other node by its kind."""
    if kind == "scalar" and implicit[0]:
        for tag, pattern in _implicit(value[:1]):
            if pattern.match(value):
                return tag
    return _T + {"scalar": "str", "sequence": "seq", "mapping": "map"}[kind]


class _NotPlain(Exception):
    """A value whose reading only ruamel's constructor knows: libyaml's result is dropped."""


_PLAIN_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_PLAIN_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?")


def _plain_value(tag: str, text: str) -> Any:
    """The value of a scalar tagged bool, null, int or float, when its text is one of the forms
    whose reading is plain (`false`, `~`, `-12`, `1.5e3`), as ruamel's constructor reads it.
    Anything else (`0x1F`, `1_000`, `.inf`, `!!int cp2`) raises _NotPlain: ruamel reads it."""
    if tag == _T + "bool" and text in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return text[0] in "tT"
    if tag == _T + "null" and text in ("", "~", "null", "Null", "NULL"):
        return None
    if tag == _T + "int" and _PLAIN_INT.fullmatch(text) and len(text) <= 20:
        return int(text)  # longer: Python refuses very long digit strings; ruamel reports it
    if tag == _T + "float" and _PLAIN_FLOAT.fullmatch(text):
        return float(text)
    raise _NotPlain(text)


MAX_DEPTH = 64  # a spec nests about six levels; the parser recurses and slows far below this


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where flow collections (`[`, `{`) first nest deeper than MAX_DEPTH, found by a scan that
    skips quoted strings and comments, before the recursive parser spends seconds on it."""
    depth = col = 0
    line = 1
    quote = ""
    previous = "\n"
    for c in text:
        col += 1
        if c == "\n":
            line, col = line + 1, 0
            if quote == "#":
                quote = ""
        elif quote:
            if c == quote and quote != "#":
                quote = ""
        elif c in "'\"" and previous in " \t\n[{,:":
            quote = c
        elif c == "#" and previous in " \t\n":
            quote = "#"
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, col
        elif c in "]}" and depth:
            depth -= 1
        previous = c
    return None


def _reused_anchor(name: str, message: str) -> Diagnostic | None:
    """ruamel only warns, in nine lines, when an anchor is defined twice: one located error."""
    m = re.search(
        r"duplicate anchor '(.*)'.*first occurrence.*?line (\d+).*second occurrence.*?"
        r"line (\d+), column (\d+)",
        message,
        re.S,
    )
    if m is None:
        return None
    return _error(
        name,
        int(m.group(3)),
        int(m.group(4)),
        "HACC005",
        f"the anchor &{m.group(1)} is defined twice (first at line {m.group(2)}); rename one",
    )


class _Walker:
    def __init__(self, name: str, yaml: Any) -> None:
        self.name = name
        self.yaml = yaml
        self.problems: list[Diagnostic] = []

    def _at(self, node: Any, code: str, message: str) -> None:
        m = node.start_mark
        self.problems.append(_error(self.name, m.line + 1, m.column + 1, code, message))

    def check_size(self, root: Any) -> Diagnostic | None:
        """Expanded size of the tree, counting every alias as a copy; linear thanks to the memo.
        Only aliases that blow a document up are refused: a large document without them goes
        on to the schema, whose limits say what is too many."""
        memo: dict[int, int] = {}
        active: set[int] = set()
        stack: list[tuple[Any, bool]] = [(root, False)]
        first_over: Any = None

        def bomb(node: Any, message: str) -> Diagnostic:
            m = node.start_mark
            return _error(self.name, m.line + 1, m.column + 1, "HACC007", message)

        while stack:
            node, done = stack.pop()
            nid = id(node)
            if done:
                active.discard(nid)
                memo[nid] = 1 + sum(memo[id(child)] for child in _children(node))
                if memo[nid] > MAX_EXPANDED_NODES and first_over is None:
                    first_over = node
                continue
            if nid in memo:
                continue
            active.add(nid)
            stack.append((node, True))
            for child in _children(node):
                if id(child) in active:
                    return bomb(child, "an alias refers to a value that contains it")
                if id(child) not in memo:
                    stack.append((child, False))
        if first_over is not None and memo[id(root)] > 2 * len(memo):
            return bomb(
                first_over, f"aliases expand this value to more than {MAX_EXPANDED_NODES} nodes"
            )
        return None

    def convert(self, node: Any, path: Path_, doc: Document) -> Any:
        m = node.start_mark
        doc.values.setdefault(path, (m.line + 1, m.column + 1))
        tag = str(node.tag)
        if node.id == "scalar":
            return self._scalar(node, tag)
        if node.id == "sequence":
            if tag != _T + "seq":
                self._at(node, "HACC009", f"the tag {tag} is not supported; remove it")
            return [self.convert(item, (*path, i), doc) for i, item in enumerate(node.value)]
        if node.id == "mapping":
            if tag != _T + "map":
                self._at(node, "HACC009", f"the tag {tag} is not supported; remove it")
            return self._mapping(node, path, doc)
        self._at(node, "HACC009", "unsupported YAML node")
        return None

    def _mapping(self, node: Any, path: Path_, doc: Document) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[Any] = []
        for knode, vnode in node.value:
            if str(knode.tag) == _MERGE:
                sources = vnode.value if vnode.id == "sequence" else [vnode]
                for src in sources:
                    if src.id == "mapping":
                        merges.append(src)
                    else:
                        self._at(
                            src, "HACC009", "a merge key (<<) takes a mapping or a list of mappings"
                        )
                continue
            if knode.id != "scalar" or str(knode.tag) != _T + "str":
                self._at(knode, "HACC009", "mapping keys must be strings; quote the key")
                continue
            key = _text(knode)
            key_path = (*path, key)
            if key in out:
                km = knode.start_mark
                first = doc.keys[key_path]
                self.problems.append(
                    _error(
                        self.name,
                        km.line + 1,
                        km.column + 1,
                        "HACC005",
                        f"duplicate key {key!r} (first defined at line {first[0]})",
                    )
                )
                continue
            km = knode.start_mark
            doc.keys.setdefault(key_path, (km.line + 1, km.column + 1))
            out[key] = self.convert(vnode, key_path, doc)
        # Explicit keys win over merged ones; earlier merge sources win over later ones.
        for src in merges:
            merged = self._mapping(src, path, doc)
            for k, v in merged.items():
                out.setdefault(k, v)
        return out

    def _scalar(self, node: Any, tag: str) -> Any:
        if tag not in _SCALAR_TAGS:
            what = "a date or time" if tag == _T + "timestamp" else f"the tag {tag}"
            self._at(
                node, "HACC009", f"{what} is not supported; quote the value to make it a string"
            )
            return None
        if tag == _T + "str":
            return _text(node)
        if self.yaml is None:  # composed by libyaml
            return _plain_value(tag, node.value)
        try:
            value = self.yaml.constructor.construct_object(node, deep=True)
        except Exception:  # an explicit tag on a value it does not fit: `!!int cp2`
            kind = tag.rsplit(":", 1)[-1]
            self._at(node, "HACC009", f"{node.value!r} is not a valid {kind}; remove the tag")
            return None
        if isinstance(value, bool) or value is None:
            return value
        if tag == _T + "int":
            return int(value)
        f = float(value)
        if math.isnan(f):
            self._at(node, "HACC009", "NaN is not a usable number")
        return f


def _text(node: Any) -> str:
    """A string scalar's text. ruamel marks where a folded scalar folds with U+0007, which no
    YAML text can hold otherwise: it goes."""
    value = str(node.value)
    return value.replace("\a", "") if node.style == ">" else value


def _children(node: Any) -> Iterator[Any]:
    if node.id == "mapping":
        for k, v in node.value:
            yield k
            yield v
    elif node.id == "sequence":
        yield from node.value
