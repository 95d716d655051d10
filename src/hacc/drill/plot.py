"""`hacc drill --plot FILE.svg`: each scenario as a timeline of what a client saw.

One panel per scenario: every request as a bar from its start to its end (succeeded above,
failed below), the VIP's holder over time as a step line, the fault at 0 and its recovery as
vertical lines. matplotlib renders it; the SVG is deterministic for the same measurements (a
fixed hash salt, text kept as text, no date in the metadata).
"""

from __future__ import annotations

import io
from typing import Any

from hacc.errors import HaccError

OK, FAILED, FAULT = "#2e7d32", "#c62828", "#424242"


def svg(results: list[dict[str, Any]]) -> bytes:
    """`results`: the drill's JSON results (`hacc drill --json`), each with its `timeline`."""
    try:
        import matplotlib

        matplotlib.use("svg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise HaccError("hacc drill --plot needs matplotlib: pip install 'hacc[plot]'") from e
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


def _panel(ax: Any, r: dict[str, Any]) -> None:
    tl = r["timeline"]
    nodes = sorted({tl["holder"]} | {e[1] for e in tl["vip"]})
    level = {n: 2 + i for i, n in enumerate(nodes)}  # one row per node above the requests
    for start, end, ok in tl["requests"]:
        y = 1.0 if ok else 0.0
        ax.plot(
            [start, end], [y, y], color=OK if ok else FAILED, linewidth=5, solid_capstyle="butt"
        )
    end = max([tl["recovered"] + 1.0] + [e for _, e, _ in tl["requests"]])
    start = min([-1.0] + [s for s, _, _ in tl["requests"]])
    times: list[float] = [start]
    rows: list[float] = [level[tl["holder"]]]
    for t, node, present in tl["vip"]:
        times.append(t)
        rows.append(level[node] if present else 1.5)  # between nodes: nobody holds it
    times.append(end)
    rows.append(rows[-1])
    ax.step(times, rows, where="post", color="#1565c0", linewidth=1.5)
    ax.axvline(0.0, color=FAULT, linestyle="--", linewidth=1)
    ax.axvline(tl["recovered"], color=FAULT, linestyle=":", linewidth=1)
    ax.set_yticks([0, 1, *level.values()], ["failed", "succeeded", *(f"VIP on {n}" for n in nodes)])
    ax.set_ylim(-0.6, max(level.values()) + 0.6)
    ax.set_xlim(start, end)
    moved = "-" if r["vip_moved_s"] is None else f"{r['vip_moved_s']:.2f} s"
    ax.set_title(
        f"{r['config']}: {r['title']} (target {r['target']}) - VIP moved {moved}, "
        f"outage {r['outage_s']:.2f} s, {r['failed']} failed",
        loc="left",
    )
    ax.set_xlabel("seconds from the fault (dashed) to after its recovery (dotted)")
