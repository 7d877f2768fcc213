"""``mail`` probe: evidence ``spf``, ``dmarc``, ``dkim``, ``mta-sts``, ``tls-rpt`` and ``autodiscover``."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from souverain.evidence import Evidence, Status
from souverain.net import DnsAnswer
from souverain.parsers.dmarc import parse_dmarc, select_dmarc
from souverain.parsers.html import registrable_domain
from souverain.parsers.mtasts import parse_sts_policy, parse_sts_txt, parse_tlsrpt
from souverain.parsers.tags import parse_tag_list
from souverain.probes.base import ProbeContext, register
from souverain.probes.common import SharedBudget, evidence_part, mx_hosts
from souverain.probes.mtasts_fetch import fetch_sts_policy
from souverain.probes.spf_tree import spf_evidence

SCHEMA_VERSION = 1
BUDGET_S = 20.0
Result = tuple[Status, dict[str, Any], str | None]


def _failed(answer: DnsAnswer) -> Result | None:
    """A query that did not get an answer becomes the evidence's status."""
    if answer.status in (Status.TIMEOUT, Status.ERROR, Status.REFUSED):
        return answer.status, {"query": answer.to_dict()}, answer.error or f"rcode {answer.rcode}"
    return None


async def _dmarc(ctx: ProbeContext) -> Result:
    names = [f"_dmarc.{ctx.domain}"]
    org = registrable_domain(ctx.domain)
    if org != ctx.domain:
        names.append(f"_dmarc.{org}")
    queried: list[dict[str, Any]] = []
    for name in names:
        answer = await ctx.net.dns.query(name, "TXT")
        queried.append({"name": name, **answer.to_dict()})
        raw, multiple = select_dmarc(answer.rrs)
        if raw is not None:
            record = parse_dmarc(raw).to_dict()
            if multiple:
                record["errors"].append(multiple)
                record["valid"] = False
            data = {"found_at": name, "inherited": name != names[0], "record": record, "queried": queried}
            return Status.OK, data, None
        if (failed := _failed(answer)) is not None:
            return failed[0], {"found_at": None, "queried": queried}, failed[2]
    return Status.NOT_FOUND, {"found_at": None, "record": None, "queried": queried}, "no DMARC record"


def _dkim_key(txt: str) -> dict[str, Any]:
    tags = dict(parse_tag_list(txt)[0])
    k = tags.get("k", "rsa").lower()
    info: dict[str, Any] = {"k": k, "has_key": bool(tags.get("p"))}
    if "p" in tags and not tags["p"]:
        info["revoked"] = True
    if tags.get("p"):
        info.update(_dkim_key_facts(k, "".join(tags["p"].split())))
    return info


def _dkim_key_facts(k: str, p: str) -> dict[str, Any]:
    """Size of a DKIM public key, or why no verifier can use it: RFC 6376 knows ``rsa`` (DER of the key),
    RFC 8463 ``ed25519`` (the 32 bytes of the key)."""
    if k not in ("rsa", "ed25519"):
        return {"key_error": f"k={k[:20]} is not a DKIM key type (rsa, ed25519)"}
    try:
        raw = base64.b64decode(p, validate=False)
        if k == "ed25519":
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
            return {"key_bits": 256}
        key = load_der_public_key(raw)
    except (ValueError, TypeError):
        return {"key_error": "undecodable public key"}
    if not isinstance(key, rsa.RSAPublicKey):
        return {"key_error": "k=rsa but the public key is not an RSA key"}
    return {"key_bits": key.key_size}


_LOOKUP_FAILED = frozenset({Status.ERROR, Status.TIMEOUT, Status.REFUSED})


async def _dkim(ctx: ProbeContext) -> Result:
    base = await ctx.net.dns.query(f"_domainkey.{ctx.domain}", "TXT")
    data: dict[str, Any] = {"selectors": []}
    if base.status is Status.NOT_FOUND:  # RFC 8020: nothing exists below an NXDOMAIN name
        data["domainkey_nxdomain"] = True
        return Status.NOT_FOUND, data, "_domainkey does not exist (NXDOMAIN)"
    selectors = ctx.net.config.dkim_selectors
    names = [f"{s}._domainkey.{ctx.domain}" for s in selectors]
    answers = await asyncio.gather(*(ctx.net.dns.query(n, "TXT") for n in names))
    found = unusable = 0
    for selector, answer in zip(selectors, answers, strict=True):
        item: dict[str, Any] = {"selector": selector, "status": str(answer.status)}
        if answer.cname_chain:
            item["cname_chain"] = answer.cname_chain
        records = [r for r in answer.rrs if "p=" in r or "v=dkim1" in r.lower()]
        if records:
            item.update(_dkim_key(records[0]))
            usable = item["has_key"] and "key_error" not in item
            found, unusable = found + usable, unusable + (item["has_key"] and not usable)
        if answer.status is not Status.NOT_FOUND or answer.cname_chain:
            data["selectors"].append(item)
    data["keys_found"] = found  # keys a verifier can use (before mail v2: every published key)
    data["keys_unusable"] = unusable
    if found or unusable:  # keys were observed: the check says whether they can be used
        return Status.OK, data, None
    failed = [a.status for a in (base, *answers) if a.status in _LOOKUP_FAILED]
    if failed:  # no key seen, but not every name could be asked: an absence was not observed
        return (
            failed[0],
            data,
            f"DKIM lookups failed ({failed[0]}) for {len(failed)} of {len(names) + 1} names",
        )
    return Status.NOT_FOUND, data, "no DKIM key at the configured selectors"


