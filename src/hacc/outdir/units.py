"""Compiling specs into folders of artifacts, and comparing them with what is on disk.

`build`, `build --check`, `build --commit` and `plan` all start here: compile every spec, then
plan every folder before anything is written, so an error or a conflict leaves OUT untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from hacc.compiler.frontend import Analysis, claims
from hacc.compiler.model import GitOps, gitops_from
from hacc.diagnostics import WARNING, Diagnostic, sort_key
from hacc.errors import HaccError, InternalError
from hacc.outdir import state, writer
from hacc.outdir.analyses import analyze, analyze_all, cached
from hacc.outdir.cache import inputs_digest
from hacc.outdir.state import NODE, STATE_FILE, Record
from hacc.targets import extensions, render_cluster, selfcheck
from hacc.targets.artifact import Artifact, Encoded
from hacc.targets.fleet import FOLDER as FLEET_FOLDER
from hacc.targets.fleet import render_fleet

# Its presence in a cluster's output puts the cluster's monitoring objects in the fleet.
MONITORING_KUSTOMIZATION = "manifests/monitoring/kustomization.yaml"


@dataclass
class Unit:
    """One output folder: a cluster's, or the fleet's."""

    name: str
    artifacts: list[Artifact]
    analysis: Analysis | None = None  # None for the fleet folder
    reused: bool = False  # read back from its folder, which holds what compiling would write

    @property
    def gitops(self) -> GitOps | None:
        cluster = self.analysis.cluster if self.analysis else None
        return cluster.gitops if cluster else None

    def gitops_record(self) -> dict[str, str] | None:
        g = self.gitops
        if g is None:
            return None
        record = {"repoURL": g.repo_url, "branch": g.branch, "path": g.path or "."}
        return record | ({"secretRef": g.secret} if g.secret else {})

    def record(self, folder: Path) -> Record:
        """What the state file remembers of this unit's spec."""
        if self.analysis is None or self.analysis.cluster is None:
            return Record()
        from hacc.compiler.loader import STDIN_NAME

        # A spec read from standard input cannot be read again: no path, and nothing to reuse.
        piped = self.analysis.file == STDIN_NAME
        spec = None if piped else spec_path(self.analysis, folder)
        cluster = self.analysis.cluster
        return Record(
            spec,
            self.gitops_record(),
            claims(cluster),
            endpoint_text(cluster),
            cluster.channel,
            extensions.items(cluster),
            inputs_digest(spec, self.analysis.source) if spec and self.analysis.source else None,
            token_text(cluster),
        )

    def folder(self, out: str | Path) -> Path:
        return Path(out) / self.name


@dataclass
class Planned:
    unit: Unit
    folder: Path
    changes: list[writer.Change]
    interrupted: bool = False  # the last build into the folder was killed half-way

    @property
    def pending(self) -> list[writer.Change]:
        return [c for c in self.changes if c.action != writer.IDENTICAL]


def spec_path(analysis: Analysis, folder: Path) -> str:
    """The spec's path relative to the cluster folder, as the state file records it."""
    return Path(os.path.relpath(Path(analysis.file).resolve(), folder.resolve())).as_posix()


def built_folders(out: str | Path) -> list[Path]:
    """Every cluster folder in OUT that a build wrote (it has a state file), links excluded, and
    folders no cluster could have (a cluster's name is a DNS-1123 label: a folder named otherwise
    is not hacc's, and its name must not reach the fleet's objects)."""
    return [
        state.parent
        for state in sorted(Path(out).glob(f"*/{STATE_FILE}"))
        if state.parent.name != FLEET_FOLDER
        and NODE.fullmatch(state.parent.name)
        and not state.parent.is_symlink()
    ]


def token_text(cluster: Any) -> str:
    """Where the join token comes from: a new reference is how a rotation shows in `plan`."""
    ref = cluster.join_token
    return f"{ref.kind}:{ref.ref}" + (f"#{ref.key}" if ref.key else "")


