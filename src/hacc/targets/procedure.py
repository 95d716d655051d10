"""A procedure on a live cluster: ordered steps, each on one node, gated through the endpoint.

`hacc upgrade` and `hacc plan --script` write their procedures with the same shell machinery
(templates/procedure/: the command line, `HACC_SSH`, `--dry-run`, the progress file that
makes a rerun resume, the gate, the stop that says what to look at). This module is the model
the generic script and page (procedure.sh.j2, PROCEDURE.md.j2) are rendered from: phases of
steps, in the order they must run. A step's shell lines call only the functions of
templates/procedure/steps.sh.j2, with values quoted by hacc.targets.quoting.sh.
"""

from __future__ import annotations

from dataclasses import dataclass

from hacc.compiler.model import Cluster


@dataclass(frozen=True)
class Step:
    key: str  # what the progress file records once the step is done: unique, no blanks
    node: str  # the node it acts on, or "workstation" / "DNS" for what is not a node
    title: str  # one line: what it does
    shell: tuple[str, ...]  # the script's lines (calls to procedure/steps.sh.j2)
    why: str = ""  # the page: why here, and the source it relies on
    back: str = ""  # the page and the stop: how to go back


@dataclass(frozen=True)
class Phase:
    title: str
    server: str  # the endpoint the gates use while this phase runs
    steps: tuple[Step, ...]
    gated: bool = True  # a gate before and after each step
    via: str = ""  # the control-plane address the gates ask from
    control_plane: str = ""  # the nodes the gates want Ready, blank-separated
    server_after: str = ""  # the endpoint after the phase's last step (the VIP moved)
    ungated: str = ""  # the page: why a phase without gates has none

    def after(self, step: Step) -> str:
        return self.server_after if step == self.steps[-1] and self.server_after else self.server


@dataclass(frozen=True)
class Procedure:
    cluster: Cluster
    slug: str  # the script's and page's names, and the progress header
    title: str
    phases: tuple[Phase, ...]
    voters: int
    out: str = "."  # the cluster's build folder, as the script finds it
    texts: tuple[tuple[str, str], ...] = ()  # (shell variable, its value as one shell word)
    tokens: bool = False  # steps read HACC_TOKENS (`hacc materialize`'s folder)
    old_tokens: bool = False  # steps read HACC_OLD_TOKENS (the folder before a rotation)
    command: str = "hacc plan --script"  # what wrote it: the progress file's header
    about: str = "from what `hacc plan` found between the last build and the spec"
    partials: tuple[str, ...] = ()  # more step functions, from templates/procedure/
    settings: tuple[tuple[str, str], ...] = ()  # (variable, its usage line) the script reads

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(s for ph in self.phases for s in ph.steps)

    def by_node(self) -> list[tuple[str, list[Step]]]:
        """The steps grouped by the node they act on, nodes in the order they are first
        touched, each node's steps in procedure order."""
        groups: dict[str, list[Step]] = {}
        for s in self.steps:
            groups.setdefault(s.node, []).append(s)
        return list(groups.items())


def script(p: Procedure) -> str:
    from hacc.targets.base import render_template

    return render_template("procedure.sh.j2", p.cluster, p=p)


def page(p: Procedure) -> str:
    from hacc.targets.base import render_template

    return render_template("PROCEDURE.md.j2", p.cluster, comment="", p=p)
