"""``dns`` probe: the domain's records, ``www``, and the addresses of its MX and NS hosts."""

from __future__ import annotations

import asyncio
from typing import Any

from souverain.evidence import Evidence, Status
from souverain.net import DnsAnswer
from souverain.probes.base import ProbeContext, register
from souverain.probes.common import mx_hosts

SCHEMA_VERSION = 1
RECORD_TYPES = ("A", "AAAA", "NS", "MX", "TXT", "CAA", "SOA")
MAX_HOSTS = 10


def _overall(answers: dict[str, DnsAnswer]) -> tuple[Status, str | None]:
    core = [answers[t] for t in ("SOA", "NS", "A")]
    statuses = {a.status for a in answers.values()}
    if statuses == {Status.TIMEOUT}:
        return Status.TIMEOUT, "the resolver never answered"
    if any(a.status is Status.NOT_FOUND for a in core):
        return Status.NOT_FOUND, "NXDOMAIN"
    if all(a.status is Status.REFUSED for a in core):
        return Status.REFUSED, "the resolver refused the queries"
    if all(a.status in (Status.ERROR, Status.TIMEOUT) for a in core):
        return Status.ERROR, "; ".join(sorted({a.error or a.status for a in core}))
    return Status.OK, None


async def _host_addresses(ctx: ProbeContext, hosts: list[str]) -> list[dict[str, Any]]:
    net = ctx.net
    known = [net.cached_addresses(h) for h in hosts]  # MX/NS hosts are shared: mostly answered already
    missing = [h for h, k in zip(hosts, known, strict=True) if k is None]
    asked = iter(await asyncio.gather(*(net.addresses(h) for h in missing)) if missing else ())
    found = [k if k is not None else next(asked) for k in known]
    return [{"host": h, "addresses": a} for h, a in zip(hosts, found, strict=True)]


@register("dns", version="1", roles=frozenset({"*"}), budget_s=12.0, schema_version=SCHEMA_VERSION)
async def probe_dns(ctx: ProbeContext) -> list[Evidence]:
    """A, AAAA (with CNAME chain), NS, MX, TXT, CAA, SOA of the domain; A/AAAA of www; MX/NS addresses."""
    dns = ctx.net.dns
    www = f"www.{ctx.domain}"
    questions = [(ctx.domain, t) for t in RECORD_TYPES] + [(www, "A"), (www, "AAAA")]
    results = await asyncio.gather(*(dns.query(n, t) for n, t in questions))
    answers = dict(zip(RECORD_TYPES, results[: len(RECORD_TYPES)], strict=True))
    status, error = _overall(answers)
    mx = mx_hosts(answers["MX"].rrs, MAX_HOSTS)
    ns = sorted({rr.rstrip(".").lower() for rr in answers["NS"].rrs})[:MAX_HOSTS]
    mx_info, ns_info = await asyncio.gather(_host_addresses(ctx, mx), _host_addresses(ctx, ns))
    data: dict[str, Any] = {
        "domain": ctx.domain,
        "queries": {t: a.to_dict() for t, a in answers.items()},
        "cname_chain": answers["A"].cname_chain or answers["AAAA"].cname_chain,
        "www": {"name": www, "A": results[-2].to_dict(), "AAAA": results[-1].to_dict()},
        "mx_hosts": mx_info,
        "null_mx": any(rr.split()[1:] == ["."] for rr in answers["MX"].rrs),
        "ns_hosts": ns_info,
        "ad": {t: a.ad for t, a in answers.items() if a.status is Status.OK},
    }
    return [Evidence("dns", ctx.domain, status, data, error=error, schema_version=SCHEMA_VERSION)]
