"""RUNBOOK.md's diagram parses with Mermaid itself (11.x in jsdom, installed by scripts/test),
and the harness rejects a broken one."""

from __future__ import annotations

import shutil

import pytest

from artifacts import compiled
from conftest import EXAMPLES, REPO
from realtools import run, tool

NODE_DIR = REPO / ".venv" / "node"
SCRIPT = REPO / "tests" / "tools" / "mermaid-parse.mjs"


@pytest.fixture(scope="module")
def parser() -> str:
    if not (NODE_DIR / "node_modules" / "mermaid").is_dir():
        pytest.fail("mermaid is not installed; scripts/test installs it with npm")
    # node resolves `import "mermaid"` from the script's folder: run it from where mermaid is
    target = NODE_DIR / SCRIPT.name
    shutil.copyfile(SCRIPT, target)
    return str(target)


def diagram_of(name: str) -> str:
    text = next(a.content for a in compiled(name)[1] if a.path == "RUNBOOK.md")
    start = text.index("```mermaid\n") + len("```mermaid\n")
    return text[start : text.index("\n```", start)] + "\n"


def test_every_runbook_diagram_parses(parser, tmp_path) -> None:
    files = []
    for path in EXAMPLES:
        f = tmp_path / f"{path.stem}.mmd"
        f.write_text(diagram_of(path.stem))
        files.append(str(f))
    r = run(tool("node"), parser, *files)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(": ok flowchart") == len(files), r.stdout


def test_the_parser_rejects_a_broken_diagram(parser, tmp_path) -> None:
    broken = tmp_path / "broken.mmd"
    broken.write_text(diagram_of("keepalived-haproxy").replace('-->|"https"|', '-->|"https|', 1))
    r = run(tool("node"), parser, str(broken))
    assert r.returncode == 1 and "Parse error" in r.stdout


@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_the_diagram_stays_narrow_and_says_each_thing_once(name) -> None:
    """GitHub scales a wide diagram down to fit the page: at most three nodes side by side, and
    no edge label repeated (the same label on parallel edges is drawn on top of itself)."""
    import re

    from hacc.targets.runbook import ROW

    text = diagram_of(name)
    labels = re.findall(r'-->\|"([^"]*)"\||-\.->\|"([^"]*)"\|', text)
    flat = [a or b for a, b in labels]
    assert len(flat) == len(set(flat)), flat
    for group in re.findall(r"subgraph [^\n]*\n(.*?)\n  end", text, re.S):
        nodes = re.findall(r"^    (n\d+)\[", group, re.M)
        below = {b for _, b in re.findall(r"^    (n\d+) ~~~ (n\d+)$", group, re.M)}
        assert len([n for n in nodes if n not in below]) <= ROW, group