def endpoint_text(cluster: Any) -> str:
    """How clients reach the API: the URL, and the address behind a DNS name."""
    ep = cluster.endpoint
    url = f"https://{ep.dns_name or ep.address}:{ep.port}"
    return f"{url} ({ep.address})" if ep.dns_name and ep.address else url


def recorded_specs(out: str | Path, given: list[str]) -> list[str]:
    """The specs OUT's cluster folders were built from (each recorded relative to its folder)
    that exist and are not among `given`."""
    import os

    seen = {os.path.realpath(p) for p in given}
    found: list[str] = []
    for folder in built_folders(out):
        spec = state.read(folder).spec
        if spec is None:
            continue
        path = os.path.normpath(folder / spec)
        if Path(path).is_file() and os.path.realpath(path) not in seen and _is_spec(Path(path)):
            seen.add(os.path.realpath(path))
            found.append(path)
    return found


def _is_spec(path: Path) -> bool:
    """Whether a file a state file names declares itself a hacc spec. A state file is input:
    one naming another YAML file of the work tree must not get that file compiled, and its
    values quoted in diagnostics, by a `build --check` given no SPEC."""
    from hacc.compiler.loader import read_spec

    raw, _ = read_spec(path, str(path))
    return raw is not None and _identity(raw)[0]


