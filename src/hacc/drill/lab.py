"""The drill's isolated network: one namespace per control-plane node, a client namespace, and a
bridge inside a namespace of its own, all on 198.18.0.0/24 with no route out.

veth pairs are created inside the bridge's namespace and their other end moved into the node's,
so nothing appears in the host namespace, even for a moment. Every name carries the drill's PID,
so two drills never share a namespace, and teardown deletes exactly what this drill created.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from hacc.errors import HaccError

LAB_PREFIX = "198.18.0"
LAB_NET = f"{LAB_PREFIX}.0/24"
VIP = f"{LAB_PREFIX}.100"
CLIENT = f"{LAB_PREFIX}.250"


def node_address(index: int) -> str:
    return f"{LAB_PREFIX}.{11 + index}"


class LabError(HaccError):
    """The lab could not be built or taken down (a leftover namespace, a failing `ip`): the
    machine's state, reported as one line with exit 1, not a bug in hacc."""


def ip(*args: str, check: bool = True, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and r.returncode != 0:
        raise LabError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


@dataclass
class LabNode:
    name: str
    interface: str
    address: str
    netns: str
    port: str  # the bridge port in the lan namespace


@dataclass
class Lab:
    nodes: list[LabNode]
    tag: str = field(default_factory=lambda: f"hd{os.getpid()}")
    created: list[str] = field(default_factory=list)

    @classmethod
    def for_nodes(cls, nodes: list[tuple[str, str]]) -> Lab:
        """`nodes`: (name, interface) of each control-plane node, in priority order."""
        tag = f"hd{os.getpid()}"
        lab_nodes = [
            LabNode(name, iface, node_address(i), f"{tag}-n{i}", f"p{i}")
            for i, (name, iface) in enumerate(nodes)
        ]
        return cls(lab_nodes, tag)

    @property
    def lan(self) -> str:
        return f"{self.tag}-lan"

    @property
    def client(self) -> str:
        return f"{self.tag}-client"

    def _add_ns(self, name: str) -> None:
        if name in namespaces():
            raise LabError(f"network namespace {name} already exists; is another drill running?")
        ip("netns", "add", name)
        self.created.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def _attach(self, netns: str, iface: str, port: str, address: str) -> None:
        ip(
            "-n",
            self.lan,
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            iface,
            "netns",
            netns,
        )
        ip("-n", self.lan, "link", "set", port, "master", "br0")
        ip("-n", self.lan, "link", "set", port, "up")
        ip("-n", netns, "addr", "add", f"{address}/24", "dev", iface)
        ip("-n", netns, "link", "set", iface, "up")

    def up(self) -> None:
        self._add_ns(self.lan)
        ip("-n", self.lan, "link", "add", "br0", "type", "bridge")
        ip(
            "-n",
            self.lan,
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        )
        ip("-n", self.lan, "link", "set", "br0", "up")
        for node in self.nodes:
            self._add_ns(node.netns)
            self._attach(node.netns, node.interface, node.port, node.address)
        self._add_ns(self.client)
        self._attach(self.client, "eth0", "pc", CLIENT)

    def down(self) -> list[str]:
        """Delete every namespace this lab created; return the ones that would not go."""
        left = []
        for name in reversed(self.created):
            if ip("netns", "del", name, check=False).returncode != 0 and name in namespaces():
                left.append(name)
        self.created = [n for n in self.created if n in left]
        return left

    def cut(self, node: LabNode) -> None:
        """Disable the node's bridge port: no carrier change, the node believes it is fine."""
        subprocess.run(
            ["bridge", "-n", self.lan, "link", "set", "dev", node.port, "state", "0"],
            check=True,
            timeout=10,
        )

    def heal(self, node: LabNode) -> None:
        subprocess.run(
            ["bridge", "-n", self.lan, "link", "set", "dev", node.port, "state", "3"],
            check=True,
            timeout=10,
        )

    def holders(self, vip: str = VIP) -> list[str]:
        out = []
        for node in self.nodes:
            r = ip("-n", node.netns, "-4", "-o", "addr", "show", "dev", node.interface, check=False)
            if f" {vip}/" in r.stdout:
                out.append(node.name)
        return out

    def node(self, name: str) -> LabNode:
        return next(n for n in self.nodes if n.name == name)


def namespaces() -> set[str]:
    r = ip("netns", "list", check=False)
    return {line.split()[0] for line in r.stdout.splitlines() if line.strip()}


def host_state() -> dict[str, str]:
    """What the drill must leave exactly as it found it in the host namespace."""

    def cmd(*argv: str) -> str:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=10, check=False
        ).stdout

    state = {
        "links": cmd("ip", "-o", "link", "show"),
        "addresses": cmd("ip", "-o", "addr", "show"),
        "routes": cmd("ip", "route", "show", "table", "all"),
        "namespaces": "\n".join(sorted(namespaces())),
    }
    for key in ("net/ipv4/ip_nonlocal_bind", "net/ipv4/ip_forward", "net/ipv4/conf/all/arp_ignore"):
        try:
            with open(f"/proc/sys/{key}") as f:
                state[key] = f.read()
        except OSError:
            state[key] = "(missing)"
    return state
