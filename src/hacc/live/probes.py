"""`hacc verify`: the troubleshooting guide as probes, from a workstation or CI.

It checks what a client depends on, layer by layer, against the spec: the DNS name, the endpoint
(TCP, TLS, certificate, `/readyz`), and every control-plane node's apiserver directly on
`address:16443`. Then it names the broken layer from the combination, as RUNBOOK.md section 9
does by hand. Every network step has a timeout: a black-holed address costs `timeout` seconds,
never a hang. It sends nothing but TLS handshakes and `GET /readyz`.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from hacc.compiler.model import APISERVER_PORT, EXTERNAL, VIP_MODES, Cluster
from hacc.live.x509 import BadCertificate, parse

EXPIRY_DAYS = 30  # a certificate expiring sooner fails the check


@dataclass
class Probe:
    """One TLS endpoint: the cluster's endpoint or one node's apiserver."""

    target: str  # "endpoint" or a node name
    host: str
    port: int
    tcp: str = "not tried"  # "ok" or what went wrong
    tls: str = "not tried"
    trusted: str = "not tried"  # "ok", "unverified" (no --ca) or what went wrong
    missing_sans: list[str] = field(default_factory=list)
    days_left: int | None = None
    readyz: str = "not tried"

    @property
    def answers(self) -> bool:
        return self.tcp == "ok" and self.tls == "ok" and self.readyz == "ok"

    @property
    def ok(self) -> bool:
        return (
            self.answers
            and self.trusted in ("ok", "unverified")
            and not self.missing_sans
            and self.days_left is not None
            and self.days_left >= EXPIRY_DAYS
        )


KUBELET_PORT = 10250  # the kubelet's HTTPS port (kubelet --port's default)


@dataclass
class KubeletProbe:
    """The certificate a node's kubelet serves on :10250: MicroK8s's certs/kubelet.crt, which
    nothing renews and which keeps the addresses it was issued for (reference 6.3)."""

    node: str
    host: str
    port: int = KUBELET_PORT
    tls: str = "not tried"  # "ok" or what went wrong (the connection included)
    days_left: int | None = None
    has_address: bool | None = None  # the node's address is among the certificate's IP SANs

    @property
    def ok(self) -> bool:
        """A kubelet this workstation cannot reach is shown, not failed: port 10250 is often
        closed to it; one that answers must carry the address and not expire soon."""
        if self.tls != "ok":
            return True
        return bool(self.has_address) and (self.days_left or 0) >= EXPIRY_DAYS


def kubelet_probe(
    node: str, address: str, timeout: float, port: int = KUBELET_PORT
) -> KubeletProbe:
    """A TLS handshake with the node's kubelet: nothing is requested."""
    k = KubeletProbe(node, address, port)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # its SANs and dates are what is checked
    try:
        with (
            socket.create_connection((address, port), timeout=timeout) as raw,
            context.wrap_socket(raw) as tls,
        ):
            cert = parse(tls.getpeercert(binary_form=True) or b"")
    except (OSError, ssl.SSLError, BadCertificate) as e:
        k.tls = _error(e) if not isinstance(e, BadCertificate) else str(e)
        return k
    k.tls = "ok"
    k.days_left = (cert.not_after - datetime.now(timezone.utc)).days
    k.has_address = address in cert.ip_addresses
    return k


def kubelet_probes(cluster: Cluster, timeout: float) -> list[KubeletProbe]:
    return [kubelet_probe(n.name, n.address, timeout) for n in cluster.nodes]


def kubelet_problems(kubelets: list[KubeletProbe]) -> list[str]:
    problems = []
    for k in kubelets:
        if k.tls == "ok" and not k.has_address:
            problems.append(
                f"the kubelet certificate {k.node} serves on {k.port} lacks its address "
                f"{k.host}: the apiserver reaches kubelets by InternalIP (hacc certs renews it)"
            )
        if k.tls == "ok" and (k.days_left or 0) < EXPIRY_DAYS:
            problems.append(
                f"the kubelet certificate {k.node} serves expires in {k.days_left} days "
                "(hacc certs renews it)"
            )
    return problems


def kubelet_table(kubelets: list[KubeletProbe]) -> list[str]:
    rows = [("KUBELET", "ADDRESS", "TLS", "ADDRESS IN SANS", "EXPIRES")]
    for k in kubelets:
        san = "-" if k.has_address is None else "yes" if k.has_address else "missing"
        days = f"{k.days_left} d" if k.days_left is not None else "-"
        rows.append((k.node, f"{k.host}:{k.port}", k.tls, san, days))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


