"""The schema file beside the specs, which their modeline names, so editors validate offline.

`hacc init` writes `hacluster-v1alpha1.schema.json` next to the spec and points the modeline
at it (`$schema=./hacluster-v1alpha1.schema.json`); `hacc build` keeps every such file current
(and `build --check` reports a stale one). Only a file that is hacc's schema (its `$id`) is
ever rewritten; a modeline naming a URL or some other file is left alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hacc.schemas import load_schema, schema_text

FILE_NAME = "hacluster-v1alpha1.schema.json"
RELATIVE_URL = f"./{FILE_NAME}"
MODELINE = re.compile(r"^#\s*yaml-language-server:\s*\$schema=(\S+)\s*$", re.M)


def _named(spec: Path) -> Path | None:
    """The local schema file a spec's modeline (in its first lines) names, if any."""
    if str(spec) == "-":  # standard input: no folder to keep a schema file in
        return None
    try:
        with spec.open(encoding="utf-8", errors="replace") as f:
            head = "".join(f.readline() for _ in range(5))
    except OSError:
        return None
    m = MODELINE.search(head)
    if not m or re.match(r"^[a-z][a-z0-9+.-]*:", m.group(1)):  # a URL: the editor fetches it
        return None
    # Only a .json file beside the spec or below it: a modeline is input, and must not make a
    # build rewrite a file elsewhere.
    name = Path(m.group(1))
    if name.is_absolute() or ".." in name.parts or name.suffix != ".json":
        return None
    return spec.parent / name


def _ours(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("$id") == load_schema()["$id"]


def stale(specs: list[str]) -> list[Path]:
    """The schema files the specs' modelines name that are hacc's and not the current schema."""
    current = schema_text()
    out: list[Path] = []
    for spec in specs:
        path = _named(Path(spec))
        if path is None or path in out or not _ours(path):
            continue
        if path.read_text(encoding="utf-8") != current:
            out.append(path)
    return out


def content() -> bytes:
    """What the schema file beside the specs holds (written 0644 by init and build)."""
    return schema_text().encode("utf-8")
