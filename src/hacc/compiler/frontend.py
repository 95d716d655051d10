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
    """Every problem of one spec, sorted by position; the model when the spec is usable. An
    unchanged spec's analysis comes from the local cache (hacc.outdir.cache)."""
    from hacc.compiler.loader import load_bytes, read_spec
    from hacc.outdir import cache

    name = str(path)
    raw, problems = read_spec(path, name)
    if raw is None:
        return _analyze(name, None, problems)
    cached = _from_cache(name, raw)
    if cached is not None:
        return cached
    result = _analyze(name, *load_bytes(raw, name))
    result.source = cache.digest(raw)
    cache.store_analysis(name, raw, result)
    return result


def cached(path: str | Path) -> Analysis | None:
    """`analyze(path)` if the local cache has it, else None (nothing parsed)."""
    from hacc.compiler.loader import read_spec

    raw, _ = read_spec(path, str(path))
    return _from_cache(str(path), raw) if raw is not None else None


def _from_cache(name: str, raw: bytes) -> Analysis | None:
    """The analysis of `name` holding `raw`, from the parsed document the cache holds, or None.
    Nothing read from the cache is trusted: the document is validated, checked and modelled
    again; an entry whose diagnostics are not what that finds is a miss, and so is one with
    errors (the spec is parsed again to say so: a forged entry must not fail a good spec)."""
    from hacc.outdir import cache

    entry = cache.cached_entry(name, raw)
    if entry is None or entry.document is None:
        return None
    data, values, keys = entry.document
    doc = Document(name, data)
    doc.values = {path: (line, column) for path, line, column in values}
    doc.keys = {path: (line, column) for path, line, column in keys}
    try:
        result = _analyze(name, doc, [])
    except Exception:  # data no parse of a spec gives (hacc's checks assume one did)
        return None
    if result.diagnostics != entry.diagnostics or not result.ok:
        return None
    result.source = cache.digest(raw)
    return result


def analyze_text(text: str, name: str) -> Analysis:
    """`analyze` for a spec held in memory."""
    from hacc.compiler.loader import load_text

    doc, problems = load_text(text, name)
    return _analyze(name, doc, problems)


def _analyze(name: str, doc: Document | None, problems: list[Diagnostic]) -> Analysis:
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


def analyze_all(
    paths: list[str], recorded: Recorded | None = None, analyses: list[Analysis] | None = None
) -> list[Analysis]:
    """Every spec, plus the checks that span specs: one cluster name per spec, and no address,
    VIP or virtual router id taken twice, among these specs and the clusters recorded in OUT
    that are not built now (`recorded(built)`: name -> claims of the others). `analyses`: each
    spec's own analysis, if already made (they gain the diagnostics across specs)."""
    from hacc.diagnostics import ERROR
    from hacc.outdir.parallel import map_ordered

    results = analyses if analyses is not None else map_ordered(analyze, paths)
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
