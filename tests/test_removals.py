"""`build` removes a file it no longer produces only if the file holds what hacc wrote: a hand
edit, or a file of the user's that a crafted state file lists, stays unless --force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import KEEPALIVED_EXAMPLE, replaced
from hacc.outdir.writer import STATE_FILE

W2 = "      - {name: w2, address: 198.18.10.22, interface: ens4}\n"


@pytest.fixture
def built(hacc, tmp_path: Path) -> tuple[Path, Path]:
    spec = tmp_path / "c.yaml"
    spec.write_text(KEEPALIVED_EXAMPLE.read_text())
    out = tmp_path / "out"
    assert hacc("build", str(spec), "-o", str(out)).code == 0
    return spec, out / "edge-paris-01"


def test_a_hand_edited_file_no_longer_produced_stays(hacc, built) -> None:
    spec, folder = built
    edited = folder / "nodes" / "w2" / "verify.sh"
    edited.write_text(edited.read_text() + "# my note\n")
    spec.write_text(replaced(spec.read_text(), W2, ""))
    before = (folder / STATE_FILE).read_bytes()
    r = hacc("plan", str(spec), "-o", str(folder.parent))
    assert "edited by hand since hacc wrote it (hacc build removes it only with --force)" in r.out
    r = hacc("build", "--check", str(spec), "-o", str(folder.parent))
    assert r.code == 1 and f"{edited}: no longer produced by the spec, and edited by hand" in r.err
    r = hacc("build", str(spec), "-o", str(folder.parent))
    assert r.code == 1
    assert f"not what hacc wrote (edited by hand?):\n  {edited}\n" in r.err
    assert edited.read_text().endswith("# my note\n")
    assert (folder / STATE_FILE).read_bytes() == before  # nothing written
    assert (folder / "nodes" / "w2" / "user-data.yaml").exists()
    r = hacc("build", "--force", str(spec), "-o", str(folder.parent))
    assert r.code == 0, r.err
    assert f"remove {edited} (edited by hand; removed)" in r.err
    assert not (folder / "nodes" / "w2").exists()


def user_file_in_the_state(folder: Path) -> Path:
    """A file of the user's, and a state file entry naming it (as anyone who can commit can add)."""
    notes = folder / "notes.txt"
    notes.write_text("mine\n")
    state = json.loads((folder / STATE_FILE).read_text())
    state["files"]["notes.txt"] = "sha256:" + "0" * 64
    (folder / STATE_FILE).write_text(json.dumps(state))
    return notes


def test_a_crafted_state_entry_cannot_remove_a_user_s_file(hacc, built) -> None:
    spec, folder = built
    notes = user_file_in_the_state(folder)
    r = hacc("build", str(spec), "-o", str(folder.parent))
    assert r.code == 1 and str(notes) in r.err
    assert notes.read_text() == "mine\n"


def test_prune_keeps_a_file_hacc_did_not_write(hacc, built) -> None:
    spec, folder = built
    notes = user_file_in_the_state(folder)
    other = spec.with_name("d.yaml")
    spec.rename(other)  # its spec is gone: an orphaned folder
    other.write_text(replaced(other.read_text(), "edge-paris-01", "edge-paris-02"))
    r = hacc("build", "--prune", str(other), "-o", str(folder.parent))
    assert r.code == 1 and str(notes) in r.err
    assert notes.read_text() == "mine\n" and (folder / STATE_FILE).exists()
    assert not (folder.parent / "edge-paris-02").exists()
    r = hacc("build", "--prune", "--force", str(other), "-o", str(folder.parent))
    assert r.code == 0, r.err
    assert not notes.exists()
