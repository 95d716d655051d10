"""How `hacc plan` and `hacc build --check` describe pending changes."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.outdir import writer
from hacc.outdir.units import Planned
from hacc.targets.artifact import USER_DATA, impact

JSON_FORMAT_VERSION = "1"  # raised on any change that could break a reader
SYMBOL = {writer.CREATE: "+", writer.UPDATE: "~", writer.REMOVE: "-"}
VERB = {writer.CREATE: "created", writer.UPDATE: "updated", writer.REMOVE: "destroyed"}


def summary(plans: list[Planned]) -> str:
    counts = Counter(c.action for p in plans for c in p.pending)
    if not counts:
        return "No changes. The output matches the specs."
    return (
        f"Plan: {counts[writer.CREATE]} to add, {counts[writer.UPDATE]} to change, "
        f"{counts[writer.REMOVE]} to destroy."
    )


def described(plans: list[Planned]) -> list[tuple[Planned, writer.Change, str, str]]:
    """Every pending change with what it means for a running cluster: (plan, change, impact,
    the step it needs)."""
    pending = [(p, c) for p in plans for c in p.pending]
    new_nodes = {
        (p.folder, c.node) for p, c in pending if c.kind is USER_DATA and c.action == writer.CREATE
    }
    out = []
    for p, change in pending:
        kind, hint = impact(
            change.kind,
            change.node,
            change.action,
            name=change.path.rsplit("/", 1)[-1],
            new_node=(p.folder, change.node) in new_nodes,
        )
        cluster = p.unit.analysis.cluster if p.unit.analysis else None
        workers = {w.name for w in cluster.workers} if cluster else set()
        if (
            cluster
            and change.kind is USER_DATA
            and change.action == writer.UPDATE
            and change.node == cluster.first.name
            and any(f == p.folder and n in workers for f, n in new_nodes)
        ):
            hint = (
                f"{change.node} registers workers' join tokens only at its first boot: on the "
                f"live {change.node}, register each new worker's token (RUNBOOK.md section 10)"
            )
        out.append((p, change, kind, hint))
    return out


@dataclass(frozen=True)
class Moved:
    """A cluster's endpoint or channel, changed since its last build."""

    plan: Planned
    what: str  # endpoint | channel
    before: str
    after: str
    step: str  # what a rebuild cannot do about it


@dataclass(frozen=True)
class ExtensionChange:
    """An item of the extension points, added to or removed from a node since the last build."""

    plan: Planned
    node: str  # a node's name, or "every node"
    added: bool
    item: str
    step: str  # what the running node needs (cloud-init does not run again)


def recorded_changes(plans: list[Planned]) -> list[Moved]:
    """Endpoints and channels that differ from what the clusters' last builds recorded."""
    from hacc.compiler.model import EXTERNAL
    from hacc.errors import HaccError
    from hacc.outdir.units import endpoint_text
    from hacc.targets.quoting import sh
    from hacc.targets.upgrade_script import channel, check_step

    out = []
    for p in plans:
        analysis = p.unit.analysis
        cluster = analysis.cluster if analysis else None
        if analysis is None or cluster is None or p.unit.reused:  # reused: its record is current
            continue
        before = writer.read_endpoint(p.folder)
        after = endpoint_text(cluster)
        if before is not None and before != after:
            step = (
                "every kubeconfig and client that uses the endpoint must change (RUNBOOK.md "
                "section 2); "
                "the apiserver certificates must carry the new name or address first "
                "(apply-day2.sh, RUNBOOK.md section 5)"
            )
            if cluster.mode == EXTERNAL:
                step += "; move your load balancer's listener (RUNBOOK.md section 7)"
            out.append(Moved(p, "endpoint", before, after, step))
        was = writer.read_channel(p.folder)
        if was is not None and was != cluster.channel:
            step = (
                "new nodes install the new channel; running nodes keep theirs until upgraded: "
                f"hacc upgrade {sh(analysis.file)} --from {sh(was)} --to {sh(cluster.channel)} "
                "(RUNBOOK.md section 4)"
            )
            try:
                check_step(channel(was), channel(cluster.channel))
            except HaccError as e:
                step = f"running nodes cannot follow in one upgrade: {e}"
            out.append(Moved(p, "channel", was, cluster.channel, step))
    return out


def extension_changes(plans: list[Planned]) -> list[ExtensionChange]:
    """Extension items added or removed since the last builds, each with its live-node step."""
    from hacc.targets.extensions import item_ok, items, live_step

    out = []
    for p in plans:
        cluster = p.unit.analysis.cluster if p.unit.analysis else None
        if cluster is None or p.unit.reused:  # reused: its record is current
            continue
        before = writer.read_extensions(p.folder)
        if before is None:
            continue
        after = items(cluster)
        present = {"*", *(n.name for n in cluster.nodes)}
        for node in sorted((set(before) | set(after)) & present):  # a removed node needs nothing
            old, new = [i for i in before.get(node, []) if item_ok(i)], after.get(node, [])
            # A label whose value changed needs only the new value set (--overwrite).
            relabelled = {i.split("=", 1)[0] for i in new if i.startswith("label ")}
            gone = [i for i in old if i not in new and i.split("=", 1)[0] not in relabelled]
            who = "every node" if node == "*" else node
            out += [ExtensionChange(p, who, False, i, live_step(who, i, False)) for i in gone]
            out += [
                ExtensionChange(p, who, True, i, live_step(who, i, True))
                for i in new
                if i not in old
            ]
    return out


