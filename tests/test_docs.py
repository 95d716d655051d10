from __future__ import annotations

from conftest import REPO
from hacc.compiler.codes import CODES
from hacc.compiler.docgen import generated_files


def test_generated_docs_are_current() -> None:
    for path, text in generated_files(REPO).items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run scripts/gen-docs"
        )


def test_every_code_is_documented_with_why_and_fix() -> None:
    page = (REPO / "docs" / "diagnostics.md").read_text()
    for code in CODES.values():
        assert f"## {code.code}\n" in page
        assert code.why and code.fix and code.title


def test_readme_quickstart_runs_the_test_script() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "scripts/test" in readme and "scripts/test" in ci


def test_every_spec_in_the_docs_validates(hacc, tmp_path) -> None:
    """Spec-shaped YAML blocks in the README and docs/ are specs a reader will copy."""
    import re

    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    text = "".join(p.read_text() for p in pages)
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    specs = [b for b in blocks if "apiVersion: hacc.dev/v1alpha1" in b]
    assert specs
    for i, text in enumerate(specs):
        path = tmp_path / f"readme-{i}.yaml"
        path.write_text(text)
        r = hacc("validate", str(path))
        assert r.code == 0, r.err
