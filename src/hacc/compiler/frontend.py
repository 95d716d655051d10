"""load -> validate -> check -> model, for one spec file."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hacc.compiler.loader import Document
from hacc.compiler.model import Cluster
from hacc.diagnostics import Diagnostic, sort_key

if TYPE_CHECKING:
    from pathlib import Path


class Analysis:
    """What `analyze` found in one spec. (A plain class: see hacc.diagnostics.Diagnostic.)"""

    def __init__(self, file: str) -> None:
        self.file = file
        self.document: Document | None = None
        self.cluster: Cluster | None = None
        self.diagnostics: list[Diagnostic] = []
        self.source: str | None = None  # the digest of the spec's bytes (cache.digest)

    @property
    def ok(self) -> bool:
        return self.cluster is not None and not any(d.is_error for d in self.diagnostics)


def analyze(path: str | Path) -> Analysis:
    """Every problem of one spec, sorted by position; the model when the spec is usable.
    (hacc.outdir.analyses.analyze is the same, through the local cache.)"""
    from hacc.compiler.loader import load_bytes, read_spec, spec_name
    from hacc.digests import digest

    name = spec_name(path)
    raw, problems = read_spec(path, name)
    if raw is None:
        return analyze_document(name, None, problems)
    result = analyze_document(name, *load_bytes(raw, name))
    result.source = digest(raw)
    return result


def analyze_text(text: str, name: str) -> Analysis:
    """`analyze` for a spec held in memory."""
    from hacc.compiler.loader import load_text

    doc, problems = load_text(text, name)
    return analyze_document(name, doc, problems)


def analyze_document(name: str, doc: Document | None, problems: list[Diagnostic]) -> Analysis:
    """The analysis of a loaded document (None: it did not load; `problems` say why)."""
    result = Analysis(name)
    result.document = doc
    if doc is not None:
        from hacc.compiler.schema_errors import validate

        problems = validate(doc)
        if not problems:
            from hacc.compiler.checks import check
            from hacc.compiler.model import build_model

            cluster = build_model(doc.data, name)
            problems = check(cluster, doc)
            result.cluster = cluster
    result.diagnostics = sorted(set(problems), key=sort_key)
    return result


def claims(cluster: Cluster) -> dict[str, Any]:
    """The addresses a cluster takes on its network, which no other cluster may take."""
    from hacc.compiler.model import KEEPALIVED_HAPROXY, VIP_MODES

    out: dict[str, Any] = {"addresses": sorted(n.address for n in cluster.nodes)}
    if cluster.mode in VIP_MODES and cluster.endpoint.address:
        out["vip"] = cluster.endpoint.address
    if cluster.mode == KEEPALIVED_HAPROXY and cluster.subnet:
        out["vrrp"] = f"{cluster.subnet} {cluster.keepalived.virtual_router_id}"
    return out


Recorded = Callable[[set[str]], dict[str, dict[str, Any]]]


def across(results: list[Analysis], recorded: Recorded | None = None) -> list[Analysis]:
    """The checks that span specs, added to each spec's analysis: one cluster name per spec, and
    no address, VIP or virtual router id taken twice, among these specs and the clusters
    recorded in OUT that are not built now (`recorded(built)`: name -> claims of the others)."""
    from hacc.diagnostics import ERROR

    seen: dict[str, str] = {}
    taken: dict[tuple[str, str], str] = {}  # (kind, value) -> who holds it
    built = {r.cluster.name for r in results if r.cluster is not None}
    for name, record in sorted((recorded(built) if recorded else {}).items()):
        if name not in built:
            _claim(taken, f"cluster {name} (recorded in its output folder)", record)
    for r in results:
        if r.cluster is None or r.document is None:
            continue
        name = r.cluster.name
        if name in seen:
            r.diagnostics.append(
                r.document.diag(
                    ("metadata", "name"),
                    ERROR,
                    "HACC222",
                    f"cluster {name!r} is also built from {seen[name]}",
                )
            )
        else:
            seen[name] = r.file
            r.diagnostics += _clashes(r, taken)
        r.diagnostics.sort(key=sort_key)
    return results


def _claim(taken: dict[tuple[str, str], str], who: str, record: dict[str, Any]) -> None:
    for address in record.get("addresses", []):
        taken.setdefault(("address", str(address)), who)
    for kind in ("vip", "vrrp"):
        if isinstance(record.get(kind), str):
            taken.setdefault((kind, record[kind]), who)
            if kind == "vip":
                taken.setdefault(("address", record[kind]), who)


def _clashes(r: Analysis, taken: dict[tuple[str, str], str]) -> list[Diagnostic]:
    from hacc.diagnostics import ERROR

    assert r.cluster is not None and r.document is not None
    cluster, doc = r.cluster, r.document
    who = f"cluster {cluster.name} ({r.file})"
    out: list[Diagnostic] = []

    def clash(path: tuple[Any, ...], what: str, holder: str) -> None:
        out.append(doc.diag(path, ERROR, "HACC227", f"{what} is also used by {holder}"))

    mine = claims(cluster)
    for node in cluster.nodes:
        holder = taken.get(("address", node.address))
        if holder:
            clash((*node.path, "address"), f"address {node.address}", holder)
    endpoint = ("spec", "controlPlane", "endpoint", "address")
    if "vip" in mine:
        holder = taken.get(("address", mine["vip"]))
        if holder:
            clash(endpoint, f"the VIP {mine['vip']}", holder)
    if "vrrp" in mine:
        holder = taken.get(("vrrp", mine["vrrp"]))
        if holder:
            vrid = ("spec", "controlPlane", "loadBalancer", "keepalived", "virtualRouterId")
            subnet, number = mine["vrrp"].split()
            clash(vrid, f"virtual router id {number} on {subnet}", holder)
    _claim(taken, who, mine)
    return out
