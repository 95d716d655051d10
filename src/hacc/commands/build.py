"""`hacc build`: write OUT (or, with --check, compare it), prune orphans, and commit."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report, plural
from hacc.commands.args import (
    ENVIRONMENT,
    EPILOG,
    command,
    format_argument,
    spec_arguments,
    specs_given,
)
from hacc.commands.shared import compile_reported, leak_guard
from hacc.errors import EXIT_OK, EXIT_PROBLEMS, HaccError, UsageError


@dataclass(frozen=True)
class Options:
    specs: list[str]
    output: str = "out"
    strict: bool = False
    check: bool = False
    commit: bool = False
    repo: str | None = None
    message: str | None = None
    quiet: bool = False
    prune: bool = False
    force: bool = False
    json: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(
            specs=specs_given(args.specs, "build"),
            output=args.output,
            strict=args.strict,
            check=args.check,
            commit=args.commit,
            repo=args.repo,
            message=args.message,
            quiet=args.quiet,
            prune=args.prune,
            force=args.force,
            json=args.format == "json",
        )


def run(opts: Options, report: Report) -> int:
    from hacc.outdir import fsafe

    if not opts.commit and (opts.repo or opts.message):
        raise UsageError("hacc build: --repo and -m/--message go with --commit")
    repo = None
    if opts.commit:
        from hacc.outdir import gitrepo

        repo = gitrepo.open_repo(Path(opts.repo or opts.output).resolve())
        for path in gitrepo.ensure_committable(repo, [Path(s) for s in opts.specs]):
            report.err(f"{'unstage':>9} {path} (staged by a hacc build --commit that was killed)")
        gitrepo.ensure_inside(repo, Path(opts.output))
    specs = list(opts.specs)
    if opts.check:  # hand edits in any folder count, whichever specs changed (pre-commit)
        from hacc.outdir.units import recorded_specs

        specs += recorded_specs(opts.output, specs)
    if not specs and opts.check:
        from hacc.outdir.units import orphans

        if orphans([], opts.output):  # the only spec was deleted: its folder is the finding
            with fsafe.locked(Path(opts.output), exclusive=False):
                return _locked(opts, report, [], None, [])
    if not specs:
        raise UsageError(
            "hacc build: give at least one SPEC"
            + ("" if not opts.check else f" ({opts.output} holds no cluster built from a spec)")
        )
    diags: list[Any] | None = [] if opts.json else None
    units, ok = compile_reported(specs, report, strict=opts.strict, out=opts.output, collect=diags)
    if not ok:
        if opts.json:
            from hacc.outdir.plan_view import as_json

            report.out(as_json(_command(opts), [], [], diags or [], ok=False), plain=True)
        return EXIT_PROBLEMS
    with fsafe.locked(Path(opts.output), exclusive=not opts.check):
        code = _locked(opts, report, units, repo, diags or [])
    return _schema_files(opts, report, specs, code)


def _schema_files(opts: Options, report: Report, specs: list[str], code: int) -> int:
    """Keep the schema files the specs' modelines name current (--check: report stale ones)."""
    from hacc.compiler import editor_schema
    from hacc.outdir import fsafe

    if code != EXIT_OK and not opts.check:
        return code
    for path in editor_schema.stale(specs):
        if opts.check:
            if not opts.json:
                report.err(f"{path}: the spec's editor schema is out of date (run hacc build)")
            code = EXIT_PROBLEMS
        else:
            fsafe.write(path, editor_schema.content(), 0o644)
            if not opts.json:
                report.err(f"{'update':>9} {path}")
    return code


def _command(opts: Options) -> str:
    return "check" if opts.check else "build"


