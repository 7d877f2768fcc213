"""``origin`` probe (off unless ``NetConfig.origin_lookup``): the origin AS of every address the ``dns``
probe observed, from a DNS zone in the Team Cymru format — the online fallback when no local prefix table
covers an address.

Query: ``d.c.b.a.origin.asn.cymru.com TXT`` (IPv6: reversed nibbles under ``origin6.asn.cymru.com``);
answer ``"ASN [ASN…] | prefix | country | registry | date"``. IPv4-mapped IPv6 addresses are asked as IPv4.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from souverain.evidence import Evidence, Status
from souverain.probes.base import ProbeContext, register

SCHEMA_VERSION = 1
MAX_ADDRESSES = 16


def origin_name(address: str, zone_v4: str, zone_v6: str) -> str | None:
    """The DNS name to ask for ``address`` (None when it is not an address)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return ".".join(reversed(str(ip).split("."))) + "." + zone_v4
    nibbles = ip.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + "." + zone_v6


def parse_origin(txt: str) -> dict[str, Any] | None:
    """``{"asn", "prefix", "country", "registry"}`` from one answer string (first ASN when several)."""
    parts = [p.strip() for p in txt.strip('"').split("|")]
    if len(parts) < 2 or not parts[0]:
        return None
    try:
        asn = int(parts[0].split()[0])
    except ValueError:
        return None
    return {"asn": asn, "prefix": parts[1], "country": parts[2] if len(parts) > 2 else "",
            "registry": parts[3] if len(parts) > 3 else ""}  # fmt: skip


def _observed_addresses(ctx: ProbeContext) -> list[str]:
    items = ctx.evidence.get("dns") or []
    if not items or not items[0].data:
        return []
    d = items[0].data
    out: list[str] = []
    for answer in ((d.get("queries") or {}).get("A"), (d.get("queries") or {}).get("AAAA"),
                   (d.get("www") or {}).get("A"), (d.get("www") or {}).get("AAAA")):  # fmt: skip
        if isinstance(answer, dict) and answer.get("status") == "ok":
            out += [str(r) for r in answer.get("rrs") or []]
    for key in ("mx_hosts", "ns_hosts"):
        for host in d.get(key) or []:
            out += [str(a) for a in host.get("addresses") or []]
    return list(dict.fromkeys(out))[:MAX_ADDRESSES]


@register("origin", version="1", roles=frozenset({"*"}), needs=("dns",), budget_s=10.0,
          schema_version=SCHEMA_VERSION)  # fmt: skip
async def probe_origin(ctx: ProbeContext) -> list[Evidence]:
    cfg = ctx.net.config
    if not cfg.origin_lookup:
        return []
    addresses = _observed_addresses(ctx)
    names = {a: origin_name(a, cfg.origin_zone_v4, cfg.origin_zone_v6) for a in addresses}
    asked = [(a, n) for a, n in names.items() if n]
    answers = await asyncio.gather(*(ctx.net.dns.query(n, "TXT") for _, n in asked))
    found: dict[str, Any] = {}
    for (address, name), answer in zip(asked, answers, strict=True):
        entry: dict[str, Any] = {"name": name, "status": str(answer.status)}
        if answer.status is Status.OK and answer.rrs:
            parsed = parse_origin(answer.rrs[0])
            if parsed:
                entry.update(parsed)
        found[address] = entry
    status = Status.OK if any("asn" in e for e in found.values()) else Status.NOT_FOUND
    if not addresses:
        status = Status.NOT_APPLICABLE
    return [Evidence("origin", ctx.domain, status, {"addresses": found}, schema_version=SCHEMA_VERSION)]
