"""`hacc drill`: checks, the spec's model for the chosen profile, the run, the report."""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import EPILOG, command
from hacc.compiler.model import KEEPALIVED_HAPROXY, Cluster, build_model
from hacc.errors import HaccError, UsageError

TOOLS = ("ip", "bridge", "keepalived", "haproxy", "openssl", "curl")


def preflight() -> None:
    if os.geteuid() != 0:
        raise HaccError("hacc drill needs root: it creates network namespaces and runs keepalived")
    missing = [
        t
        for t in TOOLS
        if shutil.which(t, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None
    ]
    if missing:
        raise HaccError(
            f"hacc drill needs {', '.join(missing)}: install them (Debian: "
            "apt-get install keepalived haproxy iproute2 openssl curl)"
        )


def with_profile(raw: dict[str, Any], profile: str, source: str) -> Cluster:
    """The spec's model with `profile`'s timing: explicit values it sets are dropped."""
    data = copy.deepcopy(raw)
    lb = data["spec"]["controlPlane"].setdefault("loadBalancer", {})
    lb["profile"] = profile
    for key in ("advertInterval", "vrrpVersion"):
        lb.get("keepalived", {}).pop(key, None)
    for key in ("interval", "fall"):
        lb.get("haproxy", {}).get("healthCheck", {}).pop(key, None)
    return build_model(data, source)


@dataclass(frozen=True)
class Options:
    spec: str | None
    profile: str | None = None
    scenarios: list[str] | None = None
    json: str | None = None
    plot: str | None = None
    from_json: str | None = None  # plot these saved measurements; run no drill

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        names = (
            [n.strip() for n in args.scenarios.split(",") if n.strip()] if args.scenarios else None
        )
        return cls(
            spec=args.spec,
            profile=args.profile,
            scenarios=names,
            json=args.json,
            plot=args.plot,
            from_json=args.from_json,
        )


def plot_saved(opts: Options, report: Report) -> int:
    """`--from-json FILE --plot OUT.svg`: draw a drill's saved measurements."""
    from hacc.drill.plot import svg
    from hacc.outdir import fsafe

    if opts.plot is None or opts.spec is not None or opts.json:
        raise UsageError("hacc drill: --from-json FILE goes with --plot FILE.svg and no SPEC")
    assert opts.from_json is not None
    try:
        doc = json.loads(Path(opts.from_json).read_text(encoding="utf-8"))
        results = doc["results"]
        assert isinstance(results, list)
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as e:
        raise HaccError(f"{opts.from_json}: not the JSON of hacc drill --json ({e})") from e
    fsafe.write(Path(opts.plot), svg(results), 0o644)
    report.err(f"plot: {opts.plot}")
    return 0


def run(opts: Options, report: Report) -> int:
    if opts.from_json:
        return plot_saved(opts, report)
    if opts.spec is None:
        raise UsageError("hacc drill: give a SPEC (or --from-json FILE with --plot)")
    if opts.plot:
        from hacc.drill.plot import require_matplotlib

        require_matplotlib()  # before the drill, not after it
    spec, profile, scenario_names, json_path = opts.spec, opts.profile, opts.scenarios, opts.json
    from hacc.drill.configs import from_cluster
    from hacc.drill.report import table, verdict
    from hacc.drill.runner import Timing, as_json, run_drill
    from hacc.drill.scenarios import BY_NAME, SCENARIOS
    from hacc.outdir.analyses import analyze

    scenarios = SCENARIOS
    if scenario_names:
        unknown = [n for n in scenario_names if n not in BY_NAME]
        if unknown:
            raise UsageError(
                f"hacc drill: unknown scenario {', '.join(unknown)}; choose from {', '.join(BY_NAME)}"
            )
        scenarios = [BY_NAME[n] for n in scenario_names]
    analysis = analyze(spec)
    report.diagnostics(analysis.diagnostics)
    if not analysis.ok or analysis.cluster is None or analysis.document is None:
        return 1
    cluster = analysis.cluster
    if cluster.mode != KEEPALIVED_HAPROXY:
        raise HaccError(
            f"hacc drill runs keepalived-haproxy clusters; {cluster.name} uses {cluster.mode}"
        )
    if profile:
        cluster = with_profile(analysis.document.data, profile, spec)
    preflight()

    report.err(
        f"drill: {cluster.name}, profile {cluster.profile}, {len(scenarios)} scenarios "
        f"(about {len(scenarios) * 25} s)"
    )
    results, changed = run_drill(lambda d: from_cluster(cluster, d), scenarios, Timing())
    report.out(table(results))
    if json_path:
        doc = {
            "cluster": cluster.name,
            "profile": cluster.profile,
            "results": as_json(results),
            "host_unchanged": not changed,
        }
        Path(json_path).write_text(json.dumps(doc, indent=2) + "\n")
    if opts.plot:
        from hacc.drill.plot import svg
        from hacc.outdir import fsafe

        # from the JSON form, so a plot of saved measurements (`--json`) is the same bytes
        fsafe.write(Path(opts.plot), svg(json.loads(json.dumps(as_json(results)))), 0o644)
        report.err(f"plot: {opts.plot}")
    if changed:
        raise HaccError(f"the drill left the host changed: {', '.join(changed)}")
    return 0 if all(verdict(r)[0] for r in results) else 1


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    dr = command(
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
    dr.add_argument("spec", metavar="SPEC", nargs="?", help="a keepalived-haproxy spec")
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
    dr.add_argument(
        "--from-json",
        metavar="FILE",
        help="with --plot and no SPEC: draw the measurements a drill saved with --json "
        "(no drill runs, no root needed)",
    )


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
