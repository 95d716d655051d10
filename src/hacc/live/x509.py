"""Just enough of X.509 to read a served certificate: its SANs and when it expires.

The standard library verifies certificates but does not parse one it did not verify, and hacc
verify must read what a server presents before it knows whether the CA is right. DER is a
tag-length-value format; this walks it for the two fields hacc needs (RFC 5280 4.1)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone

SAN_OID = bytes.fromhex("551d11")  # 2.5.29.17 subjectAltName


class BadCertificate(ValueError):
    pass


@dataclass(frozen=True)
class Certificate:
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_after: datetime

    @property
    def sans(self) -> set[str]:
        return set(self.dns_names) | set(self.ip_addresses)


def _item(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """(tag, start of content, end of content, end of item) of the DER item at `pos`."""
    if pos + 2 > len(data):
        raise BadCertificate("truncated")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise BadCertificate("bad length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    end = pos + length
    if end > len(data):
        raise BadCertificate("truncated")
    return tag, pos, end, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    pos = start
    while pos < end:
        tag, c_start, c_end, pos = _item(data, pos)
        out.append((tag, c_start, c_end))
    return out


def _time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=timezone.utc)


def parse(der: bytes) -> Certificate:
    try:
        _, c_start, c_end, _ = _item(der, 0)  # Certificate
        _, t_start, t_end = _children(der, c_start, c_end)[0]  # TBSCertificate
        fields = _children(der, t_start, t_end)
        if fields and fields[0][0] == 0xA0:  # [0] version
            fields = fields[1:]
        # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
        _, v_start, v_end = fields[3]
        (_, _, _), (na_tag, na_start, na_end) = _children(der, v_start, v_end)
        not_after = _time(na_tag, der[na_start:na_end])
        dns: list[str] = []
        ips: list[str] = []
        for tag, start, end in fields[6:]:
            if tag != 0xA3:  # [3] extensions
                continue
            (_, s_start, s_end), *_ = _children(der, start, end)
            for _, e_start, e_end in _children(der, s_start, s_end):
                parts = _children(der, e_start, e_end)
                if der[parts[0][1] : parts[0][2]] != SAN_OID:
                    continue
                _, o_start, _ = parts[-1]  # extnValue OCTET STRING
                _, g_start, g_end, _ = _item(der, o_start)
                for g_tag, n_start, n_end in _children(der, g_start, g_end):
                    value = der[n_start:n_end]
                    if g_tag == 0x82:  # dNSName
                        dns.append(value.decode("ascii"))
                    elif g_tag == 0x87:  # iPAddress
                        ips.append(str(ipaddress.ip_address(value)))
        return Certificate(tuple(dns), tuple(ips), not_after)
    except (IndexError, ValueError, UnicodeDecodeError) as e:
        raise BadCertificate(f"not a certificate hacc can read: {e}") from e
