"""`hacc build`: write OUT (or, with --check, compare it), prune orphans, and commit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report, plural
from hacc.commands.shared import compile_reported, leak_guard
from hacc.errors import EXIT_OK, EXIT_PROBLEMS, UsageError


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
    json: bool = False


def run(opts: Options, report: Report) -> int:
    from hacc.outdir import fsafe

    if not opts.commit and (opts.repo or opts.message):
        raise UsageError("hacc build: --repo and -m/--message go with --commit")
    repo = None
    if opts.commit:
        from hacc.outdir import gitrepo

        repo = gitrepo.open_repo(Path(opts.repo or opts.output).resolve())
        gitrepo.ensure_committable(repo)
        gitrepo.ensure_inside(repo, Path(opts.output))
    specs = list(opts.specs)
    if opts.check:  # hand edits in any folder count, whichever specs changed (pre-commit)
        from hacc.outdir.units import recorded_specs

        specs += recorded_specs(opts.output, specs)
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

    if code != EXIT_OK and not opts.check:
        return code
    for path in editor_schema.stale(specs):
        if opts.check:
            if not opts.json:
                report.err(f"{path}: the spec's editor schema is out of date (run hacc build)")
            code = EXIT_PROBLEMS
        else:
            editor_schema.write(path)
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
            note = " (edited by hand; replaced)" if change.edited else ""
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
    sha = gitrepo.commit_paths(repo, folders, written, removed, message)
    report.err(
        f"committed {sha[:12]}"
        if sha
        else "nothing to commit: the repository already holds this output"
    )