def as_json(
    command: str,
    plans: list[Planned],
    orphans: list[tuple[Path, str]],
    diagnostics: list[Any],
    *,
    ok: bool,
) -> str:
    """The machine-readable form of plan, build and build --check (README "JSON output")."""

    steps = {(p.folder, c.path): (kind, hint) for p, c, kind, hint in described(plans)}
    moved = {(m.plan.unit.name, m.what): m for m in recorded_changes(plans)}
    extension_items: dict[str, list[dict[str, str]]] = {}
    for e in extension_changes(plans):
        extension_items.setdefault(e.plan.unit.name, []).append(
            {
                "change": "add" if e.added else "remove",
                "node": e.node,
                "item": e.item,
                "step": e.step,
            }
        )

    def moved_json(name: str, what: str) -> dict[str, str] | None:
        m = moved.get((name, what))
        return {"from": m.before, "to": m.after, "step": m.step} if m else None

    clusters = []
    for p in plans:
        changes = []
        for c in p.changes:
            if command != "build" and c.action == writer.IDENTICAL:
                continue
            kind, hint = steps.get((p.folder, c.path), ("", ""))
            changes.append(
                {
                    "path": c.path,
                    "action": c.action,
                    "kind": c.kind.name if c.kind else None,
                    "node": c.node,
                    "impact": kind or None,
                    "step": hint or None,
                    "edited": bool(c.edited),
                }
            )
        clusters.append(
            {
                "name": p.unit.name,
                "folder": str(p.folder),
                "interrupted": p.interrupted,
                "changes": changes,
                "endpoint": moved_json(p.unit.name, "endpoint"),
                "channel": moved_json(p.unit.name, "channel"),
                "extensions": extension_items.get(p.unit.name, []),
            }
        )
    counts = Counter(c.action for p in plans for c in p.changes)
    doc = {
        "format_version": JSON_FORMAT_VERSION,
        "command": command,
        "ok": ok,
        "diagnostics": [d._asdict() for d in diagnostics],
        "clusters": clusters,
        "orphans": [{"folder": str(f), "reason": r} for f, r in orphans],
        "summary": {
            "add": counts[writer.CREATE],
            "change": counts[writer.UPDATE],
            "destroy": counts[writer.REMOVE],
            "identical": counts[writer.IDENTICAL],
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def render(
    plans: list[Planned],
    diff: bool = False,
    orphans: list[tuple[Path, str]] | None = None,
    redact: list[str] | None = None,
) -> str:
    """The plan; `redact`: secret values never to print (a diff over materialized files)."""
    lines: list[str] = []
    pending = described(plans)
    if pending:
        lines.append("hacc will change these files (+ create, ~ update, - destroy):")
        lines.append("")
    for p, change, kind, hint in pending:
        path = p.folder / change.path
        edited = "; edited by hand since hacc wrote it" if change.edited else ""
        lines.append(f"  {SYMBOL[change.action]} {path}")
        lines.append(f"      {VERB[change.action]} [{kind}]{': ' + hint if hint else ''}{edited}")
        if diff and change.action == writer.UPDATE and change.artifact is not None:
            current = (change.current or b"").decode("utf-8", errors="replace")
            old = current.splitlines(keepends=True)
            new = change.artifact.content.splitlines(keepends=True)
            body = difflib.unified_diff(old, new, f"a/{change.path}", f"b/{change.path}")
            shown = ["      " + line.rstrip("\n") for line in body]
            for secret in redact or []:
                shown = [line.replace(secret, "<redacted>") for line in shown]
            lines += shown
    if pending:
        lines.append("")
    for m in recorded_changes(plans):
        lines.append(f"The {m.what} of {m.plan.unit.name} changes: {m.before} -> {m.after}")
        lines.append(f"      {m.step}")
        lines.append("")
    for e in extension_changes(plans):
        sign = "+" if e.added else "-"
        lines.append(
            f"Extension points of {e.plan.unit.name} (first boot only): {sign} {e.node}: {e.item}"
        )
        lines.append(f"      {e.step}")
        lines.append("")
    if orphans:
        lines.append("No spec builds these clusters any more; `hacc build --prune` removes them:")
        lines += [f"  - {folder}/ ({reason})" for folder, reason in orphans]
        lines.append("")
    lines.append(summary(plans))
    return "\n".join(lines) + "\n"


def crlf_only(c: writer.Change) -> bool:
    """Whether the file on disk is what hacc writes but for CRLF line endings."""
    if c.artifact is None or c.current is None or b"\r\n" not in c.current:
        return False
    return c.current.replace(b"\r\n", b"\n") == c.artifact.content.encode("utf-8")


def stale(plans: list[Planned]) -> list[str]:
    """`build --check`: one line per file that differs from what the specs produce."""
    out = []
    for p in plans:
        if p.interrupted:
            out.append(f"{p.folder}: a build was interrupted here (run hacc build)")
        for c in p.pending:
            path = p.folder / c.path
            if c.action == writer.CREATE:
                out.append(f"{path}: missing (run hacc build)")
            elif c.action == writer.REMOVE:
                out.append(f"{path}: no longer produced by the spec (run hacc build)")
            elif crlf_only(c):
                out.append(
                    f"{path}: line endings are CRLF, hacc writes LF (a clone with "
                    "core.autocrlf=true converts them: `git config core.autocrlf input`, or "
                    "`* -text` for OUT in .gitattributes, then check out again)"
                )
            elif c.edited:
                out.append(f"{path}: edited by hand (change the spec instead, then run hacc build)")
            else:
                out.append(f"{path}: stale, the spec changed (run hacc build)")
    return out
