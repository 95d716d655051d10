"""`hacc drill --plot FILE.svg`: each scenario as a timeline of what a client saw.

One panel per scenario: every request as a bar from its start to its end (succeeded above,
failed below), a row per node with a bar wherever it holds the VIP (two bars at once: a split
brain) and a "nobody" row wherever none does, the fault at 0 and its recovery as vertical
lines. matplotlib renders it; the SVG is deterministic for the same measurements (a fixed hash
salt, text kept as text, no date in the metadata).
"""

from __future__ import annotations

import io
from typing import Any

from hacc.errors import HaccError

OK, FAILED, FAULT, VIP, NOBODY_COLOUR = "#2e7d32", "#c62828", "#424242", "#1565c0", "#ef6c00"
NOBODY = "nobody"


def require_matplotlib() -> None:
    """Fail before a drill runs, not after it (the plot comes last)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise HaccError("hacc drill --plot needs matplotlib: pip install 'hacc[plot]'") from e


def svg(results: list[dict[str, Any]]) -> bytes:
    """`results`: the drill's JSON results (`hacc drill --json`), each with its `timeline`."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    shown = [r for r in results if r.get("timeline")]
    if not shown:
        raise HaccError("no scenario has a timeline to plot")
    rc: dict[str, Any] = {"svg.hashsalt": "hacc-drill", "svg.fonttype": "none", "font.size": 8}
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig, axes = plt.subplots(
            len(shown), 1, figsize=(9, 2.1 * len(shown)), squeeze=False, layout="constrained"
        )
        for ax, r in zip(axes[:, 0], shown, strict=True):
            _panel(ax, r)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "hacc drill"})
        plt.close(fig)
    return buf.getvalue()


def holdings(tl: dict[str, Any], start: float, end: float) -> dict[str, list[tuple[float, float]]]:
    """Node (or "nobody") -> the intervals it holds the VIP, from the holder before the fault
    and every event after it, each applied to the set of holders (not the last event alone)."""
    held = {tl["holder"]}
    since: dict[str, float] = {tl["holder"]: start}
    out: dict[str, list[tuple[float, float]]] = {}
    nobody_since: float | None = None

    def close(node: str, t: float) -> None:
        out.setdefault(node, []).append((since.pop(node), t))

    for t, node, present in sorted(tl["vip"], key=lambda e: e[0]):
        if present and node not in held:
            held.add(node)
            since[node] = t
        elif not present and node in held:
            held.discard(node)
            close(node, t)
        if held and nobody_since is not None:
            out.setdefault(NOBODY, []).append((nobody_since, t))
            nobody_since = None
        elif not held and nobody_since is None:
            nobody_since = t
    for node in sorted(held):
        close(node, end)
    if nobody_since is not None:
        out.setdefault(NOBODY, []).append((nobody_since, end))
    return out


def _panel(ax: Any, r: dict[str, Any]) -> None:
    tl = r["timeline"]
    nodes = sorted({tl["holder"]} | {e[1] for e in tl["vip"]})
    level = {n: 2.2 + i for i, n in enumerate(nodes)}  # one row per node above the requests
    for start, end, ok in tl["requests"]:
        y = 1.0 if ok else 0.0
        ax.plot(
            [start, end], [y, y], color=OK if ok else FAILED, linewidth=5, solid_capstyle="butt"
        )
    end = max([tl["recovered"] + 1.0] + [e for _, e, _ in tl["requests"]])
    start = min([-1.0] + [s for s, _, _ in tl["requests"]])
    level[NOBODY] = 1.6
    for node, spans in holdings(tl, start, end).items():
        for a, b in spans:
            y = level[node]
            ax.plot([a, b], [y, y], color=NOBODY_COLOUR if node == NOBODY else VIP, linewidth=4)
    ax.axvline(0.0, color=FAULT, linestyle="--", linewidth=1)
    ax.axvline(tl["recovered"], color=FAULT, linestyle=":", linewidth=1)
    rows = sorted(level.items(), key=lambda kv: kv[1])
    ax.set_yticks(
        [0, 1, *(y for _, y in rows)],
        ["failed", "succeeded", *(f"VIP on {n}" for n, _ in rows)],
    )
    ax.set_ylim(-0.6, max(level.values()) + 0.6)
    ax.set_xlim(start, end)
    moved = "-" if r["vip_moved_s"] is None else f"{r['vip_moved_s']:.2f} s"
    ax.set_title(
        f"{r['config']}: {r['title']} (target {r['target']}) - VIP moved {moved}, "
        f"outage {r['outage_s']:.2f} s, {r['failed']} failed",
        loc="left",
    )
    ax.set_xlabel("seconds from the fault (dashed) to after its recovery (dotted)")
