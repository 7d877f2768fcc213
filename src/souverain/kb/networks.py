"""IP → network: longest-prefix match over prefix tables, from the KB, providers' published IP ranges,
the iptoasn TSV and the lab's prefix table.

Published ranges (entity known, service known: CloudFront vs EC2) beat an ASN table (network operator
only). IPv4-mapped IPv6 addresses (``::ffff:a.b.c.d``) are looked up as IPv4.
"""

from __future__ import annotations

import bisect
import gzip
import ipaddress
import json
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CLOUD_FORMATS",
    "NetworkHit",
    "PrefixTable",
    "RangeTable",
    "ip_key",
    "parse_cloud_ranges",
    "parse_iptoasn",
    "parse_prefix_tsv",
]


@dataclass(frozen=True, slots=True)
class NetworkHit:
    """What a table says of an address."""

    prefix: str
    source: str
    """Table name: ``kb``, ``ranges:aws``, ``iptoasn``, ``lab-prefixes``, ``origin-dns``…"""
    asn: int | None = None
    entity: str | None = None
    service: str | None = None
    as_name: str = ""


def ip_key(address: str) -> tuple[int, int] | None:
    """(version, integer) of an address; IPv4-mapped IPv6 becomes IPv4. None when not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return 4, int(ip.ipv4_mapped)
    return ip.version, int(ip)


class PrefixTable:
    """Longest-prefix match: one dict per prefix length, probed from the longest length down."""

    def __init__(self) -> None:
        self._by_len: dict[int, dict[tuple[int, int], NetworkHit]] = {}
        self._lengths: dict[int, list[int]] = {4: [], 6: []}
        self.size = 0

    def add(self, prefix: str, hit: NetworkHit) -> None:
        net = ipaddress.ip_network(prefix, strict=False)
        version, plen, base = net.version, net.prefixlen, int(net.network_address)
        if isinstance(net, ipaddress.IPv6Network) and plen >= 96 and net.network_address.ipv4_mapped:
            version, plen, base = 4, plen - 96, int(net.network_address) & 0xFFFFFFFF
        key = version * 1000 + plen
        table = self._by_len.setdefault(key, {})
        if (version, base) not in table:
            self.size += 1
        table[(version, base)] = hit
        if plen not in self._lengths[version]:
            self._lengths[version].append(plen)
            self._lengths[version].sort(reverse=True)

    def lookup(self, address: str) -> NetworkHit | None:
        key = ip_key(address)
        if key is None:
            return None
        version, value = key
        bits = 32 if version == 4 else 128
        for plen in self._lengths[version]:
            base = value >> (bits - plen) << (bits - plen) if plen else 0
            hit = self._by_len[version * 1000 + plen].get((version, base))
            if hit is not None:
                return hit
        return None


class RangeTable:
    """Non-overlapping address ranges (the iptoasn format), binary search on compact arrays."""

    def __init__(self, rows: Iterable[tuple[int, int, int, int, str]]) -> None:
        """``rows``: (version, start, end, asn, as_name), any order."""
        data = sorted(rows)
        self._starts = {4: array("Q"), 6: []}  # type: dict[int, Any]
        self._ends: dict[int, Any] = {4: array("Q"), 6: []}
        self._asn: dict[int, array[int]] = {4: array("L"), 6: array("L")}
        self._names: dict[int, list[int]] = {4: [], 6: []}
        names: dict[str, int] = {}
        self.as_names: list[str] = []
        for version, start, end, asn, name in data:
            self._starts[version].append(start)
            self._ends[version].append(end)
            self._asn[version].append(asn)
            idx = names.get(name)
            if idx is None:
                idx = names[name] = len(self.as_names)
                self.as_names.append(name)
            self._names[version].append(idx)
        self.size = len(data)

    def lookup(self, address: str) -> NetworkHit | None:
        key = ip_key(address)
        if key is None:
            return None
        version, value = key
        starts = self._starts[version]
        i = bisect.bisect_right(starts, value) - 1
        if i < 0 or value > self._ends[version][i] or self._asn[version][i] == 0:
            return None
        start, end = starts[i], self._ends[version][i]
        cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        prefix = f"{cls(start)}-{cls(end)}"
        return NetworkHit(
            prefix, "iptoasn", self._asn[version][i], as_name=self.as_names[self._names[version][i]]
        )


def _open_text(path: Path) -> Iterator[str]:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as gz:
            yield from gz
    else:
        with path.open(encoding="utf-8", errors="replace") as fh:
            yield from fh


def parse_iptoasn(path: Path) -> Iterator[tuple[int, int, int, int, str]]:
    """Rows of an iptoasn.com TSV (``ip2asn-combined.tsv[.gz]``: start, end, ASN, country, description).

    ASN 0 means "not routed" and is skipped. Raises ValueError naming the line on malformed input."""
    for n, line in enumerate(_open_text(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3:
            raise ValueError(f"{path}:{n}: expected start, end, ASN separated by tabs")
        start, end = ip_key(parts[0]), ip_key(parts[1])
        if start is None or end is None or start[0] != end[0] or end[1] < start[1]:
            raise ValueError(f"{path}:{n}: bad address range {parts[0]!r}-{parts[1]!r}")
        try:
            asn = int(parts[2])
        except ValueError:
            raise ValueError(f"{path}:{n}: bad ASN {parts[2]!r}") from None
        if asn:
            yield start[0], start[1], end[1], asn, parts[4] if len(parts) > 4 else ""


def parse_prefix_tsv(path: Path) -> Iterator[tuple[str, int | None, str]]:
    """Rows of a prefix table (``prefix<TAB>asn<TAB>as_name<TAB>comment``; the lab's ``prefixes.tsv``)."""
    for n, line in enumerate(_open_text(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\n").split("\t")
        try:
            prefix = str(ipaddress.ip_network(parts[0], strict=False))
        except ValueError:
            raise ValueError(f"{path}:{n}: bad prefix {parts[0]!r}") from None
        asn_text = parts[1].strip() if len(parts) > 1 else ""
        if asn_text and not asn_text.isdigit():
            raise ValueError(f"{path}:{n}: bad ASN {asn_text!r}")
        yield prefix, int(asn_text) if asn_text else None, parts[2] if len(parts) > 2 else ""


def _aws(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for p in doc.get("prefixes", []):
        yield p["ip_prefix"], p.get("service", "AMAZON")
    for p in doc.get("ipv6_prefixes", []):
        yield p["ipv6_prefix"], p.get("service", "AMAZON")


def _google(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for p in doc.get("prefixes", []):
        prefix = p.get("ipv4Prefix") or p.get("ipv6Prefix")
        if prefix:
            yield prefix, p.get("service", "Google")


def _azure(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for value in doc.get("values", []):
        name = value.get("name", "AzureCloud")
        if name != "AzureCloud" and not name.startswith("AzureFrontDoor"):
            continue  # AzureCloud covers the others; Front Door is the CDN
        for prefix in value.get("properties", {}).get("addressPrefixes", []):
            yield prefix, name


def _fastly(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for prefix in [*doc.get("addresses", []), *doc.get("ipv6_addresses", [])]:
        yield prefix, "Fastly"


def _oracle(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for region in doc.get("regions", []):
        for c in region.get("cidrs", []):
            yield c["cidr"], "OCI"


CLOUD_FORMATS: dict[str, tuple[str, Any, dict[str, str]]] = {
    # format → (KB entity, parser, service → role when not web-hosting)
    "aws": ("aws", _aws, {"CLOUDFRONT": "cdn", "CLOUDFRONT_ORIGIN_FACING": "cdn", "ROUTE53": "dns-hosting"}),
    "google-cloud": ("google", _google, {}),
    "azure": ("microsoft", _azure, {"AzureFrontDoor.Frontend": "cdn"}),
    "fastly": ("fastly", _fastly, {"Fastly": "cdn"}),
    "cloudflare": ("cloudflare", None, {"Cloudflare": "cdn"}),
    "oracle": ("oracle", _oracle, {}),
}
"""Published IP-range formats souverain reads (see docs/kb.md for the URLs)."""


def parse_cloud_ranges(fmt: str, path: Path) -> Iterator[tuple[str, str, str, str]]:
    """(prefix, entity, service, role) rows of a provider's published ranges file."""
    if fmt not in CLOUD_FORMATS:
        raise ValueError(f"unknown ranges format {fmt!r} (known: {', '.join(CLOUD_FORMATS)})")
    entity, parser, roles = CLOUD_FORMATS[fmt]
    if parser is None:  # plain text, one prefix per line (Cloudflare ips-v4 / ips-v6)
        rows: Iterable[tuple[str, str]] = (
            (line.strip(), "Cloudflare")
            for line in _open_text(path)
            if line.strip() and not line.startswith("#")
        )
    else:
        try:
            doc = json.loads("".join(_open_text(path)))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
        rows = parser(doc)
    for prefix, service in rows:
        try:
            ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            raise ValueError(f"{path}: bad prefix {prefix!r}") from None
        yield prefix, entity, service, roles.get(service, "web-hosting")
