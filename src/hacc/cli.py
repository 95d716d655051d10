"""The command line. The only module that prints; heavy imports happen inside each command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from hacc import __version__
from hacc.errors import EXIT_INTERNAL, EXIT_OK, EXIT_PROBLEMS, HaccError, UsageError

MODES = ("keepalived-haproxy", "kube-vip", "external")

DESCRIPTION = """\
hacc compiles one declarative spec of a MicroK8s high-availability cluster into every
artifact its nodes, its load balancing and its GitOps pipeline need."""

EPILOG = """\
exit codes: 0 success (warnings allowed), 1 problems found, 2 usage error, 3 internal error.
Diagnostics read FILE:LINE:COL: error[HACCnnn]: message; docs/diagnostics.md explains each code."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _spec_arguments(parser: argparse.ArgumentParser, *, output: bool) -> None:
    """What every compiling command takes: specs, the output folder, --strict."""
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="spec files")
    if output:
        parser.add_argument(
            "-o", "--output", default="out", metavar="OUT", help="output folder (default: out)"
        )
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")


def _command(sub: Any, name: str, **kw: Any) -> argparse.ArgumentParser:
    """A subcommand's parser; `--debug` is accepted after the subcommand too."""
    parser: argparse.ArgumentParser = sub.add_parser(name, **kw)
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="hacc",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"hacc {__version__}")
    p.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    init = _command(
        sub,
        "init",
        help="write a commented starter spec",
        description="Write a commented starter spec that validates clean.",
    )
    init.add_argument(
        "path",
        nargs="?",
        default="ha-cluster.yaml",
        metavar="PATH",
        help="where to write it; '-' for standard output (default: ha-cluster.yaml)",
    )
    init.add_argument(
        "--mode",
        choices=MODES,
        default="keepalived-haproxy",
        help="the load-balancer mode (default: keepalived-haproxy)",
    )
    init.add_argument("--name", default="my-cluster", help="the cluster name (default: my-cluster)")
    init.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    init.add_argument(
        "--schema-url",
        default=None,
        metavar="URL",
        help="where the editor finds the schema (for the modeline); "
        "for example a file written by `hacc schema -o`",
    )

    val = _command(
        sub,
        "validate",
        help="check specs: schema and semantic rules",
        description="Check specs against the schema and hacc's semantic rules; "
        "report every problem at once.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _spec_arguments(val, output=False)
    val.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text diagnostics on stderr (default), or a JSON report on stdout",
    )

    bld = _command(
        sub,
        "build",
        help="compile specs into every artifact",
        description="Compile specs into OUT/<cluster>/: user-data, launch configurations, "
        "load-balancer configurations, manifests, day-2 scripts and the runbook. Writes only "
        "files that changed, removes files it wrote that are no longer produced, and never "
        "touches files it did not write. If any spec has an error, nothing is written.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _spec_arguments(bld, output=True)
    mode = bld.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 listing files that are missing, stale or edited by hand",
    )
    mode.add_argument(
        "--commit",
        action="store_true",
        help="then stage exactly hacc's files (additions, updates, removals) and commit them",
    )
    bld.add_argument(
        "--repo",
        metavar="PATH",
        help="the Git repository for --commit (default: the one OUT is in)",
    )
    bld.add_argument("-m", "--message", metavar="MSG", help="commit message for --commit")
    bld.add_argument(
        "--prune",
        action="store_true",
        help="remove the files hacc wrote for clusters no spec builds any more (renamed or "
        "deleted specs); without it they are only reported",
    )
    bld.add_argument(
        "-q", "--quiet", action="store_true", help="do not list files that stay identical"
    )

    pl = _command(
        sub,
        "plan",
        help="show what build would change, and what each change means for a live cluster",
        description="Compile in memory and compare with OUT: + create, ~ update, - destroy per "
        "file, each tagged with its impact (first boot only, GitOps-reconciled, live-node step, "
        "documentation) and the step a live cluster needs.",
        epilog="exit codes: 0 success; with --detailed-exitcode 0 no changes, 2 changes; 1 errors.",
    )
    _spec_arguments(pl, output=True)
    pl.add_argument("--diff", action="store_true", help="show a unified diff of every update")
    pl.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes, 0 when none",
    )

    mat = _command(
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

    dr = _command(
        sub,
        "drill",
        help="fail the generated load balancing over for real and measure it (root)",
        description="Build the spec, run its keepalived and HAProxy configurations with fake "
        "apiservers in network namespaces of the drill's own (addresses moved to 198.18.0.0/24, "
        "no route out), inflict failures, and measure VIP moves and what a client sees. Needs "
        "root, keepalived, haproxy, iproute2, openssl and curl. Exit 0 when every scenario "
        "behaves, 1 otherwise.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dr.add_argument("spec", metavar="SPEC", help="a keepalived-haproxy spec")
    dr.add_argument(
        "--profile",
        choices=("default", "fast"),
        help="drill this failover profile instead of the spec's own timing",
    )
    dr.add_argument(
        "--scenarios",
        metavar="NAME,...",
        help="comma-separated scenarios (default: all): keepalived-stop, keepalived-crash, "
        "holder-cut-off, haproxy-kill-holder, apiserver-kill-other, apiserver-kill-holder",
    )
    dr.add_argument("--json", metavar="FILE", help="write every measurement to FILE")

    sch = _command(
        sub,
        "schema",
        help="print the spec's JSON Schema",
        description="Print the JSON Schema (draft-07) of the spec.",
    )
    sch.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = _parser().parse_args(args_list)
        if args.command is None:
            _parser().print_help(sys.stderr)
            return 2
        command = {
            "init": _init,
            "validate": _validate,
            "build": _build,
            "plan": _plan,
            "materialize": _materialize,
            "drill": _drill,
            "schema": _schema,
        }[args.command]
        return command(args)
    except HaccError as e:
        print(f"hacc: {e}" if not str(e).startswith("hacc") else str(e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("hacc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`hacc schema | head -c1`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        # The machine, not hacc: a full disk, a read-only or missing folder, a file in the way.
        where = f"{e.filename}: " if e.filename else ""
        print(f"hacc: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_PROBLEMS
    except Exception as e:
        if debug:
            raise
        print(
            f"hacc: internal error: {type(e).__name__}: {e} (this is a bug in hacc; "
            "rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _validate(args: argparse.Namespace) -> int:
    from hacc.compiler.frontend import analyze_all
    from hacc.diagnostics import promote_warnings, render_json, render_text

    diags = []
    for analysis in analyze_all(args.specs):
        diags.extend(analysis.diagnostics)
    if args.strict:
        diags = promote_warnings(diags)
    errors = sum(d.is_error for d in diags)
    if args.format == "json":
        sys.stdout.write(render_json(diags))
    else:
        sys.stderr.write(render_text(diags))
        warnings = len(diags) - errors
        n = len(args.specs)
        summary = (
            (
                f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} "
                f"in {n} spec{'s' * (n != 1)}"
            )
            if diags
            else f"{n} spec{'s' * (n != 1)} valid"
        )
        print(summary, file=sys.stderr)
    return EXIT_PROBLEMS if errors else EXIT_OK


def _compile(args: argparse.Namespace) -> tuple[list[Any], bool]:
    """Compile the specs and print their diagnostics; (units, ok)."""
    from hacc.build import compile_specs
    from hacc.diagnostics import promote_warnings, render_text

    units, diags = compile_specs(args.specs, getattr(args, "output", None))
    if args.strict:
        diags = promote_warnings(diags)
    sys.stderr.write(render_text(diags))
    errors = sum(d.is_error for d in diags)
    if errors:
        print(f"{errors} error{'s' * (errors != 1)}; nothing written", file=sys.stderr)
    return units, not errors


def _secret_values(units: list[Any]) -> list[str]:
    """The join tokens the specs reference, where they resolve on this machine, and the worker
    tokens derived from them: what must never be committed or printed."""
    from pathlib import Path

    from hacc.secrets import SecretUnavailable, resolve, worker_token

    values = []
    for unit in units:
        if unit.analysis is None or unit.analysis.cluster is None:
            continue
        cluster = unit.analysis.cluster
        try:
            token = resolve(cluster.join_token, Path(unit.analysis.file).parent)
        except SecretUnavailable:
            continue  # nothing to look for: the value is not on this machine
        values.append(token)
        values += [worker_token(token, cluster.name, w.name) for w in cluster.workers]
    return values


def _leak_guard(units: list[Any], texts: dict[str, bytes]) -> None:
    """Fail if a secret value the specs reference appears in what would be committed."""
    from hacc.secrets import leaks

    found = leaks(texts, _secret_values(units))
    if found:
        raise HaccError(
            f"hacc: a secret value appears in {', '.join(found)}; remove it, rotate "
            "the secret, and never commit these files"
        )


def _build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hacc import fsafe

    repo = None
    if args.commit:
        from hacc import gitrepo

        repo = gitrepo.open_repo(Path(args.repo or args.output).resolve())
        gitrepo.ensure_committable(repo)
        gitrepo.ensure_inside(repo, Path(args.output))
    units, ok = _compile(args)
    if not ok:
        return EXIT_PROBLEMS
    with fsafe.locked(Path(args.output), exclusive=not args.check):
        return _build_locked(args, units, repo)


def _build_locked(args: argparse.Namespace, units: list[Any], repo: Any) -> int:
    from pathlib import Path

    from hacc import output
    from hacc.build import orphans, plan, spec_digest
    from hacc.planview import stale

    written: list[Path] = []
    removed: list[Path] = []
    orphaned = orphans(units, args.output)
    for folder, reason in orphaned:
        if args.prune:
            for path in output.prune(folder):
                removed.append(path)
                print(f"{output.REMOVE:>9} {path}", file=sys.stderr)
        elif not args.check:
            print(
                f"hacc: {folder}: no spec builds cluster {folder.name} any more ({reason}); "
                "hacc build --prune removes its files",
                file=sys.stderr,
            )
    plans = plan(units, args.output)  # every folder planned before any is written
    texts = {str(p.folder / a.path): a.data for p in plans for a in p.unit.artifacts}
    if args.check:  # what is on disk is what would be committed
        texts.update(
            {
                str(p.folder / c.path): c.current
                for p in plans
                for c in p.changes
                if c.current is not None
            }
        )
    _leak_guard(units, texts)
    if args.check:
        problems = stale(plans)
        gone = [
            f"{folder}: no spec builds cluster {folder.name} any more ({reason}; "
            "run hacc build --prune)"
            for folder, reason in orphaned
        ]
        for line in problems + gone:
            print(line, file=sys.stderr)
        n = sum(len(p.unit.artifacts) for p in plans)
        parts = [f"{len(problems)} stale file{'s' * (len(problems) != 1)}"] if problems else []
        if gone:
            parts.append(f"{len(gone)} orphaned cluster folder{'s' * (len(gone) != 1)}")
        print(" and ".join(parts) if parts else f"up to date: {n} files", file=sys.stderr)
        problems += gone
        return EXIT_PROBLEMS if problems else EXIT_OK
    for p in plans:
        output.apply(p.folder, p.unit.name, p.unit.artifacts, p.changes, p.unit.record(p.folder))
        counts = dict.fromkeys((output.CREATE, output.UPDATE, output.IDENTICAL, output.REMOVE), 0)
        for change in p.changes:
            counts[change.action] += 1
            if change.action == output.REMOVE:
                removed.append(p.folder / change.path)
            else:
                written.append(p.folder / change.path)
            if args.quiet and change.action == output.IDENTICAL:
                continue
            note = " (edited by hand; replaced)" if change.edited else ""
            print(f"{change.action:>9} {p.folder / change.path}{note}", file=sys.stderr)
        written.append(p.folder / output.STATE_FILE)
        print(
            f"{p.unit.name}: " + ", ".join(f"{n} {a}" for a, n in counts.items()), file=sys.stderr
        )
    if repo is not None:
        from hacc import gitrepo

        names = [u.name for u in units if u.analysis]
        digests = [f"{u.name}: {spec_digest(u.analysis.file)}" for u in units if u.analysis]
        message = args.message or (
            f"hacc: build {', '.join(names)}\n\nSpecs:\n" + "".join(f"  {d}\n" for d in digests)
        )
        sha = gitrepo.commit_paths(repo, written, removed, message)
        print(
            f"committed {sha[:12]}"
            if sha
            else "nothing to commit: the repository already holds this output",
            file=sys.stderr,
        )
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hacc import fsafe
    from hacc.build import plan
    from hacc.planview import render

    units, ok = _compile(args)
    if not ok:
        return EXIT_PROBLEMS
    from hacc.build import orphans

    with fsafe.locked(Path(args.output), exclusive=False):
        plans = plan(units, args.output)
        orphaned = orphans(units, args.output)
    secrets = _secret_values(units) if args.diff else []
    sys.stdout.write(render(plans, diff=args.diff, orphans=orphaned, redact=secrets))
    if args.detailed_exitcode and (orphaned or any(p.pending for p in plans)):
        return 2
    return EXIT_OK


def _materialize(args: argparse.Namespace) -> int:
    from hacc.materialize import materialize

    return materialize(args.specs, args.output, force_in_git=args.allow_git)


def _drill(args: argparse.Namespace) -> int:
    from hacc.drill.command import run

    names = [n.strip() for n in args.scenarios.split(",") if n.strip()] if args.scenarios else None
    return run(args.spec, args.profile, names, args.json)


def _schema(args: argparse.Namespace) -> int:
    from hacc.schemas import schema_text

    text = schema_text()
    if args.output:
        _write_new(args.output, text, force=True)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    import re

    from hacc.starter import SCHEMA_URL, starter_spec

    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", args.name):
        raise UsageError(f"hacc init: --name {args.name!r} is not a DNS-1123 label")
    shown = "ha-cluster.yaml" if args.path == "-" else os.path.basename(args.path)
    text = starter_spec(args.mode, args.name, shown, args.schema_url or SCHEMA_URL)
    if args.path == "-":
        sys.stdout.write(text)
        return EXIT_OK
    _write_new(args.path, text, force=args.force)
    print(f"create {args.path}", file=sys.stderr)
    return EXIT_OK


def _write_new(path: str, text: str, *, force: bool) -> None:
    from pathlib import Path

    from hacc import fsafe

    if os.path.lexists(path) and not force:
        raise HaccError(f"hacc: {path} exists; pass --force to overwrite it")
    fsafe.write(Path(path), text.encode("utf-8"), 0o644)
