"""The guard of on-demand scans: a target must be a public domain name whose addresses are all public.

Refused (unless the instance runs in lab mode, whose whole world lives on 127.0.0.0/8): IP literals, names
under special-use suffixes (localhost, .local, .internal, .test, .home.arpa…), and names that resolve — the
name itself, ``www.`` + name, and its MX hosts, through the configured resolver — to any address that is not
globally routable: loopback, private (RFC 1918), unique-local, link-local, multicast, CGNAT (100.64/10),
documentation, benchmarking, reserved, unspecified, broadcast, and IPv6 forms that embed an IPv4 address
(IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``, Teredo),
judged on the embedded address.

This is a check made before the scan starts; see docs/web.md for what it does not cover (a name that changes
its answer between the check and the scan).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass

from souverain.net import Net, NetConfig
from souverain.portfolio.validate import normalise_domain

__all__ = ["TargetRefused", "address_problem", "check_target", "name_problem"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NETWORKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "'this network' (RFC 791)"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "shared address space / CGNAT (RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "broadcast"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("100::/64", "discard-only (RFC 6666)"),
    ("2001:db8::/32", "documentation"),
    ("2001:10::/28", "ORCHID (deprecated)"),
    ("2001:20::/28", "ORCHIDv2"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)
_TABLE = [(ipaddress.ip_network(net), why) for net, why in _NETWORKS]
_SPECIAL_SUFFIXES = (
    "localhost",
    "local",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "test",
    "invalid",
    "example",
    "onion",
    "home.arpa",
    "in-addr.arpa",
    "ip6.arpa",
    "alt",
)


class TargetRefused(Exception):
    """The target may not be scanned from this instance; the message says why (one line)."""


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    packed = ip.packed
    if packed[:12] == bytes(12) and ip not in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
        return ipaddress.IPv4Address(packed[12:])  # IPv4-compatible ::a.b.c.d (deprecated)
    if ip in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(packed[12:])
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why an address may not be a scan destination, or None when it is globally routable."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            problem = address_problem(inner)
            return f"embeds {inner}, {problem}" if problem else None
    for network, why in _TABLE:
        if ip.version == network.version and ip in network:
            return why
    if not ip.is_global:
        return "not globally routable"
    return None


def name_problem(name: str) -> str | None:
    """Why a name may not be scanned without even resolving it, or None."""
    text = name.strip().rstrip(".").lower()
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        return "an IP address; on-demand scans take domain names"
    if "." not in text:
        return "a single-label name"
    if any(text == s or text.endswith("." + s) for s in _SPECIAL_SUFFIXES):
        return "a special-use or internal name"
    return None


@dataclass(frozen=True, slots=True)
class Checked:
    domain: str
    addresses: dict[str, list[str]]


async def _resolve(net: Net, domain: str) -> dict[str, list[str]]:
    hosts = [domain, f"www.{domain}"]
    mx = await net.query(domain, "MX")
    for rr in mx.rrs:
        parts = rr.split()
        if len(parts) == 2 and parts[1] not in (".", ""):
            hosts.append(parts[1].rstrip(".").lower())
    results = await asyncio.gather(*(net.addresses(h) for h in hosts))
    return {h: addrs for h, addrs in zip(hosts, results, strict=True) if addrs}


def check_target(target: str, net_config: NetConfig, *, lab: bool = False) -> Checked:
    """Validate and resolve a target; raise :class:`TargetRefused` with the reason. In lab mode every
    address is allowed (the lab's world is on loopback) but the name must still be a valid domain."""
    problem = name_problem(target)
    if problem and (not lab or problem.startswith("an IP")):
        raise TargetRefused(f"target '{target}': {problem}")
    try:
        domain = normalise_domain(target)
    except ValueError as exc:
        raise TargetRefused(f"target '{target}': {exc}") from None

    async def main() -> dict[str, list[str]]:
        async with Net(net_config) as net:
            return await _resolve(net, domain)

    addresses = asyncio.run(main())
    if not addresses:
        raise TargetRefused(f"target '{domain}': no address found for it, www.{domain} or its MX hosts")
    if not lab:
        for host, addrs in addresses.items():
            for text in addrs:
                why = address_problem(ipaddress.ip_address(text))
                if why:
                    raise TargetRefused(f"target '{domain}': {host} resolves to {text}, {why}")
    return Checked(domain, addresses)
