"""`hacc materialize`: the final user-data with the secret in it, for the provisioner only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hacc.build import compile_specs
from hacc.diagnostics import ERROR, render_text, sort_key
from hacc.errors import EXIT_OK, EXIT_PROBLEMS, HaccError
from hacc.secrets import SecretUnavailable, fill_tokens, resolve, token_problem, worker_token

TOKEN_PATH = ("spec", "secrets", "joinToken")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.hacc-tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def materialize(specs: list[str], out: str, *, force_in_git: bool = False) -> int:
    target = Path(out)
    if not force_in_git:
        from hacc.gitrepo import inside_unignored_worktree

        tree = inside_unignored_worktree(target.resolve())
        if tree is not None:
            raise HaccError(
                f"hacc: {out} is inside the Git work tree {tree} and not ignored: "
                "secrets must never be committed (choose another folder, ignore it, "
                "or pass --allow-git)"
            )
    units, diags = compile_specs(specs)
    files: dict[Path, str] = {}
    for unit in units:
        analysis = unit.analysis
        if analysis is None or analysis.cluster is None or analysis.document is None:
            continue
        cluster, doc = analysis.cluster, analysis.document
        try:
            token = resolve(cluster.join_token, Path(analysis.file).parent)
        except SecretUnavailable as e:
            diags.append(
                doc.diag(TOKEN_PATH, ERROR, "HACC231", f"cannot resolve the join token: {e}")
            )
            continue
        problem = token_problem(token)
        if problem:
            diags.append(doc.diag(TOKEN_PATH, ERROR, "HACC230", problem))
            continue
        for node in cluster.nodes:
            base = f"nodes/{node.name}"
            text = fill_tokens(unit.artifact(f"{base}/user-data.yaml"), token, cluster.name)
            # The guarantee behind the worker tokens, checked rather than assumed.
            if not node.is_control_plane and token in text:
                raise HaccError(f"hacc: internal error: {node.name}'s user-data holds the token")
            files[target / cluster.name / base / "user-data.yaml"] = text
            if not node.is_control_plane:
                # For a worker added after the first node booted (RUNBOOK.md section 10).
                own = worker_token(token, cluster.name, node.name)
                files[target / cluster.name / base / "join-token"] = own + "\n"
    diags.sort(key=sort_key)
    sys.stderr.write(render_text(diags))
    if any(d.is_error for d in diags):
        print("nothing written", file=sys.stderr)
        return EXIT_PROBLEMS
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path, text in sorted(files.items()):
        _write_private(path, text)
        print(f"    write {path} (0600)", file=sys.stderr)
    return EXIT_OK