@dataclass
class Report:
    cluster: str
    dns_name: str | None
    dns: str  # "ok", "not checked" or what went wrong
    resolved: list[str]
    probes: list[Probe]
    diagnosis: str
    kubelets: list[KubeletProbe] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.dns in ("ok", "not checked")
            and all(p.ok for p in self.probes)
            and all(k.ok for k in self.kubelets)
        )

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, **asdict(self)}


def _resolve(name: str, timeout: float) -> tuple[list[str], str]:
    """The IPv4 addresses of `name`, with a timeout (getaddrinfo itself has none)."""
    found: list[str] = []
    error: list[str] = []

    def work() -> None:
        try:
            infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
            found.extend(sorted({str(i[4][0]) for i in infos}))
        except OSError as e:
            error.append(e.strerror or str(e))

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        return [], f"no answer within {timeout:g} s"
    return found, error[0] if error else "ok"


def _error(e: BaseException) -> str:
    if isinstance(e, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    return str(e) or type(e).__name__


def _readyz(tls: ssl.SSLSocket, host_header: str, timeout: float) -> str:
    """`GET /readyz` on the TLS connection already open, read by the standard library's HTTP
    client (chunked bodies included, as the apiserver may send them)."""
    tls.settimeout(timeout)
    conn = http.client.HTTPConnection("localhost", timeout=timeout)
    conn.sock = tls  # only the HTTP exchange is http.client's: the connection is ours
    try:
        conn.request("GET", "/readyz", headers={"Host": host_header, "Connection": "close"})
        response = conn.getresponse()
        body = response.read(65536)
    except http.client.HTTPException as e:
        return f"answered no HTTP ({type(e).__name__})"
    if response.status != 200 or body.strip() != b"ok":
        return f"answered {response.status} {response.reason}".rstrip()
    return "ok"


@dataclass(frozen=True)
class Target:
    name: str  # "endpoint" or a node name
    host: str
    port: int
    sans: list[str]  # what its certificate must carry


def probe(t: Target, sni: str, ca: str | None, timeout: float) -> Probe:
    host, port, sans = t.host, t.port, t.sans
    p = Probe(t.name, host, port)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # read what is served first; trust is checked apart
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        p.tcp = _error(e)
        return p
    p.tcp = "ok"
    with raw:
        try:
            tls = context.wrap_socket(raw, server_hostname=sni)
        except (OSError, ssl.SSLError) as e:
            p.tls = _error(e)
            return p
        with tls:
            p.tls = "ok"
            der = tls.getpeercert(binary_form=True)
            try:
                cert = parse(der or b"")
            except BadCertificate as e:
                p.tls = str(e)
                return p
            p.missing_sans = [s for s in sans if s not in cert.sans]
            left = cert.not_after - datetime.now(timezone.utc)
            p.days_left = left.days
            try:
                p.readyz = _readyz(tls, sni, timeout)
            except OSError as e:
                p.readyz = _error(e)
    p.trusted = _trusted(host, port, sni, ca, timeout) if ca else "unverified"
    return p


def _trusted(host: str, port: int, sni: str, ca: str, timeout: float) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # names are checked as SANs, against the spec
    context.load_verify_locations(ca)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=sni),
        ):
            return "ok"
    except ssl.SSLCertVerificationError as e:
        return f"not signed by the given CA ({e.verify_message})"
    except OSError as e:
        return _error(e)


def run(cluster: Cluster, *, ca: str | None, timeout: float) -> Report:
    ep = cluster.endpoint
    dns, resolved = "not checked", list[str]()
    if ep.dns_name:
        resolved, dns = _resolve(ep.dns_name, timeout)
        if dns != "ok":
            dns = f"does not resolve ({dns[:1].lower()}{dns[1:]})"
        elif ep.address and ep.address not in resolved:
            dns = f"resolves to {', '.join(resolved)}, not {ep.address}"
        elif not resolved:
            dns = "resolves to no IPv4 address"
    sni = ep.dns_name or ep.address or ""
    # Only addresses are dialled: a name would be resolved again, without a timeout.
    host = ep.address or (resolved[0] if resolved else "")
    targets = [
        Target(n.name, n.address, APISERVER_PORT, [*cluster.sans, n.address])
        for n in cluster.control_plane
    ]
    if host:
        targets.insert(0, Target("endpoint", host, ep.port, list(cluster.sans)))
    probes = [probe(t, sni, ca, timeout) for t in targets]
    if not host:  # an external load balancer known by a name that does not resolve
        probes.insert(0, Probe("endpoint", sni, ep.port, tcp=f"not tried: {dns}"))
    report = Report(cluster.name, ep.dns_name, dns, resolved, probes, "")
    report.kubelets = kubelet_probes(cluster, timeout)
    report.diagnosis = diagnose(cluster, report)
    return report


