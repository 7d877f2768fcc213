"""Which destination addresses are globally routable: the address policy of public-only scans.

``address_problem`` names why an address is not a public destination (loopback, private, link-local, CGNAT,
documentation, multicast, reserved…, IPv6 forms embedding an IPv4 address judged on that address). The guard
of on-demand scans (``souverain.web.ssrf``) uses it before a scan; ``Net`` uses it at every connection when
``NetConfig.public_only`` is set, so a name that changes its answer after the check (DNS rebinding) or a
redirect to an internal host is refused too.
"""

from __future__ import annotations

import ipaddress

__all__ = ["AddressRefused", "IPAddress", "address_problem", "ip_problem", "refuse_non_public"]

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


class AddressRefused(ConnectionRefusedError):
    """A connection to a non-public address, refused by the public-only policy (no packet is sent)."""


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


def ip_problem(text: str) -> str | None:
    """:func:`address_problem` of an address given as text (``None`` for a public one; text that is not an
    address is a problem too)."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0].strip("[]"))
    except ValueError:
        return "not an IP address"
    return address_problem(ip)


def refuse_non_public(ip: str) -> None:
    """Raise :class:`AddressRefused` when ``ip`` is not a public destination."""
    problem = ip_problem(ip)
    if problem is not None:
        raise AddressRefused(f"destination {ip} refused: {problem} (public-only scan)")
