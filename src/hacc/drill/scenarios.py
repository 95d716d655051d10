"""The failures the drill inflicts, and how each is undone."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hacc.drill.runner import Drill

HOLDER, OTHER = "holder", "other"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    target: str  # HOLDER: the node holding the VIP; OTHER: a node that does not
    moves_vip: bool  # whether the VIP is expected to move
    act: Callable[[Drill, str], None]
    recover: Callable[[Drill, str], None]


def _stop_keepalived(d: Drill, node: str) -> None:
    d.supervisor.signal(f"keepalived-{node}", signal.SIGTERM)
    d.supervisor.wait_gone(f"keepalived-{node}")


def _crash_keepalived(d: Drill, node: str) -> None:
    d.supervisor.signal(f"keepalived-{node}", signal.SIGKILL)  # parent and VRRP child
    d.supervisor.wait_gone(f"keepalived-{node}")


def _kill(kind: str) -> Callable[[Drill, str], None]:
    def act(d: Drill, node: str) -> None:
        d.supervisor.signal(f"{kind}-{node}", signal.SIGKILL)
        d.supervisor.wait_gone(f"{kind}-{node}")

    return act


def _restart(kind: str) -> Callable[[Drill, str], None]:
    def recover(d: Drill, node: str) -> None:
        d.supervisor.stop(f"{kind}-{node}")
        d.start(kind, node)

    return recover


SCENARIOS = [
    Scenario(
        "keepalived-stop",
        "keepalived stopped on the holder (SIGTERM)",
        HOLDER,
        True,
        _stop_keepalived,
        _restart("keepalived"),
    ),
    Scenario(
        "keepalived-crash",
        "keepalived crashes on the holder (SIGKILL)",
        HOLDER,
        True,
        _crash_keepalived,
        _restart("keepalived"),
    ),
    Scenario(
        "holder-cut-off",
        "holder cut off the network (bridge port disabled)",
        HOLDER,
        True,
        lambda d, n: d.lab.cut(d.lab.node(n)),
        lambda d, n: d.lab.heal(d.lab.node(n)),
    ),
    Scenario(
        "haproxy-kill-holder",
        "HAProxy killed on the holder",
        HOLDER,
        True,
        _kill("haproxy"),
        _restart("haproxy"),
    ),
    Scenario(
        "apiserver-kill-other",
        "apiserver killed on a node without the VIP",
        OTHER,
        False,
        _kill("apiserver"),
        _restart("apiserver"),
    ),
    Scenario(
        "apiserver-kill-holder",
        "apiserver killed on the holder",
        HOLDER,
        False,
        _kill("apiserver"),
        _restart("apiserver"),
    ),
]

BY_NAME = {s.name: s for s in SCENARIOS}
