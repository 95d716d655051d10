"""Names of the GitOps objects hacc writes: one per (cluster or fleet, role), never the same for
two of them, and at most 63 characters.

63 because both controllers copy the name into a label value: kustomize-controller labels every
object it applies `kustomize.toolkit.fluxcd.io/name: <Kustomization>` and applies nothing when
that is longer (fluxcd/flux2#2004); Argo CD's label tracking writes the Application's name into
`app.kubernetes.io/instance`.

The form is `hacc-<owner>` or `hacc-<owner>.<role>`. An owner is a cluster name or a fleet's
path stem (DNS-1123 labels: no dots), a role a fixed word that is not ten hex digits. When that is
too long, the owner is cut and a digest of the whole owner follows it as one more dot-separated
part: `hacc-<cut>.<digest>[.<role>]`. So the number of dots and the last part tell the forms
apart, and an owner maps to one name per role (the ApplicationSet controller adopts and
overwrites an Application of the name it generates, argo-cd
applicationset/controllers/applicationset_controller.go `createOrUpdateInCluster`; two owners
sharing a name would re-point one cluster's Application at another's folder).
"""

from __future__ import annotations

import hashlib

LIMIT = 63
DIGEST = 10  # hex digits of sha256(owner) in a cut name
PREFIX = "hacc-"

# roles
MONITORING = "monitoring"
FLEET = "fleet"
FLEET_MONITORING = "fleet-monitoring"
ROLES = ("", MONITORING, FLEET, FLEET_MONITORING)


def object_name(owner: str, role: str = "") -> str:
    assert role in ROLES and "." not in owner and owner, (owner, role)
    suffix = f".{role}" if role else ""
    full = f"{PREFIX}{owner}{suffix}"
    if len(full) <= LIMIT:
        return full
    digest = hashlib.sha256(owner.encode()).hexdigest()[:DIGEST]
    room = LIMIT - len(PREFIX) - 1 - DIGEST - len(suffix)
    cut = owner[:room].rstrip("-")  # a DNS label starts with a letter or digit: never empty
    return f"{PREFIX}{cut}.{digest}{suffix}"
