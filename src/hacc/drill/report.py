"""The drill's verdicts and its human-readable table."""

from __future__ import annotations

from hacc.drill.runner import Result
from hacc.drill.scenarios import BY_NAME


def verdict(r: Result) -> tuple[bool, str]:
    """Whether the failover did its job: the VIP moved when it had to, an apiserver's death cost
    no request sent after it, and after recovery exactly one node holds the VIP."""
    scenario = BY_NAME[r.scenario]
    if scenario.moves_vip and r.vip_moved_s is None:
        return False, "the VIP never moved"
    # A request already under way to a process that dies fails with it, whatever the balancer.
    if not scenario.moves_vip and r.failed > r.in_flight_failed:
        return False, f"{r.failed - r.in_flight_failed} requests sent after the failure failed"
    # after recovery the VIP must not be black-holed (one request in flight may be cut)
    if r.failback_failed > 1:
        return False, f"{r.failback_failed} requests failed after recovery"
    if not r.one_holder_after:
        return False, f"VIP on {r.holders_after or 'no node'} after recovery"
    if r.notes:
        return False, "; ".join(r.notes)
    return True, ""


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def table(results: list[Result]) -> str:
    head = (
        "scenario",
        "config",
        "VIP moved",
        "outage",
        "failed/total",
        "failback failed",
        "one holder",
        "verdict",
    )
    rows = [head]
    for r in results:
        ok, why = verdict(r)
        rows.append(
            (
                r.scenario,
                r.config,
                _s(r.vip_moved_s),
                _s(r.outage_s),
                f"{r.failed}/{r.total}",
                str(r.failback_failed),
                "yes" if r.one_holder_after else "NO",
                "ok" if ok else f"FAIL: {why}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"
