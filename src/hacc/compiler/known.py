"""What each MicroK8s track ships, from package data beside the schema: the kube-apiserver and
kubelet flags of its Kubernetes minor (`kubernetes-flags.json`, built by scripts/gen-k8s-flags
from Kubernetes's generated component reference) and its addons (`microk8s-addons.json`, built
by scripts/gen-microk8s-addons from the core and community addon repositories). Read only when a
spec sets flags or addons, once per process."""

from __future__ import annotations

import json
from functools import cache
from typing import Any, NamedTuple

from hacc.schemas import schema_text

FLAGS_DATA = "kubernetes-flags.json"
ADDONS_DATA = "microk8s-addons.json"

Track = tuple[int, int]


def minor(text: str) -> Track:
    major, _, minor_ = text.partition(".")
    return int(major), int(minor_)


def text(track: Track) -> str:
    return f"{track[0]}.{track[1]}"


@cache
def _data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text(name))
    return data


@cache
def tracks() -> tuple[Track, ...]:
    """The MicroK8s tracks hacc knows, oldest first (both data files list the same ones)."""
    return tuple(minor(t) for t in _data(ADDONS_DATA)["tracks"])


def newest() -> Track:
    return tracks()[-1]


class KnownFlags(NamedTuple):
    flags: frozenset[str]  # what this minor's reference lists (plus hidden ones MicroK8s uses)
    reference: str  # the minor whose reference that is
    removed: dict[str, str]  # flag -> first minor whose reference no longer lists it
    gone: dict[str, list[str]]  # flag -> [minor, why]: removed from the code itself
    ever: frozenset[str]  # every flag of every reference read


@cache
def flags(component: str, track: Track | None) -> KnownFlags:
    """`component`'s flags on `track` (None, or a track newer than the data: the newest known)."""
    data = _data(FLAGS_DATA)
    comp = data[component]
    t = text(track) if track is not None and track <= newest() else text(newest())
    ref = data["inherits"].get(t, t)
    if ref not in comp["flags"]:
        ref = max(comp["flags"], key=minor)
    known = frozenset(comp["flags"][ref]) | frozenset(comp["also"])
    ever = frozenset(f for fl in comp["flags"].values() for f in fl) | frozenset(comp["removed"])
    return KnownFlags(known, ref, comp["removed"], comp["gone"], ever | frozenset(comp["gone"]))


@cache
def addons(track: Track) -> dict[str, str]:
    """addon name -> its repository (`core`, `community`) on `track`."""
    data = _data(ADDONS_DATA)
    t = text(track)
    return {
        **dict.fromkeys(data["community"]["addons"][t], "community"),
        **dict.fromkeys(data["core"]["addons"][t], "core"),
    }