def _locked(opts: Options, report: Report, units: list[Any], repo: Any, diags: list[Any]) -> int:
    from hacc.outdir import writer
    from hacc.outdir.units import orphans, plan

    removed: list[Path] = []
    orphaned = orphans(units, opts.output)
    if opts.prune and not opts.check:
        _refuse_removing_edits(
            [f for folder, _ in orphaned for f in writer.not_as_written(folder)], opts
        )
    for folder, reason in orphaned:
        if opts.prune:
            for path in writer.prune(folder):
                removed.append(path)
                report.err(f"{writer.REMOVE:>9} {path}")
        elif not opts.check:
            report.err(
                f"hacc: {folder}: no spec builds cluster {folder.name} any more ({reason}); "
                "hacc build --prune removes its files"
            )
    plans = plan(units, opts.output)  # every folder planned before any is written

    def texts() -> Iterator[tuple[str, bytes]]:
        # One at a time: a reused folder's files are read again here, not held. Names joined
        # as strings: a fleet has hundreds of thousands of files, and Path is slow.
        for p in plans:
            for a in p.unit.artifacts:
                yield f"{p.folder}/{a.path}", a.data
            if opts.check:  # what is on disk is what would be committed
                for c in p.changes:
                    if c.current:
                        yield f"{p.folder}/{c.path}", c.current

    leak_guard(units, texts)
    if opts.check:
        return _check(report, plans, orphaned, diags if opts.json else None)
    if repo is not None:
        from hacc.outdir import gitrepo

        gitrepo.ensure_not_ignored(
            repo, [p.folder / a.path for p in plans for a in p.unit.artifacts]
        )
    _refuse_removing_edits(
        [
            p.folder / c.path
            for p in plans
            for c in p.changes
            if c.action == writer.REMOVE and c.edited
        ],
        opts,
    )
    written: list[Path] = []
    failed = _apply_all(plans)
    for p, error in zip(plans, failed, strict=True):
        if error is not None:
            raise error
        counts = dict.fromkeys((writer.CREATE, writer.UPDATE, writer.IDENTICAL, writer.REMOVE), 0)
        for change in p.changes:
            counts[change.action] += 1
            (removed if change.action == writer.REMOVE else written).append(p.folder / change.path)
            if opts.json or (opts.quiet and change.action == writer.IDENTICAL):
                continue
            done = "removed" if change.action == writer.REMOVE else "replaced"
            note = f" (edited by hand; {done})" if change.edited else ""
            report.err(f"{change.action:>9} {p.folder / change.path}{note}")
        written.append(p.folder / writer.STATE_FILE)
        if not opts.json:
            report.err(f"{p.unit.name}: " + ", ".join(f"{n} {a}" for a, n in counts.items()))
    if repo is not None:
        _commit(opts, report, units, repo, written=written, removed=removed)
    if opts.json:
        from hacc.outdir.plan_view import as_json

        report.out(
            as_json("build", plans, [] if opts.prune else orphaned, diags, ok=True), plain=True
        )
    return EXIT_OK


def _refuse_removing_edits(paths: list[Path], opts: Options) -> None:
    """A file no longer produced is removed only if it holds what hacc wrote: one edited by hand
    since, or named by a state file hacc did not write (it is committed, and anyone who can
    commit can list a file of the user's in it), stays unless --force says otherwise."""
    if paths and not opts.force:
        listed = "".join(f"\n  {p}" for p in paths)
        raise HaccError(
            "nothing written; no longer produced, but not what hacc wrote (edited by hand?):"
            f"{listed}\nmove them away, or build again with --force to remove them"
        )


def _apply_all(plans: list[Any]) -> list[Exception | None]:
    """Write every planned folder (a reused one needs nothing); for each, the error that stopped
    it, if any."""
    from hacc.outdir import writer

    failed: list[Exception | None] = [None] * len(plans)
    todo = [i for i, p in enumerate(plans) if not p.unit.reused]
    writes = [
        writer.Write(p.folder, p.unit.name, p.unit.artifacts, p.changes, p.unit.record(p.folder))
        for p in (plans[i] for i in todo)
    ]
    for i, error in zip(todo, writer.apply_all(writes), strict=True):
        failed[i] = error
    return failed


