"""The built wheel carries the package data hacc reads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from conftest import REPO


@pytest.mark.slow
def test_wheel_contains_schema_templates_and_typing_marker(tmp_path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("hacc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "hacc/schemas/hacluster-v1alpha1.json" in names
    # The flags and addons each track knows (hacc.compiler.known reads them at validate).
    assert {"hacc/schemas/kubernetes-flags.json", "hacc/schemas/microk8s-addons.json"} <= names
    assert "hacc/py.typed" in names
    templates = {n for n in names if n.startswith("hacc/targets/templates/")}
    folder = REPO / "src/hacc/targets/templates"
    shipped = {
        f"hacc/targets/templates/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*.j2")
    }
    assert templates == shipped and len(shipped) >= 6
    assert not any(n.startswith(("compiler/", "targets/", "tests/")) for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    fields = zipfile.ZipFile(wheel).read(metadata).decode()
    import hacc

    assert f"\nVersion: {hacc.__version__}\n" in fields
    assert "\nLicense-Expression: Apache-2.0\n" in fields
    assert "\nClassifier: Typing :: Typed\n" in fields


@pytest.mark.slow
def test_sdist_ships_the_license(tmp_path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--sdist",
            "--no-isolation",
            "-o",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (sdist,) = tmp_path.glob("hacc-*.tar.gz")
    import tarfile

    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert any(n.endswith("/LICENSE") for n in names)
