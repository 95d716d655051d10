"""Every GitOps object name is one the apiserver accepts, for every `gitops.path` the schema
accepts: custom resource names are DNS-1123 subdomains, which the CRD schemas do not check."""

from __future__ import annotations

import fnmatch

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from artifacts import compiled
from conftest import DNS1123_SUBDOMAIN
from hacc.compiler.model import gitops_from
from hacc.schemas import load_schema
from hacc.targets import fleet, gitops

PATH_SCHEMA = load_schema()["properties"]["spec"]["properties"]["gitops"]["properties"]["path"]
PATHS = st.from_regex(PATH_SCHEMA["pattern"], fullmatch=True).filter(
    lambda p: len(p) <= PATH_SCHEMA["maxLength"]
)


def objects(path: str, secret: str | None = None) -> list[dict]:
    cluster = compiled("keepalived-haproxy")[0]
    g = gitops_from(
        {"repoURL": "ssh://git@git.example.com/c.git", "branch": "main", "path": path}
        | ({"secretRef": secret} if secret else {})
    )
    one = cluster._replace(gitops=g)
    two = cluster._replace(name="edge-paris-02", gitops=g)
    docs = []
    for a in gitops.render(one) + fleet.render_fleet({"edge-paris-01": g, "edge-paris-02": g}):
        docs += [d for d in yaml.safe_load_all(a.content) if d]
    assert two.name != one.name
    return docs


def check(path: str) -> None:
    docs = objects(path)
    for doc in docs:
        name = doc["metadata"]["name"]
        assert DNS1123_SUBDOMAIN.match(name) and len(name) <= 253, (path, name)
    app = next(d for d in docs if d["kind"] == "Application")
    appset = next(d for d in docs if d["kind"] == "ApplicationSet")
    glob = appset["spec"]["generators"][0]["git"]["directories"][0]["path"]
    source = app["spec"]["source"]["path"]
    assert not source.startswith(("./", "/")) and "//" not in source and "/./" not in source
    assert fnmatch.fnmatch(source, glob), (glob, source)  # the fleet finds the cluster
    for k in (d for d in docs if d["kind"] == "Kustomization"):
        assert k["spec"]["path"] == "./" + source.replace(
            "edge-paris-01", k["metadata"]["name"].split("hacc-fleet-")[-1].removeprefix("hacc-")
        )


@settings(max_examples=300, deadline=None)
@given(PATHS)
def test_object_names_are_valid_for_every_path(path) -> None:
    check(path)


def test_paths_that_once_made_invalid_names() -> None:
    for path in (".", "./clusters", "Fleet/Prod_EU", "a/./b", "_x", "..a", "A"):
        check(path)
    root = objects(".")
    app = next(d for d in root if d["kind"] == "Application")
    assert app["spec"]["source"]["path"] == "edge-paris-01/manifests"
    appset = next(d for d in root if d["kind"] == "ApplicationSet")
    assert appset["metadata"]["name"] == "hacc-root"
    assert appset["spec"]["generators"][0]["git"]["directories"] == [{"path": "*/manifests"}]
    assert "index .path.segments 0" in appset["spec"]["template"]["metadata"]["name"]


def test_one_owner_per_application() -> None:
    """The per-cluster objects and the fleet's have different names, so neither the ApplicationSet
    controller nor Flux takes over the other's (a cluster uses one or the other)."""
    docs = objects("clusters")
    per_cluster = {
        (d["kind"], d["metadata"]["name"])
        for d in docs
        if d["kind"] in ("Application", "Kustomization")
        and not d["metadata"]["name"].startswith("hacc-fleet-")
    }
    assert ("Application", "hacc-edge-paris-01") in per_cluster
    appset = next(d for d in docs if d["kind"] == "ApplicationSet")
    assert appset["spec"]["template"]["metadata"]["name"].startswith("hacc-fleet-")
    fleet_kustomizations = [
        d["metadata"]["name"]
        for d in docs
        if d["kind"] == "Kustomization" and "kubeConfig" in d["spec"]
    ]
    assert fleet_kustomizations == ["hacc-fleet-edge-paris-01", "hacc-fleet-edge-paris-02"]


def test_a_private_repository_names_its_credentials_secret() -> None:
    docs = objects("clusters", secret="git-credentials")
    repos = [d for d in docs if d["kind"] == "GitRepository"]
    assert repos and all(r["spec"]["secretRef"] == {"name": "git-credentials"} for r in repos)
    assert all(
        "secretRef" not in r["spec"] for r in objects("clusters") if r["kind"] == "GitRepository"
    )
