#!/usr/bin/python3
"""cloud-init's `write_files` for the bootstrap bench: each entry's content at its path, with its
permissions, parent folders created (cloud-init cc_write_files). Then the bench runs `runcmd`."""

import os
import sys
from pathlib import Path

import yaml

doc = yaml.safe_load(Path(sys.argv[1]).read_text())  # PyYAML, as cloud-init reads user-data
for entry in doc.get("write_files", []):
    path = Path(entry["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(entry["content"])
    os.chmod(path, int(entry.get("permissions", "0644"), 8))
Path(sys.argv[2]).write_text("\n".join(doc.get("runcmd", [])) + "\n")
