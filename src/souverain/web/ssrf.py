"""The guard of on-demand scans: a target must be a public domain name whose addresses are all public.

Refused (unless the instance runs in lab mode, whose whole world lives on 127.0.0.0/8): IP literals, names
under special-use suffixes (localhost, .local, .internal, .test, .home.arpa…), and names that resolve — the
name itself, ``www.`` + name, and its MX hosts, through the configured resolver — to any address that is not
globally routable: loopback, private (RFC 1918), unique-local, link-local, multicast, CGNAT (100.64/10),
documentation, benchmarking, reserved, unspecified, broadcast, and IPv6 forms that embed an IPv4 address
(IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``, Teredo),
judged on the embedded address.

This check is made before the scan starts; the scan itself then runs with ``NetConfig.public_only``, which
refuses every connection to such an address (a name that changes its answer after the check, a redirect to an
internal host).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass

from souverain.net import Net, NetConfig
from souverain.net.addresses import address_problem
from souverain.portfolio.validate import normalise_domain

__all__ = ["TargetRefused", "address_problem", "check_target", "name_problem"]

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
