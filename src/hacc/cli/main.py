"""The command line. The only module that prints; heavy imports happen inside each command."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Sequence
from typing import Any

from hacc import __version__
from hacc.errors import EXIT_INTERNAL, EXIT_PROBLEMS, HaccError, UsageError

MODES = ("keepalived-haproxy", "kube-vip", "external")

DESCRIPTION = """\
hacc compiles one declarative spec of a MicroK8s high-availability cluster into every
artifact its nodes, its load balancing and its GitOps pipeline need."""

EPILOG = """\
exit codes: 0 success (warnings allowed), 1 problems found, 2 usage error, 3 internal error.
Diagnostics read FILE:LINE:COL: error[HACCnnn]: message; docs/diagnostics.md explains each code."""

ENVIRONMENT = """
environment: HACC_CACHE_DIR where analyses of specs and records of built folders are cached
(default $XDG_CACHE_HOME/hacc, else ~/.cache/hacc; empty: no cache); HACC_JOBS how many processes share a fleet's work
(default: every core)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")

    def _get_formatter(self) -> argparse.HelpFormatter:
        # The width argparse would take from shutil.get_terminal_size(), without importing
        # shutil (and bz2, lzma...) on every `hacc validate`.
        return self.formatter_class(prog=self.prog, width=_columns() - 2)  # type: ignore[call-arg]


def _columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _spec_arguments(
    parser: argparse.ArgumentParser, *, output: bool, specs_help: str = "spec files"
) -> None:
    """What every compiling command takes: specs, the output folder, --strict."""
    nargs = "+" if specs_help == "spec files" else "*"
    parser.add_argument("specs", nargs=nargs, metavar="SPEC", help=specs_help)
    if output:
        parser.add_argument(
            "-o", "--output", default="out", metavar="OUT", help="output folder (default: out)"
        )
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")


def _format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default), or one JSON document on stdout (format_version 1; README "
        '"JSON output")',
    )


def _command(sub: Any, name: str, **kw: Any) -> argparse.ArgumentParser:
    """A subcommand's parser; `--debug` is accepted after the subcommand too."""
    parser: argparse.ArgumentParser = sub.add_parser(name, **kw)
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    return parser


def _init_command(sub: Any) -> None:
    init = _command(
        sub,
        "init",
        help="write a commented starter spec",
        description="Write a commented starter spec that validates clean, and the schema file "
        "its modeline names beside it.",
        epilog="exit codes: 0 success, 1 PATH exists (use --force) or cannot be written, "
        "2 usage error, 3 internal error.",
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
        help="where the editor finds the schema (for the modeline); default: "
        "./hacluster-v1alpha1.schema.json, written beside the spec and kept current by "
        "`hacc build` (works offline); or a URL",
    )


def _validate_command(sub: Any) -> None:
    val = _command(
        sub,
        "validate",
        help="check specs: schema and semantic rules",
        description="Check specs against the schema and hacc's semantic rules; "
        "report every problem at once.",
        epilog=EPILOG + ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _spec_arguments(val, output=False)
    val.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text diagnostics on stderr (default), or a JSON report on stdout",
    )


def _build_command(sub: Any) -> None:
    bld = _command(
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
    _spec_arguments(
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
        help="then stage exactly hacc's files (additions, updates, removals) and commit them",
    )
    bld.add_argument(
        "--repo",
        metavar="PATH",
        help="the Git repository for --commit (default: the one OUT is in)",
    )
    bld.add_argument("-m", "--message", metavar="MSG", help="commit message for --commit")
    _format_argument(bld)
    bld.add_argument(
        "--prune",
        action="store_true",
        help="remove the files hacc wrote for clusters no spec builds any more (renamed or "
        "deleted specs); without it they are only reported",
    )
    bld.add_argument(
        "-q", "--quiet", action="store_true", help="do not list files that stay identical"
    )


def _plan_command(sub: Any) -> None:
    pl = _command(
        sub,
        "plan",
        help="show what build would change, and what each change means for a live cluster",
        description="Compile in memory and compare with OUT: + create, ~ update, - destroy per "
        "file, each tagged with its impact (first boot only, GitOps-reconciled, live-node step, "
        "documentation) and the step a live cluster needs.",
        epilog="exit codes: 0 success; with --detailed-exitcode 0 no changes, 4 changes; "
        "1 errors; 2 usage error; 3 internal error.",
    )
    _spec_arguments(pl, output=True)
    pl.add_argument("--diff", action="store_true", help="show a unified diff of every update")
    pl.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 4 when there are changes, 0 when none (not 2: that is the usage-error code)",
    )
    _format_argument(pl)


def _materialize_command(sub: Any) -> None:
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


def _drill_command(sub: Any) -> None:
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
    dr.add_argument(
        "--plot",
        metavar="FILE.svg",
        help="draw each scenario as a timeline (requests, VIP holder, fault, recovery) into "
        "an SVG file; needs matplotlib (pip install 'hacc[plot]')",
    )