def diagnose(cluster: Cluster, r: Report) -> str:
    """The broken layer, from the combination of probes, with the runbook step that fixes it."""
    endpoint, nodes = r.probes[0], r.probes[1:]
    lb = {
        "keepalived-haproxy": "HAProxy and keepalived",
        "kube-vip": "kube-vip",
        EXTERNAL: "your load balancer",
    }[cluster.mode]
    dns_broken = r.dns not in ("ok", "not checked")
    dns = f"the DNS name {r.dns_name} {r.dns}"
    # With nothing answering at all, a failing resolver is more likely this machine's network
    # than the record: the apiservers come first, as they do without a DNS name.
    if dns_broken and (not nodes or any(p.answers for p in r.probes)):
        return f"{dns}: fix its record (RUNBOOK.md section 1)"
    if not any(n.answers for n in nodes):
        return (
            "no apiserver answers on its own address: the apiservers are down or unreachable "
            "from here, not the endpoint (RUNBOOK.md section 9, steps 1 and 2)"
            + (f"; {dns} either" if dns_broken else "")
        )
    if not endpoint.answers:
        if cluster.mode in VIP_MODES and endpoint.tcp == "refused":
            where = (
                "HAProxy is not running on the VIP holder"
                if cluster.mode == "keepalived-haproxy"
                else "nothing listens on the port"
            )
            return (
                f"the VIP answers but refuses {endpoint.port} while the apiservers answer "
                f"directly: {where} (RUNBOOK.md section 9, step 6)"
            )
        if cluster.mode in VIP_MODES and endpoint.tcp != "ok":
            return (
                f"the VIP {endpoint.host} does not answer ({endpoint.tcp}) while the apiservers "
                f"answer directly: no node holds it; look at {lb} (RUNBOOK.md section 9, step 6)"
            )
        return (
            f"every reachable apiserver answers directly, the endpoint does not "
            f"({endpoint.tcp if endpoint.tcp != 'ok' else endpoint.tls if endpoint.tls != 'ok' else endpoint.readyz}): "
            f"{lb} is at fault (RUNBOOK.md section 9, step 3)"
        )
    problems = []
    down = [n.target for n in nodes if not n.answers]
    if down:
        problems.append(
            f"{', '.join(down)} do{'es' * (len(down) == 1)} not answer on {APISERVER_PORT} "
            "(down, or listening on 127.0.0.1 only: RUNBOOK.md section 9, steps 1 and 2)"
        )
    for p in r.probes:
        if p.missing_sans:
            problems.append(
                f"the certificate {p.target} serves lacks {', '.join(p.missing_sans)} "
                "(run apply-day2.sh there: RUNBOOK.md section 5)"
            )
        if p.trusted not in ("ok", "unverified", "not tried"):
            problems.append(f"the certificate {p.target} serves is {p.trusted}")
        if p.days_left is not None and p.days_left < EXPIRY_DAYS:
            problems.append(
                f"the certificate {p.target} serves expires in {p.days_left} days "
                "(RUNBOOK.md section 6)"
            )
    problems += kubelet_problems(r.kubelets)
    if problems:
        return "; ".join(problems)
    return "every check holds"


def table(r: Report) -> str:
    """The text report. Every cell goes through diagnostics.one_line: status lines, TLS errors
    and names come from whatever answered, and must not reach the terminal as escapes."""
    from hacc.diagnostics import one_line

    rows: list[tuple[str, ...]] = [
        ("TARGET", "ADDRESS", "TCP", "TLS", "CA", "SANS", "EXPIRES", "READYZ")
    ]
    for p in r.probes:
        sans = (
            "missing " + ",".join(p.missing_sans)
            if p.missing_sans
            else ("ok" if p.tls == "ok" else "-")
        )
        days = f"{p.days_left} d" if p.days_left is not None else "-"
        row = (p.target, f"{p.host}:{p.port}", p.tcp, p.tls, p.trusted, sans, days, p.readyz)
        rows.append(tuple(one_line(c) for c in row))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    head = f"cluster {r.cluster}"
    if r.dns_name:
        head += f"; DNS {r.dns_name}: {r.dns}" + (
            f" ({', '.join(r.resolved)})" if r.resolved else ""
        )
    parts = [one_line(head), *lines, *(one_line(k) for k in kubelet_table(r.kubelets))]
    return "\n".join([*parts, f"diagnosis: {one_line(r.diagnosis)}"]) + "\n"
