"""`hacc kubeconfig`: the admin kubeconfig a node prints (`microk8s config`) rewritten to reach
the cluster through its endpoint, with cluster, context and user named after the cluster, and
optionally merged into an existing kubeconfig without disturbing its other entries."""

from __future__ import annotations

import ipaddress
from typing import Any

import yaml

from hacc.compiler.model import MICROK8S_SANS, Cluster
from hacc.errors import HaccError
from hacc.targets.base import is_ip


def server_url(cluster: Cluster) -> str:
    ep = cluster.endpoint
    return f"https://{ep.dns_name or ep.address}:{ep.port}"


def endpoint_host(cluster: Cluster) -> str:
    ep = cluster.endpoint
    return ep.dns_name or ep.address or ""


def covered(cluster: Cluster) -> bool:
    """Whether the endpoint's host is a SAN of the certificates this spec produces."""
    host = endpoint_host(cluster)
    sans = {*cluster.sans, *MICROK8S_SANS, *(n.address for n in cluster.control_plane)}
    try:
        ip = ipaddress.ip_address(host)
        return any(is_ip(s) and ipaddress.ip_address(s) == ip for s in sans)
    except ValueError:
        return host.lower() in {s.lower() for s in sans}


# `microk8s config` prints a few KiB (a CA, a client certificate and its key, base64); a user's
# own kubeconfig with many contexts stays far below the second bound.
SOURCE_LIMIT = 256 << 10
EXISTING_LIMIT = 8 << 20
# What `microk8s config` puts in `users[].user` (microk8s-resources/client-x509.config.template
# with the admin certificate and key embedded; client.config.template's `token`, beside a
# `username` that a token makes unused). Anything else, such as an `exec` credential plugin or
# an `auth-provider`, would run or send something on the workstation that merges it: refused.
CERTIFICATE = ("client-certificate-data", "client-key-data")
TOKEN = ("token",)
IGNORED = {"username"}


def load(text: str, source: str) -> Any:
    """YAML through libyaml's parser where it is installed (a bounded input, parsed fast)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as e:
        if "maximum nesting depth" in str(e):  # libyaml's own bound (PyYAML's is a RecursionError)
            raise HaccError(f"{source}: not a kubeconfig (nested too deeply)") from None
        raise HaccError(f"{source}: not YAML: {e}") from None
    except RecursionError:  # PyYAML's constructor recurses; `microk8s config` nests 4 levels
        raise HaccError(f"{source}: not a kubeconfig (nested too deeply)") from None


def credentials(user: dict[str, Any], source: str) -> dict[str, str]:
    """The client certificate and key, or the token, of `microk8s config`'s user; nothing else."""
    keys = set(user) - IGNORED
    for kept in (CERTIFICATE, TOKEN):
        if keys == set(kept):
            if not all(isinstance(user[k], str) and user[k] for k in kept):
                raise HaccError(f"{source}: the user's {' and '.join(kept)} must be text")
            return {k: user[k] for k in kept}
    other = sorted(keys - {*CERTIFICATE, *TOKEN})
    shown = ", ".join(str(k)[:40] for k in other[:4]) or ", ".join(sorted(str(k) for k in keys))
    raise HaccError(
        f"{source}: the user entry holds {shown or 'no credentials'}; `microk8s config` prints "
        "client-certificate-data with client-key-data, or a token, and hacc copies only those "
        "(an exec plugin or auth-provider from a node would run on this machine)"
    )


def parse(text: str, source: str) -> dict[str, Any]:
    """A kubeconfig as `microk8s config` prints it: one cluster, one user, one context."""
    doc = load(text, source)
    if not isinstance(doc, dict) or doc.get("kind") != "Config":
        raise HaccError(f"{source}: not a kubeconfig (no `kind: Config`); pass `microk8s config`")
    for key in ("clusters", "users"):
        entries = doc.get(key)
        if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
            raise HaccError(
                f"{source}: expected exactly one entry in `{key}`, as `microk8s config` prints"
            )
    cluster = doc["clusters"][0].get("cluster")
    if not isinstance(cluster, dict) or not cluster.get("certificate-authority-data"):
        raise HaccError(f"{source}: the cluster entry has no certificate-authority-data")
    user = doc["users"][0].get("user")
    if not isinstance(user, dict):
        raise HaccError(f"{source}: the user entry has no credentials")
    doc["users"][0]["user"] = credentials(user, source)
    return doc


def rewrite(cluster: Cluster, doc: dict[str, Any]) -> dict[str, Any]:
    """The kubeconfig for the endpoint: names from the cluster, the server its endpoint."""
    if not covered(cluster):
        raise HaccError(
            f"the endpoint {endpoint_host(cluster)} is not among the certificate SANs this spec "
            "produces; add it to controlPlane.extraSANs first"
        )
    name = cluster.name
    user = f"{name}-admin"
    source = doc["clusters"][0]["cluster"]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "certificate-authority-data": source["certificate-authority-data"],
                    "server": server_url(cluster),
                },
            }
        ],
        "users": [{"name": user, "user": doc["users"][0]["user"]}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }


def merge(existing: dict[str, Any], new: dict[str, Any], *, switch: bool) -> dict[str, Any]:
    """`existing` with `new`'s cluster, user and context added or replaced by name; everything
    else stays as it was. `switch`: make the new context current."""
    out = dict(existing)
    for key in ("clusters", "users", "contexts"):
        entries = [e for e in existing.get(key) or [] if isinstance(e, dict)]
        by_name = {e["name"]: e for e in new[key]}
        # an entry of the same name is replaced where it stood; a new one goes last
        merged = [by_name.pop(e["name"]) if e.get("name") in by_name else e for e in entries]
        out[key] = merged + list(by_name.values())
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    if switch or not out.get("current-context"):
        out["current-context"] = new["current-context"]
    return out


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