def _verify_command(sub: Any) -> None:
    ver = _command(
        sub,
        "verify",
        help="check a live cluster against its spec and name the broken layer",
        description="Check what clients depend on, against the spec: the DNS name, the "
        "endpoint (TCP, TLS, certificate SANs and expiry, /readyz) and every control-plane "
        "node's apiserver directly on its address:16443; then name the broken layer. Sends "
        "only TLS handshakes and GET /readyz; every step has a timeout.",
        epilog="exit codes: 0 every check holds, 1 a check failed or the spec has errors, "
        "2 usage error, 3 internal error.",
    )
    ver.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    ver.add_argument(
        "--ca", metavar="FILE", help="the cluster CA (ca.crt); without it trust is not checked"
    )
    ver.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="per network step (default: 5)",
    )
    ver.add_argument("--format", choices=["text", "json"], default="text")


def _kubeconfig_command(sub: Any) -> None:
    kc = _command(
        sub,
        "kubeconfig",
        help="rewrite a node's admin kubeconfig to reach the cluster through its endpoint",
        description="Read the kubeconfig a control-plane node prints (`sudo microk8s config`) "
        "and write one whose server is the cluster's endpoint (DNS name, else the VIP or load "
        "balancer address, and the spec's port), with cluster, context and user named after the "
        "cluster. Refuses an endpoint the spec's certificate SANs would not cover. Files are "
        "written 0600.",
        epilog="example: ssh cp1 sudo microk8s config | hacc kubeconfig ha-cluster.yaml "
        "--merge ~/.kube/config --use-context\n\nexit codes: 0 success, 1 problems, "
        "2 usage error, 3 internal error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kc.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    kc.add_argument(
        "--from",
        dest="source",
        default="-",
        metavar="FILE",
        help="the output of `microk8s config` (default: standard input)",
    )
    where = kc.add_mutually_exclusive_group()
    where.add_argument(
        "--merge",
        metavar="KUBECONFIG",
        help="add (or replace) the cluster, user and context in this kubeconfig, keeping its "
        "other entries",
    )
    where.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    kc.add_argument(
        "--use-context", action="store_true", help="with --merge: make the new context current"
    )


def _secret_command(sub: Any) -> None:
    sec = _command(
        sub,
        "secret",
        help="create the cluster's join token where the spec's reference points",
        description="`hacc secret new SPEC`: create a join token of the form MicroK8s accepts "
        "(32 hex characters) and store it where secrets.joinToken points: a file (0600, refused "
        "inside an unignored Git work tree), a sops-encrypted file (sops encrypts it with the "
        "repository's .sops.yaml rules, other keys in the file kept), or, for an environment "
        "variable, print the export line. An existing token is never replaced without --force.",
        epilog="exit codes: 0 success, 1 problems (a token exists, sops failed, the file would "
        "be committed), 2 usage error, 3 internal error.",
    )
    sec.add_argument("action", choices=("new",), help="new: create the token")
    sec.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    sec.add_argument("--force", action="store_true", help="replace an existing token")


def _upgrade_command(sub: Any) -> None:
    up = _command(
        sub,
        "upgrade",
        help="write a rolling, quorum-keeping upgrade procedure to the next channel",
        description="Write a script and a Markdown page that upgrade the running cluster to "
        "CHANNEL one minor version at a time: control-plane nodes one by one, each gated on "
        "every control-plane node being Ready through the endpoint and the datastore having "
        "its voters, then workers in batches of spec.workers.upgradeBatchSize. Each node is "
        "drained from another control-plane node, refreshed, waited for and uncordoned; a "
        "failed gate stops the script with what to do, and running it again resumes. Skipped "
        "minor versions, downgrades, `latest` tracks and confinement changes are refused.",
        epilog="example: hacc upgrade ha-cluster.yaml --to 1.33/stable\n"
        "         ./upgrade-CLUSTER-1.33-stable/upgrade-CLUSTER-1.33-stable.sh --dry-run\n\n"
        "exit codes: 0 written, 1 problems (spec errors, a refused channel change), "
        "2 usage error, 3 internal error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    up.add_argument(
        "--to", required=True, metavar="CHANNEL", help="the channel to reach, such as 1.33/stable"
    )
    up.add_argument(
        "--from",
        dest="frm",
        metavar="CHANNEL",
        help="the channel the nodes follow now (default: the spec's spec.microk8s.channel)",
    )
    up.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="the folder to write to (default: upgrade-CLUSTER-CHANNEL)",
    )


def _completion_command(sub: Any) -> None:
    comp = _command(
        sub,
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for the shell, made from hacc's own command "
        "line: `source <(hacc completion bash)` (zsh alike, after compinit), or "
        "`hacc completion fish > ~/.config/fish/completions/hacc.fish`.",
        epilog="exit codes: 0 success, 2 usage error.",
    )
    comp.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell")


