"""Every artifact of every example, locked in a snapshot file of its own (read the diff as config)."""

from __future__ import annotations

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from artifacts import all_artifacts


class TextFile(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


@pytest.mark.parametrize(
    ("example", "artifact"),
    all_artifacts(),
    ids=lambda v: v.path.replace("/", "__") if hasattr(v, "path") else v,
)
def test_artifact(example, artifact, snapshot) -> None:
    assert artifact.content == snapshot(extension_class=TextFile)