def recorded_claims(
    out: str | Path | None, built: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The addresses each cluster already built in OUT claims (for checks across specs), but
    the clusters in `built`, whose specs are being compiled and speak for themselves."""
    if out is None:
        return {}
    return {
        folder.name: state.read(folder).claims
        for folder in built_folders(out)
        if folder.name not in (built or set())
        and orphan_reason(folder) is None  # a renamed cluster does not clash with its old self
    }


def compile_specs(
    paths: list[str], out: str | Path | None = None
) -> tuple[list[Unit], list[Diagnostic]]:
    """Artifacts of every usable spec (plus the fleet's), and every diagnostic of every spec;
    with OUT, specs are also checked against the clusters already built there. A spec whose
    folder already holds what it compiles to is not compiled again (see `_reusable`)."""
    from hacc.outdir.parallel import map_ordered

    # Unchanged specs first, here: reading a folder back is cheaper than shipping it between
    # processes. What is left to parse or render is shared among the cores.
    known = [cached(p) if out is not None else None for p in paths]
    prepared: list[tuple[Analysis, Made] | None] = []
    for analysis in known:
        back = _reusable(analysis, out) if analysis is not None and analysis.ok else None
        prepared.append((analysis, (back, True)) if analysis and back is not None else None)
    rest = [i for i, p in enumerate(prepared) if p is None]
    done = map_ordered(lambda i: _prepare(paths[i], out, known[i]), rest)
    for i, result in zip(rest, done, strict=True):
        prepared[i] = result
    ready = [p for p in prepared if p is not None]  # all of them, now
    analyses = analyze_all(paths, lambda built: recorded_claims(out, built), [a for a, _ in ready])
    units: list[Unit] = []
    diags: list[Diagnostic] = []
    for analysis, (_, made) in zip(analyses, ready, strict=True):
        diags.extend(analysis.diagnostics)
        if not analysis.ok or analysis.cluster is None:
            continue
        assert made is not None  # checks across specs only ever add errors
        if isinstance(made, InternalError):
            raise made
        artifacts, read_back = made
        diags.extend(_size_warnings(analysis, artifacts))
        units.append(Unit(analysis.cluster.name, artifacts, analysis, read_back))
    return units, sorted(diags, key=sort_key)


Made = tuple[list[Artifact], bool] | InternalError | None


def _prepare(path: str, out: str | Path | None, known: Analysis | None) -> tuple[Analysis, Made]:
    """One spec on its own: its analysis and, if it is usable, its artifacts and whether they
    were read back from its folder (or the self-check's verdict on them). `known`: its cached
    analysis, whose folder was already found not to be reusable."""
    analysis = known or analyze(path)
    if not analysis.ok or analysis.cluster is None:
        return analysis, None
    reused = None if known else _reusable(analysis, out)
    if reused is not None:
        return analysis, (reused, True)
    try:
        return analysis, (_render(analysis.cluster), False)
    except InternalError as e:
        return analysis, e


def _render(cluster: Any) -> list[Artifact]:
    artifacts = render_cluster(cluster)
    broken = selfcheck.problems(artifacts)
    if broken:
        raise InternalError(
            f"hacc produced an invalid artifact for cluster {cluster.name}: "
            + "; ".join(broken[:5])
        )
    return artifacts


def _reusable(analysis: Analysis, out: str | Path | None) -> list[Artifact] | None:
    """The artifacts already in the cluster's folder, if its last build was from the same
    inputs and nothing there changed since; None means compile."""
    if out is None or analysis.source is None or analysis.cluster is None:
        return None
    name = analysis.cluster.name
    try:
        folder = writer.cluster_folder(Path(out), name)
    except HaccError:
        return None
    if not os.path.lexists(folder / STATE_FILE):
        return None  # never built
    found = writer.unchanged(folder, name, Unit(name, [], analysis).record(folder))
    return None if found is None else [Stored(a, f"{folder}/{a.path}") for a in found]


class Stored(Encoded):
    """An artifact of a reused folder, checked on disk and held as its file, size and digest:
    its bytes, rarely needed again (the leak guard, materialize), are read back when asked for,
    so a no-op build does not keep a fleet's output in memory."""

    file: str
    stored_size: int

    def __init__(self, artifact: Artifact, file: str, size: int | None = None) -> None:
        a = artifact
        super().__init__(a.path, b"", a.kind.name, a.node, a.executable, a.digest)
        del self.__dict__["data"]
        object.__setattr__(self, "file", file)
        object.__setattr__(self, "stored_size", a.size if size is None else size)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        shell = Encoded(self.path, b"", self.kind.name, self.node, self.executable, self.digest)
        return Stored, (shell, self.file, self.size)

    @property
    def size(self) -> int:
        return self.stored_size

    @property
    def data(self) -> bytes:
        from hacc.outdir import fsafe

        data = fsafe.read_exactly(self.file, self.executable)
        if data is None:
            raise HaccError(f"{self.file} changed or went away during the build")
        return data


OTHER_CLOUDS_LIMIT = 65536  # bytes of user-data OpenStack (Nova) and Azure (custom data) accept


def gzipped(data: bytes) -> bytes:
    """`data` gzip-compressed, the same bytes on every run (no time or name in the header)."""
    import gzip

    return gzip.compress(data, compresslevel=9, mtime=0)


def _size_warnings(analysis: Analysis, artifacts: list[Artifact]) -> list[Diagnostic]:
    from hacc.compiler.model import EXTERNAL

    cluster, doc = analysis.cluster, analysis.document
    assert cluster is not None and doc is not None
    # Both VIP modes move an address with gratuitous ARP, which EC2's VPCs do not carry: such a
    # cluster never runs on EC2, and is held to the 64 KiB that OpenStack and Azure accept.
    ec2 = cluster.mode == EXTERNAL
    nodes = {n.name: n for n in cluster.nodes}
    out = []
    for a in artifacts:
        if a.kind.size_limit is None:
            continue
        limit = a.kind.size_limit if ec2 else OTHER_CLOUDS_LIMIT
        if a.size <= limit:
            continue
        # cloud-init reads gzip-compressed user-data, and `hacc materialize` writes it
        # (user-data.yaml.gz) for every node over the limit: only that has to fit.
        packed = len(gzipped(a.data))
        if packed <= limit:
            continue
        where = (*nodes[a.node].path, "name") if a.node in nodes else ("metadata", "name")
        out.append(
            doc.diag(
                where,
                WARNING,
                "HACC223",
                f"the {a.kind.name} of {a.node or cluster.name} is {a.size} bytes, "
                f"{packed} gzip-compressed, over the {limit}-byte limit of "
                f"{'EC2' if ec2 else 'OpenStack and Azure'}",
            )
        )
    return out


def fleet_unit(units: list[Unit], out: str | Path) -> Unit | None:
    """The fleet folder's unit, from the clusters built now and every other cluster already in OUT
    (so building a subset of the specs, as pre-commit does, keeps the others in the fleet)."""
    members = {u.name: u.gitops for u in units if u.gitops is not None}
    monitored = {
        u.name for u in units if any(a.path == MONITORING_KUSTOMIZATION for a in u.artifacts)
    }
    built = {u.name for u in units}
    for folder in built_folders(out):
        record = None if folder.name in built else state.read(folder).gitops_record(folder)
        if record:
            members[folder.name] = gitops_from(record)
            if (folder / MONITORING_KUSTOMIZATION).is_file():
                monitored.add(folder.name)
    artifacts = render_fleet({k: v for k, v in members.items() if v is not None}, monitored)
    if artifacts or (Path(out) / FLEET_FOLDER / STATE_FILE).exists():
        return Unit(FLEET_FOLDER, artifacts)
    return None


def plan(units: list[Unit], out: str | Path) -> list[Planned]:
    """What writing every unit (and the fleet folder) into OUT would do; raises, listing every
    file in the way that hacc does not own, if there is any."""
    fleet = fleet_unit(units, out)
    everything = [*units, fleet] if fleet else units
    plans: list[Planned] = []
    conflicts: list[str] = []
    for u in everything:
        if u.reused:
            folder = u.folder(out)
            plans.append(Planned(u, folder, [_identical(a) for a in u.artifacts]))
            continue
        try:
            folder = writer.cluster_folder(Path(out), u.name)
            changes, in_the_way = writer.plan(folder, u.artifacts)
        except HaccError as e:
            conflicts.append(str(e))
            continue
        conflicts += in_the_way
        plans.append(Planned(u, folder, changes, state.read(folder).incomplete))
    if conflicts:
        listed = "".join(f"\n  {c}" for c in conflicts)
        raise HaccError(f"nothing written; in the way:{listed}\nmove them away, then build again")
    return plans


def _identical(a: Artifact) -> writer.Change:
    """A reused folder's file: no copy of its bytes beside the artifact (Stored), which is the
    file on disk and reads it when asked."""
    current = None if isinstance(a, Stored) else a.data
    return writer.Change(writer.IDENTICAL, a.path, a, current=current, kind=a.kind, node=a.node)


def orphan_reason(folder: Path) -> str | None:
    """Why no spec builds the cluster of `folder` any more (the spec its state file names is
    gone, or now builds another cluster), or None. A spec not given in this run, as pre-commit
    passes only changed files, still builds its cluster: its folder is no orphan."""
    spec = state.read(folder).spec
    if spec is None:
        return None  # built before hacc recorded specs: cannot tell
    path = folder / spec
    if not path.is_file():
        return f"its spec {spec} is gone"
    from hacc.compiler.loader import read_spec

    raw, _ = read_spec(path, spec)
    if raw is not None and not _identity(raw)[0]:
        return f"its spec {spec} is not a hacc spec (no apiVersion hacc.dev/..., kind HACluster)"
    name = _identity(raw)[1] if raw is not None else None
    if name is not None and name != folder.name:
        return f"its spec {spec} now builds cluster {name}"
    return None


@lru_cache(maxsize=4096)
def _identity(raw: bytes) -> tuple[bool, str | None]:
    """Whether a file declares hacc's apiVersion and kind, and the cluster it names, valid or
    not. By its bytes, once per run: a build of a few specs (pre-commit's) asks this of every
    other folder in OUT, twice."""
    from hacc.compiler.loader import load_bytes

    doc, _ = load_bytes(raw, "spec")
    data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
    api = data.get("apiVersion")
    is_spec = (
        isinstance(api, str) and api.startswith("hacc.dev/") and data.get("kind") == "HACluster"
    )
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return is_spec, name if isinstance(name, str) else None


def orphans(units: list[Unit], out: str | Path) -> list[tuple[Path, str]]:
    """Cluster folders in OUT that no spec builds any more, each with the reason."""
    built = {u.name for u in units}
    found: list[tuple[Path, str]] = []
    for folder in built_folders(out):
        reason = None if folder.name in built else orphan_reason(folder)
        if reason:
            found.append((folder, reason))
    return found
