"""`hacc materialize`: the final user-data with the secrets in it, for the provisioner only."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import EPILOG, command
from hacc.diagnostics import ERROR, sort_key
from hacc.errors import EXIT_OK, EXIT_PROBLEMS, HaccError, InternalError
from hacc.outdir import fsafe
from hacc.outdir.secret_store import (
    SecretUnavailable,
    fill_tokens,
    resolve,
    token_problem,
    worker_token,
)
from hacc.outdir.units import compile_specs, gzipped
from hacc.targets import selfcheck
from hacc.targets.artifact import EC2_LIMIT

TOKEN_PATH = ("spec", "secrets", "joinToken")


def _private_folders(target: Path, rel: str) -> None:
    """Every folder from `target` down to the file at `rel` is private: created 0700, and an
    existing one that others may write to is refused, since they could swap the file."""
    folder = target
    for part in Path(rel).parts[:-1]:
        folder = folder / part
        if not folder.exists():
            folder.mkdir(mode=0o700)
        elif folder.stat().st_mode & 0o022:
            raise HaccError(f"{folder} is writable by others; make it 0700 (chmod go-w) first")


def _materialized_problems(text: str) -> list[str]:
    """The build's self-check, again on the user-data with the tokens in it: cloud-init's
    schema, and the closed launch-configuration schema on the copy it carries."""
    import yaml

    from hacc.targets.user_data import JOIN_SOURCE, LAUNCH_SOURCE

    problems = selfcheck.cloud_config_problems(text)
    if problems:
        return problems
    files = yaml.safe_load(text)["write_files"]
    # The node's own launch configuration, and node 1's that joins instead of founding.
    return [
        problem
        for f in files
        if f["path"] in (LAUNCH_SOURCE, JOIN_SOURCE)
        for problem in selfcheck.launch_config_problems(f["content"])
    ]


@dataclass(frozen=True)
class Options:
    specs: list[str]
    output: str
    allow_git: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(specs=args.specs, output=args.output, allow_git=args.allow_git)


def run(opts: Options, report: Report) -> int:
    out = opts.output
    target = Path(out)
    if not opts.allow_git:
        from hacc.outdir.gitrepo import secret_exposure

        exposure = secret_exposure(target.resolve())
        if exposure is not None:
            raise HaccError(
                f"{out} {exposure}: secrets must never be committed (choose another folder, "
                "ignore it and keep it untracked, or pass --allow-git)"
            )
    units, diags = compile_specs(opts.specs)
    files: dict[Path, bytes] = {}
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
        workers = {n.name for n in cluster.workers}
        for a in unit.artifacts:
            if not a.kind.secret:
                continue
            text = fill_tokens(a.content, token, cluster.name)
            # The guarantee behind the worker tokens, checked rather than assumed.
            if a.node in workers and token in text:
                raise InternalError(f"{a.node}'s user-data holds the cluster's join token")
            broken = _materialized_problems(text)
            if broken:
                raise InternalError(
                    f"hacc produced invalid user-data for {a.node}: " + "; ".join(broken[:3])
                )
            files[target / cluster.name / a.path] = text.encode("utf-8")
            if len(files[target / cluster.name / a.path]) > EC2_LIMIT:
                # Over EC2's 16 KiB: cloud-init reads gzip-compressed user-data (HACC223).
                packed = gzipped(files[target / cluster.name / a.path])
                files[target / cluster.name / (a.path + ".gz")] = packed
            if a.node in workers:
                # For a worker added after the first node booted (RUNBOOK.md section 10).
                own = worker_token(token, cluster.name, a.node)
                files[target / cluster.name / Path(a.path).parent / "join-token"] = (
                    own + "\n"
                ).encode()
        # For a day-2 procedure that installs a rotated token (hacc plan --script).
        files[target / cluster.name / "join-token"] = (token + "\n").encode()
    diags.sort(key=sort_key)
    report.diagnostics(diags)
    if any(d.is_error for d in diags):
        report.err("nothing written")
        return EXIT_PROBLEMS
    if target.exists() and not target.is_dir():
        raise HaccError(f"{target} is a file; materialize writes into a folder")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    if target.stat().st_mode & 0o022:
        raise HaccError(f"{target} is writable by others; make it 0700 (chmod go-w) first")
    with fsafe.locked(target, exclusive=True):  # another run's temporaries are its own
        for path, data in sorted(files.items()):
            rel = str(path.relative_to(target))
            safe = fsafe.inside(target, rel)  # no link below the private folder
            _private_folders(target, rel)
            fsafe.write(safe, data, 0o600)
            report.err(f"    write {path} (0600)")
        # A killed run's temporary files hold tokens too: a provisioner copying the folder
        # would copy them.
        for name in sorted({p.relative_to(target).parts[0] for p in files}):
            for tmp in fsafe.stale_temporaries(fsafe.inside(target, name)):
                fsafe.remove(tmp)
                report.err(f"   remove {tmp} (left by an interrupted run)")
    return EXIT_OK


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    mat = command(
        sub,
        "materialize",
        help="write user-data with the real join token, for the provisioner (never for Git)",
        description="Resolve each spec's join token (env, file or sops) and write "
        "PRIVATE_DIR/<cluster>/nodes/<node>/user-data.yaml with the token in place of the "
        "placeholder, readable by the owner only. Refuses a folder inside a Git work tree "
        "unless Git ignores it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mat.add_argument("specs", nargs="+", metavar="SPEC", help="spec files")
    mat.add_argument("-o", "--output", required=True, metavar="PRIVATE_DIR", help="where to write")
    mat.add_argument(
        "--allow-git", action="store_true", help="allow a folder Git tracks (not recommended)"
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
