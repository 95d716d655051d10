"""GitOps object names, for every set of cluster names and every `gitops.path` the schema accepts:
valid (custom resource names are DNS-1123 subdomains, which the CRD schemas do not check), at
most 63 characters (kustomize-controller copies a Kustomization's name into a label value,
fluxcd/flux2#2004), and never one name for two owners.

Two owners of one name is what the controllers' own logic punishes: the ApplicationSet
controller gets the Application of the name it generated and overwrites its spec and owner
(argo-cd applicationset/controllers/applicationset_controller.go `createOrUpdateInCluster`:
`utils.CreateOrUpdate` on `found`, then `SetControllerReference`), and `kubectl apply` of a second
Kustomization or GitRepository of one name replaces the first. So an object is identified by
(kind, namespace, name), exactly as the apiserver keys it, and every Application an
ApplicationSet would generate counts as an Application."""

from __future__ import annotations

import fnmatch
import re

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from artifacts import compiled
from conftest import DNS1123_SUBDOMAIN
from crds import problems
from hacc.compiler.model import GitOps, gitops_from
from hacc.schemas import load_schema
from hacc.targets import fleet, gitops

SCHEMA = load_schema()
PATH_SCHEMA = SCHEMA["properties"]["spec"]["properties"]["gitops"]["properties"]["path"]
PATHS = st.from_regex(PATH_SCHEMA["pattern"], fullmatch=True).filter(
    lambda p: len(p) <= PATH_SCHEMA["maxLength"]
)
LABEL = SCHEMA["definitions"]["dns1123Label"]
# Every name the schema accepts, with hyphens and lengths near the limits drawn often.
CLUSTER_NAMES = st.one_of(
    st.from_regex(LABEL["pattern"], fullmatch=True),
    st.from_regex(r"[a-z0-9]([-a-z0-9]{50,61}[a-z0-9])", fullmatch=True),
    st.sampled_from(["two", "fleet-two", "fleet", "monitoring", "clusters", "x-fleet", "a" * 63]),
    st.builds(
        lambda a, b: f"{a}-{b}"[:63].rstrip("-") or "a",
        st.sampled_from(["fleet", "monitoring", "hacc", "clusters"]),
        st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True),
    ),
)
# kubernetes label values (apimachinery IsValidLabelValue)
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def cluster_objects(name: str, g: GitOps) -> list[dict]:
    cluster = compiled("keepalived-haproxy")[0]._replace(name=name, gitops=g)
    docs = []
    for a in gitops.render(cluster):
        docs += [d for d in yaml.safe_load_all(a.content) if d]
    return docs


def fleet_objects(members: dict[str, GitOps]) -> list[dict]:
    docs = []
    for a in fleet.render_fleet(members, monitored=set(members)):
        if not a.path.endswith("kustomization.yaml"):
            docs += [d for d in yaml.safe_load_all(a.content) if d]
    return docs


def generated(appset: dict) -> list[dict]:
    """The Applications the ApplicationSet controller would create: one per generator, with
    the generator's values in the template (the folder exists: hacc wrote it)."""
    out = []
    template = appset["spec"]["template"]
    for gen in appset["spec"]["generators"]:
        values = gen["git"]["values"]
        name = template["metadata"]["name"].replace("{{ .values.app }}", values["app"])
        out.append({"kind": "Application", "metadata": {"name": name, "namespace": "argocd"}})
    return out


def identities(docs: list[dict]) -> list[tuple[str, str, str]]:
    every = list(docs)
    for d in docs:
        if d["kind"] == "ApplicationSet":
            every += generated(d)
    return [(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) for d in every]


def check_names(members: dict[str, GitOps]) -> None:
    docs = fleet_objects(members) if len(members) > 1 else []
    for name, g in members.items():
        docs += cluster_objects(name, g)
    ids = identities(docs)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for _, _, name in ids:
        assert DNS1123_SUBDOMAIN.match(name), name
        assert len(name) <= 63 and LABEL_VALUE.match(name), name


def repo(path: str = "clusters") -> GitOps:
    return gitops_from(
        {"repoURL": "ssh://git@git.example.com/c.git", "branch": "main", "path": path}
    )


@settings(max_examples=200, deadline=None)
@given(st.sets(CLUSTER_NAMES, min_size=1, max_size=6), st.lists(PATHS, min_size=1, max_size=3))
def test_no_two_owners_share_a_name_and_every_name_fits(names, paths) -> None:
    """Any accepted cluster names, spread over up to three repository folders."""
    folders = [repo(p) for p in paths]
    members = {n: folders[i % len(folders)] for i, n in enumerate(sorted(names))}
    check_names(members)


