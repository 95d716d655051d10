"""How `hacc plan` and `hacc build --check` describe pending changes."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.diagnostics import JSON_FORMAT_VERSION
from hacc.outdir import state, writer
from hacc.outdir.units import Planned
from hacc.targets.artifact import USER_DATA, impact

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


def delta(p: Planned) -> Any:
    """What `p` changes, for the live-change procedure (targets/live_change.py); None for a
    cluster that is new here or was not compiled."""
    from hacc.outdir.units import endpoint_text, token_text
    from hacc.targets.live_change import Delta, FileChange

    cluster = p.unit.analysis.cluster if p.unit.analysis else None
    if cluster is None or state.read(p.folder).endpoint is None:
        return None
    created = {c.node for c in p.pending if c.kind is USER_DATA and c.action == writer.CREATE}
    if all(n.name in created for n in cluster.nodes):
        return None  # a cluster new here: nothing of it runs yet

    def text(data: bytes | None) -> str | None:
        return data.decode("utf-8", errors="replace") if data is not None else None

    changes = tuple(
        FileChange(
            c.path,
            c.action,
            c.kind.name,
            c.node,
            text(c.current),
            c.artifact.content if c.artifact else None,
        )
        for c in p.pending
    )
    return Delta(
        cluster,
        changes,
        state.read(p.folder).endpoint,
        endpoint_text(cluster),
        state.read(p.folder).token,
        token_text(cluster),
    )


def live_procedures(
    plans: list[Planned], script_dir: Path | None = None
) -> list[tuple[Planned, Any]]:
    """(plan, procedure) for each cluster whose running nodes need steps. `script_dir`: where
    the scripts go, so that they find the build folder from there."""
    import os

    from hacc.targets.live_change import procedure

    out = []
    for p in plans:
        d = delta(p)
        if d is None:
            continue
        where = os.path.relpath(p.folder, script_dir) if script_dir else str(p.folder)
        proc = procedure(d, Path(where).as_posix())
        if proc is not None:
            out.append((p, proc))
    return out


def renamed(plans: list[Planned], orphans: list[tuple[Path, str]]) -> dict[str, str]:
    """New cluster name -> old, for each orphan whose spec now builds a cluster planned here."""
    import re

    names = {p.unit.name for p in plans}
    out = {}
    for folder, reason in orphans:
        m = re.fullmatch(r"its spec .* now builds cluster ([a-z0-9-]{1,63})", reason)
        if m and m.group(1) in names:
            out[m.group(1)] = folder.name
    return out


def rename_steps(new: str, old: str) -> list[str]:
    """What renaming a running cluster means: its nodes carry no cluster name, its GitOps
    objects do (hacc-NAME), and deleting the old ones must not delete what they applied."""
    return [
        f"{old} is renamed {new}: the running nodes need nothing (the name is in hacc's files "
        "and the GitOps objects, not on the nodes); workers not joined yet need their tokens "
        "registered again (they derive from the cluster's name: hacc materialize)",
        f"apply gitops/ of {new}, then delete the old objects without cascading: Argo CD: "
        f"kubectl -n argocd delete application hacc-{old} (hacc's Application has no "
        "resources finalizer, so its objects stay); Flux: kubectl -n flux-system patch "
        f'kustomization hacc-{old} --type merge -p \'{{"spec":{{"prune":false}}}}\', then '
        f"kubectl -n flux-system delete kustomization hacc-{old}",
        "with the fleet files (_fleet/), first: Argo CD's ApplicationSet deletes the "
        f"Application hacc-fleet-{old} its generator no longer lists, with its resources "
        "unless the ApplicationSet has spec.syncPolicy.preserveResourcesOnDeletion: true; "
        f"Flux: patch hacc-fleet-{old} with prune: false as above before the fleet file changes",
        f"then hacc build --prune removes out/{old}/",
    ]


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
                f"{change.node} registers workers' join tokens only at its first boot: the "
                f"live steps register each new worker's token on the live {change.node}"
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
    from hacc.outdir.units import endpoint_text, token_text
    from hacc.targets.quoting import sh
    from hacc.targets.upgrade_script import channel, check_step

    out = []
    for p in plans:
        analysis = p.unit.analysis
        cluster = analysis.cluster if analysis else None
        if analysis is None or cluster is None or p.unit.reused:  # reused: its record is current
            continue
        before = state.read(p.folder).endpoint
        after = endpoint_text(cluster)
        if before is not None and before != after:
            step = (
                "every kubeconfig and client that uses the endpoint must change (RUNBOOK.md "
                "section 2); the running nodes need the live steps listed, in their order "
                "(hacc plan --script DIR)"
            )
            if cluster.mode == EXTERNAL:
                step += "; move your load balancer's listener (RUNBOOK.md section 7)"
            out.append(Moved(p, "endpoint", before, after, step))
        token_was, token_now = state.read(p.folder).token, token_text(cluster)
        if token_was is not None and token_was != token_now:
            step = (
                "the running nodes keep admitting the old cluster token and the old workers' "
                "tokens until the live steps replace and revoke them (they read the folders "
                "hacc materialize writes before and after the rotation)"
            )
            out.append(Moved(p, "join token", token_was, token_now, step))
        was = state.read(p.folder).channel
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
        before = state.read(p.folder).extensions
        if before is None:
            continue
        after = items(cluster)
        # A node booted from now on gets its items at first boot: nothing to do on it live.
        booting = {c.node for c in p.pending if c.kind is USER_DATA and c.action == writer.CREATE}
        present = {"*", *(n.name for n in cluster.nodes if n.name not in booting)}
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
    """The machine-readable form of plan, build and build --check (docs/commands.md "JSON output")."""

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

    live = {p.folder: proc for p, proc in live_procedures(plans)}
    renames = renamed(plans, orphans)
    clusters = []
    for p in plans:
        proc = live.get(p.folder)
        number = {s.key: i for i, s in enumerate(proc.steps, 1)} if proc else {}
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
                "join_token": moved_json(p.unit.name, "join token"),
                "extensions": extension_items.get(p.unit.name, []),
                "steps": [
                    {
                        "number": number[st.key],
                        "key": st.key,
                        "node": st.node,
                        "phase": ph.title,
                        "step": st.title,
                        "commands": list(st.shell),
                    }
                    for ph in (proc.phases if proc else ())
                    for st in ph.steps
                ],
                "renamed_from": renames.get(p.unit.name),
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
    procedures = live_procedures(plans)
    renames = renamed(plans, orphans or [])
    for _, proc in procedures:
        lines += steps_text(proc)
    for new_name, old_name in sorted(renames.items()):
        lines.append(f"Rename: cluster {old_name} -> {new_name}")
        lines += [f"      {line}" for line in rename_steps(new_name, old_name)]
        lines.append("")
    stepped = {p.folder for p, _ in procedures} | {
        p.folder for p in plans if p.unit.name in renames
    }
    pending = described(plans)
    if not diff:
        for p in plans:
            if p.folder in stepped and p.pending:
                lines.append(f"Files of {p.unit.name}: {file_counts(p)} (--diff lists them)")
                lines.append("")
        # A hand-edited file that is to go stops the build (--force): always list those.
        pending = [
            x
            for x in pending
            if x[0].folder not in stepped or (x[1].edited and x[1].action == writer.REMOVE)
        ]
    if pending:
        lines.append("hacc will change these files (+ create, ~ update, - destroy):")
        lines.append("")
    for p, change, kind, hint in pending:
        path = p.folder / change.path
        edited = "; edited by hand since hacc wrote it" if change.edited else ""
        if change.edited and change.action == writer.REMOVE:
            edited += " (hacc build removes it only with --force)"
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
    if procedures and not any(p.pending for p in plans):
        lines.append("No file changes; the running cluster needs the steps above.")
    else:
        lines.append(summary(plans))
    return "\n".join(lines) + "\n"


def steps_text(proc: Any) -> list[str]:
    """A procedure's steps grouped by the node they act on, numbered in the order they run."""
    number = {s.key: i for i, s in enumerate(proc.steps, 1)}
    lines = [
        f"Live steps for {proc.cluster.name}, by node, numbered in the order they must run "
        "(hacc plan --script DIR writes them as one resumable procedure):"
    ]
    for node, steps in proc.by_node():
        lines.append(f"  {node}:")
        lines += [f"    {number[s.key]:>2}. {s.title}" for s in steps]
    lines.append("")
    return lines


def file_counts(p: Planned) -> str:
    """`4 updated (first boot only), ...`: a cluster's pending files by action and impact."""
    counts = Counter((VERB[c.action], kind) for q, c, kind, _ in described([p]) if q is p)
    return ", ".join(f"{n} {verb} [{kind}]" for (verb, kind), n in sorted(counts.items()))


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
            elif c.action == writer.REMOVE and c.edited:
                out.append(
                    f"{path}: no longer produced by the spec, and edited by hand (move it away, "
                    "or run hacc build --force)"
                )
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