def _check(
    report: Report,
    plans: list[Any],
    orphaned: list[tuple[Path, str]],
    diags: list[Any] | None = None,
) -> int:
    """`diags`: report as JSON (with these diagnostics) instead of text."""
    from hacc.outdir.plan_view import as_json, stale

    problems = stale(plans)
    if diags is not None:
        fresh = not problems and not orphaned
        report.out(as_json("check", plans, orphaned, diags, ok=fresh), plain=True)
        return EXIT_OK if fresh else EXIT_PROBLEMS
    gone = [
        f"{folder}: no spec builds cluster {folder.name} any more ({reason}; "
        "run hacc build --prune)"
        for folder, reason in orphaned
    ]
    for line in problems + gone:
        report.err(line)
    parts = [plural(len(problems), "stale file")] if problems else []
    if gone:
        parts.append(plural(len(gone), "orphaned cluster folder"))
    n = sum(len(p.unit.artifacts) for p in plans)
    report.err(" and ".join(parts) if parts else f"up to date: {n} files")
    return EXIT_PROBLEMS if parts else EXIT_OK


def _commit(
    opts: Options,
    report: Report,
    units: list[Any],
    repo: Any,
    *,
    written: list[Path],
    removed: list[Path],
) -> None:
    from hacc.outdir import gitrepo

    names = [u.name for u in units if u.analysis]
    # The digest of the bytes the build compiled (not of the file now: it may have changed since)
    digests = [f"{u.name}: {(u.analysis.source or '')[:23]}" for u in units if u.analysis]
    message = opts.message or (
        f"hacc: build {', '.join(names)}\n\nSpecs:\n" + "".join(f"  {d}\n" for d in digests)
    )
    folders = sorted({p.parent for p in written if p.name == ".hacc-state.json"})
    folders += [p.parent for p in removed if p.name == ".hacc-state.json"]  # pruned
    specs = {Path(u.analysis.file): u.analysis.source for u in units if u.analysis}
    sha = gitrepo.commit_paths(repo, folders, written, removed, message, specs=specs)
    report.err(
        f"committed {sha[:12]}"
        if sha
        else "nothing to commit: the repository already holds this output"
    )


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    bld = command(
        sub,
        "build",
        help="compile specs into every artifact",
        description="Compile specs into OUT/<cluster>/: user-data, launch configurations, "
        "load-balancer configurations, manifests, day-2 scripts and the runbook. Writes only "
        "files that changed, removes files it wrote that are no longer produced, and never "
        "touches files it did not write. If any spec has an error, nothing is written. A spec "
        "unchanged since its folder was built (same bytes, same hacc) is read back, not compiled.",
        epilog=EPILOG + ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    spec_arguments(
        bld,
        output=True,
        specs_help="spec files (at least one, but with --check, which also checks every spec "
        "OUT's state files name)",
    )
    mode = bld.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 listing files that are missing, stale or edited by hand; "
        "checks the SPECs and every spec that built a cluster folder in OUT",
    )
    mode.add_argument(
        "--commit",
        action="store_true",
        help="then stage exactly hacc's files (additions, updates, removals) and the specs "
        "that built them, and commit them",
    )
    bld.add_argument(
        "--repo",
        metavar="PATH",
        help="the Git repository for --commit (default: the one OUT is in)",
    )
    bld.add_argument("-m", "--message", metavar="MSG", help="commit message for --commit")
    format_argument(bld)
    bld.add_argument(
        "--prune",
        action="store_true",
        help="remove the files hacc wrote for clusters no spec builds any more (renamed or "
        "deleted specs); without it they are only reported",
    )
    bld.add_argument(
        "--force",
        action="store_true",
        help="also remove files no longer produced whose content is not what hacc wrote "
        "(edited by hand since); without it the build lists them and writes nothing",
    )
    bld.add_argument(
        "-q", "--quiet", action="store_true", help="do not list files that stay identical"
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