def test_names_that_collided() -> None:
    # `two` in a fleet and `fleet-two` alone both made hacc-fleet-two
    check_names({"two": repo(), "one": repo(), "fleet-two": repo("elsewhere")})
    # a cluster `clusters` and its fleet's GitRepository, both hacc-clusters
    check_names({"clusters": repo("clusters"), "b": repo("clusters")})
    # 59 characters alone, 53 in a fleet: Kustomization names over 63
    long = "a" * 59
    check_names({long: repo(), "b" * 53: repo(), "c" * 63: repo()})


def test_a_cut_name_keeps_its_cluster_recognisable() -> None:
    long = "edge-" + "x" * 58
    names = {d["metadata"]["name"] for d in cluster_objects(long, repo())}
    assert len(names) == 2  # the manifests' and the monitoring's (Flux pairs share the first)
    assert all(n.startswith("hacc-edge-xxxx") and len(n) == 63 for n in names), names


def test_the_name_harness_finds_the_old_collisions(monkeypatch) -> None:
    """With the names hacc used to write (hacc-fleet-<cluster> beside hacc-<cluster>, a fleet's
    GitRepository hacc-<path>), the same checks fail."""
    import pytest

    from hacc.targets import names

    def old(owner: str, role: str = "") -> str:
        fleet_part = "fleet-" if role.startswith(names.FLEET) and owner not in PATH_STEMS else ""
        tail = "-monitoring" if role.endswith(names.MONITORING) else ""
        return f"hacc-{fleet_part}{owner}{tail}"

    PATH_STEMS = {"clusters", "elsewhere"}
    monkeypatch.setattr(gitops, "object_name", old)
    monkeypatch.setattr(fleet, "object_name", old)
    for members in (
        {"two": repo(), "one": repo(), "fleet-two": repo("elsewhere")},
        {"clusters": repo("clusters"), "b": repo("clusters")},
        {"a" * 59: repo("elsewhere")},
    ):
        with pytest.raises(AssertionError):
            check_names(members)


def check_paths(path: str) -> None:
    members = {"edge-paris-01": repo(path), "edge-paris-02": repo(path)}
    docs = cluster_objects("edge-paris-01", members["edge-paris-01"]) + fleet_objects(members)
    for doc in docs:
        assert problems(doc) == [], (path, doc["kind"], problems(doc))
    check_names(members)
    app = next(d for d in docs if d["kind"] == "Application")
    source = app["spec"]["source"]["path"]
    assert not source.startswith(("./", "/")) and "//" not in source and "/./" not in source
    appset = next(d for d in docs if d["kind"] == "ApplicationSet")
    globs = [gen["git"]["directories"][0]["path"] for gen in appset["spec"]["generators"]]
    # each generator finds exactly its cluster's folder, and nothing else under the path
    assert [g for g in globs if fnmatch.fnmatch(source, g)] == [source], (globs, source)
    assert not any(fnmatch.fnmatch(source.replace("edge-paris-01", "other"), g) for g in globs)
    for k in (d for d in docs if d["kind"] == "Kustomization"):
        assert k["spec"]["path"].startswith("./") and "//" not in k["spec"]["path"]


@settings(max_examples=60, deadline=None)
@given(PATHS)
def test_objects_are_valid_for_every_path(path) -> None:
    check_paths(path)


def test_paths_that_once_made_invalid_names() -> None:
    for path in (".", "./clusters", "Fleet/Prod_EU", "a/./b", "_x", "..a", "A"):
        check_paths(path)
    members = {"edge-paris-01": repo("."), "edge-paris-02": repo(".")}
    appset = next(d for d in fleet_objects(members) if d["kind"] == "ApplicationSet")
    assert appset["metadata"]["name"] == "hacc-root.fleet"
    assert appset["spec"]["generators"][0]["git"]["directories"] == [
        {"path": "edge-paris-01/manifests"}
    ]


def test_a_private_repository_names_its_credentials_secret() -> None:
    g = gitops_from(
        {"repoURL": "ssh://git@git.example.com/c.git", "path": "clusters", "branch": "main"}
        | {"secretRef": "git-credentials"}
    )
    docs = cluster_objects("a", g) + fleet_objects({"a": g, "b": g})
    repos = [d for d in docs if d["kind"] == "GitRepository"]
    assert len(repos) == 2 and all(
        r["spec"]["secretRef"] == {"name": "git-credentials"} for r in repos
    )
    plain = cluster_objects("a", repo()) + fleet_objects({"a": repo(), "b": repo()})
    assert all("secretRef" not in r["spec"] for r in plain if r["kind"] == "GitRepository")