async def _tagged_txt(
    ctx: ProbeContext, name: str, prefix: str, parse: Callable[[str], dict[str, Any]], label: str
) -> tuple[Result | None, dict[str, Any] | None]:
    """The TXT record at ``name`` starting with ``prefix``, parsed: (DNS failure, record or None)."""
    answer = await ctx.net.dns.query(name, "TXT")
    if (failed := _failed(answer)) is not None:
        return failed, None
    records = [r for r in answer.rrs if r.lower().startswith(prefix)]
    if not records:
        return None, None
    parsed = parse(records[0]) | {"raw": records[0][:512]}
    if len(records) > 1:
        parsed["errors"].append(f"{len(records)} {label} records")
        parsed["valid"] = False
    return None, parsed


async def _mta_sts(ctx: ProbeContext) -> Result:
    failed, txt = await _tagged_txt(ctx, f"_mta-sts.{ctx.domain}", "v=stsv1", parse_sts_txt, "MTA-STS")
    if failed is not None:
        return failed
    if txt is None:
        return Status.NOT_FOUND, {"txt": None}, "no MTA-STS record"
    data: dict[str, Any] = {"txt": txt}
    data.update(await fetch_sts_policy(ctx.net, ctx.domain))
    text = data.pop("policy_text", None)
    if text is not None:
        policy = parse_sts_policy(text)
        data["policy"] = policy.to_dict()
        mx = mx_hosts((await ctx.net.dns.query(ctx.domain, "MX")).rrs)
        data["mx_covered"] = {host: policy.mx_matches(host) for host in mx}
    return Status.OK, data, None


async def _tls_rpt(ctx: ProbeContext) -> Result:
    failed, parsed = await _tagged_txt(ctx, f"_smtp._tls.{ctx.domain}", "v=tlsrptv1", parse_tlsrpt, "TLS-RPT")
    if failed is not None:
        return failed
    if parsed is None:
        return Status.NOT_FOUND, {"record": None}, "no TLS-RPT record"
    return Status.OK, {"record": parsed}, None


async def _autodiscover(ctx: ProbeContext) -> Result:
    host = f"autodiscover.{ctx.domain}"
    a, srv = await asyncio.gather(
        ctx.net.dns.query(host, "A"), ctx.net.dns.query(f"_autodiscover._tcp.{ctx.domain}", "SRV")
    )
    data = {"host": host, "cname_chain": a.cname_chain, "a": a.to_dict(), "srv": srv.to_dict()}
    if a.cname_chain or a.rrs or srv.rrs:
        return Status.OK, data, None
    if a.status is Status.TIMEOUT and srv.status is Status.TIMEOUT:
        return Status.TIMEOUT, data, "no answer from the resolver"
    return Status.NOT_FOUND, data, "no autodiscover record"


async def _spf(ctx: ProbeContext) -> Result:
    return await spf_evidence(ctx.net, ctx.domain)


_PARTS: dict[str, Callable[[ProbeContext], Awaitable[Result]]] = {
    "spf": _spf,
    "dmarc": _dmarc,
    "dkim": _dkim,
    "mta-sts": _mta_sts,
    "tls-rpt": _tls_rpt,
    "autodiscover": _autodiscover,
}


@register("mail", version="2", roles=frozenset({"mail"}), budget_s=BUDGET_S, schema_version=SCHEMA_VERSION)
async def probe_mail(ctx: ProbeContext) -> list[Evidence]:
    """Six evidence items, one per mail mechanism; one failing never hides the others."""
    part_budget = BUDGET_S * 0.9
    shared = SharedBudget(part_budget)  # one timer for the six parts, each still timed out on its own
    try:
        parts = [
            evidence_part(
                name,
                ctx,
                partial(check, ctx),
                budget_s=part_budget,
                schema_version=SCHEMA_VERSION,
                shared=shared,
            )
            for name, check in _PARTS.items()
        ]
        return list(await asyncio.gather(*parts))  # gather runs each part in its own task
    finally:
        shared.close()