def _schema_command(sub: Any) -> None:
    sch = _command(
        sub,
        "schema",
        help="print the spec's JSON Schema",
        description="Print the JSON Schema (draft-07) of the spec.",
        epilog="exit codes: 0 success, 1 FILE cannot be written, 2 usage error, 3 internal error.",
    )
    sch.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )


COMMANDS = {
    "init": _init_command,
    "validate": _validate_command,
    "build": _build_command,
    "plan": _plan_command,
    "materialize": _materialize_command,
    "drill": _drill_command,
    "verify": _verify_command,
    "kubeconfig": _kubeconfig_command,
    "secret": _secret_command,
    "upgrade": _upgrade_command,
    "completion": _completion_command,
    "schema": _schema_command,
}


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with `command`, only that command's arguments (the others
    are not needed to parse a line that names it, and building them all is a good part of
    `hacc validate`'s start-up)."""
    p = _Parser(
        prog="hacc",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"hacc {__version__}")
    p.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, add in COMMANDS.items():
        if command in (None, name):
            add(sub)
    return p


def _options(args: argparse.Namespace) -> tuple[Any, Any]:
    """The command module and its typed options, from the parsed command line."""
    if args.command == "kubeconfig":
        from hacc.commands import kubeconfig

        return kubeconfig, kubeconfig.Options(
            args.spec, args.source, args.merge, args.output, args.use_context
        )
    if args.command == "secret":
        from hacc.commands import secret

        return secret, secret.Options(args.spec, args.force)
    if args.command == "upgrade":
        from hacc.commands import upgrade

        return upgrade, upgrade.Options(args.spec, args.to, args.frm, args.output)
    if args.command == "completion":
        from hacc.commands import completion

        return completion, completion.Options(args.shell)
    if args.command == "validate":
        from hacc.commands import validate

        return validate, validate.Options(args.specs, args.strict, args.format == "json")
    if args.command == "build":
        from hacc.commands import build

        return build, build.Options(
            args.specs,
            args.output,
            args.strict,
            args.check,
            args.commit,
            args.repo,
            args.message,
            args.quiet,
            args.prune,
            args.format == "json",
        )
    if args.command == "plan":
        from hacc.commands import plan

        return plan, plan.Options(
            args.specs,
            args.output,
            args.strict,
            args.diff,
            args.detailed_exitcode,
            args.format == "json",
        )
    if args.command == "materialize":
        from hacc.commands import materialize

        return materialize, materialize.Options(args.specs, args.output, args.allow_git)
    if args.command == "drill":
        from hacc.commands import drill

        names = (
            [n.strip() for n in args.scenarios.split(",") if n.strip()] if args.scenarios else None
        )
        return drill, drill.Options(args.spec, args.profile, names, args.json, args.plot)
    if args.command == "verify":
        from hacc.commands import verify

        return verify, verify.Options(args.spec, args.ca, args.timeout, args.format == "json")
    if args.command == "schema":
        from hacc.commands import schema

        return schema, schema.Options(args.output)
    from hacc.commands import init

    return init, init.Options(args.path, args.mode, args.name, args.schema_url, args.force)


def _named(args: Sequence[str]) -> str | None:
    """The command a command line names (top-level options take no values), if it is one."""
    named = next((a for a in args if not a.startswith("-")), None)
    return named if named in COMMANDS else None


def entry() -> None:
    """The `hacc` executable. `hacc validate`, which pre-commit runs on every commit, ends
    without the interpreter's teardown (freeing every module's objects: about a tenth of its
    time): it writes files only by os-level calls, so once its streams are flushed and the
    exit handlers have run, nothing is left to do."""
    code = main()
    if _named(sys.argv[1:]) == "validate":
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # the reader went away, as main() reports it
            code = code or 141
        atexit._run_exitfuncs()
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run the command, and turn every failure into one line and an exit code."""
    from hacc.commands import Report

    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = _parser(_named(args_list)).parse_args(args_list)
        if args.command is None:
            _parser().print_help(sys.stderr)
            return 2
        module, options = _options(args)
        code: int = module.run(options, Report(sys.stdout, sys.stderr))
        return code
    except HaccError as e:
        _fail(f"hacc: {e}" if not str(e).startswith("hacc") else str(e))
        return e.exit_code
    except KeyboardInterrupt:
        _fail("hacc: interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`hacc schema | true`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        # The machine, not hacc: a full disk, a read-only or missing folder, a file in the way.
        where = f"{e.filename}: " if e.filename else ""
        _fail(f"hacc: {where}{e.strerror or e}")
        return EXIT_PROBLEMS
    except Exception as e:
        if debug:
            raise
        _fail(
            f"hacc: internal error: {type(e).__name__}: {e} (this is a bug in hacc; "
            "rerun with --debug for the traceback)"
        )
        return EXIT_INTERNAL


def _fail(line: str) -> None:
    """The one line a failed command ends with, on stderr (red on a terminal)."""
    from hacc.commands import colour

    print(colour.paint(line) if colour.enabled(sys.stderr) else line, file=sys.stderr)
