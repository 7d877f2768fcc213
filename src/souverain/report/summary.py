"""Key facts of a target, extracted from its evidence for the report's tables (no interpretation)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from souverain.evidence import Evidence, Status, dig

__all__ = ["summarise_target"]

ENGLISH = {
    "dnssec_validated": "validated (AD)",
    "dnssec_not_validated": "not validated",
    "chain_valid": "chain valid",
    "chain_invalid": "chain INVALID ({error})",
    "hostname_mismatch": "hostname mismatch",
    "accepts": "accepts {versions}",
    "to_https": "http→https",
    "no_to_https": "no http→https redirect",
    "lookups": "{dns} DNS, {void} void",
    "state": "{status}: {error}",
}


def summarise_target(
    evidence: Sequence[Evidence],
    phrases: Mapping[str, str] = ENGLISH,
    status_name: Callable[[str], str] = str,
) -> dict[str, Any]:
    """Facts shown in tables: addresses, DNSSEC AD flag, MX, DMARC policy, TLS, HTTPS, third parties. The
    JSON files carry them in English with status codes; a French page gives ``phrases``, ``status_name``."""

    def state(ev: Evidence) -> str:
        name = status_name(str(ev.status))
        return phrases["state"].format(status=name, error=ev.error) if ev.error else name

    by_probe: dict[str, Evidence] = {}
    for ev in evidence:
        by_probe.setdefault(ev.probe, ev)
    out: dict[str, Any] = {}
    dns = by_probe.get("dns")
    if dns is not None:
        queries = dig(dns.data, "queries") or {}
        out["addresses"] = [*(dig(queries, "A", "rrs") or []), *(dig(queries, "AAAA", "rrs") or [])]
        out["cname_chain"] = dig(dns.data, "cname_chain") or []
        out["ns"] = [h.get("host") for h in dig(dns.data, "ns_hosts") or []]
        out["mx"] = [h.get("host") for h in dig(dns.data, "mx_hosts") or []]
        soa = dig(queries, "SOA")
        if dns.status is Status.OK and isinstance(soa, dict):
            out["dnssec"] = phrases["dnssec_validated" if soa.get("ad") else "dnssec_not_validated"]
        else:
            out["dnssec"] = state(dns)
    dmarc = by_probe.get("dmarc")
    if dmarc is not None:
        policy = dig(dmarc.data, "record", "p") or dig(dmarc.data, "policy")
        out["dmarc"] = (
            f"p={policy}" if dmarc.status is Status.OK and policy else status_name(str(dmarc.status))
        )
    spf = by_probe.get("spf")
    if spf is not None:
        out["spf"] = dig(spf.data, "record") if spf.status is Status.OK else status_name(str(spf.status))
        if spf.status is Status.OK:
            out["spf_lookups"] = phrases["lookups"].format(
                dns=dig(spf.data, "dns_lookups"), void=dig(spf.data, "void_lookups")
            )
    for probe in ("dkim", "mta-sts", "tls-rpt", "autodiscover"):
        if (item := by_probe.get(probe)) is not None:
            out[probe] = state(item)
    dkim = by_probe.get("dkim")
    if dkim is not None and dkim.status is Status.OK:
        out["dkim"] = ", ".join(str(sel.get("selector")) for sel in dig(dkim.data, "selectors") or [])
    tls = by_probe.get("tls")
    if tls is not None:
        out["tls"] = _tls_summary(tls, phrases, state)
    http = by_probe.get("http")
    if http is not None:
        out["https"] = _http_summary(http, phrases, state)
    page = by_probe.get("page")
    if page is not None:
        hosts = dig(page.data, "third_party") or {}
        out["third_party_count"] = len(hosts) if page.status is Status.OK else None
        out["third_parties"] = {
            host: ", ".join(item.get("kinds", [])) for host, item in sorted(hosts.items())
        }
        out["title"] = dig(page.data, "title")
        out["page"] = state(page)
    out["statuses"] = {ev.probe: status_name(str(ev.status)) for ev in evidence}
    return out


def _tls_summary(ev: Evidence, phrases: Mapping[str, str], state: Callable[[Evidence], str]) -> str:
    if ev.status is not Status.OK:
        return state(ev)
    endpoints = dig(ev.data, "endpoints") or []
    if not endpoints:
        return "ok"
    first = endpoints[0]
    if first.get("status") != "ok":
        return f"{first.get('status')}: {first.get('error')}"
    chain = first.get("chain") or [{}]
    accepted = [v for v, ok in (dig(first, "versions", "accepted") or {}).items() if ok]
    parts = [str(first.get("version")), str(chain[0].get("issuer_org") or chain[0].get("issuer"))]
    valid = first.get("chain_valid")
    parts.append(
        phrases["chain_valid"]
        if valid
        else phrases["chain_invalid"].format(error=first.get("validation_error"))
    )
    if not first.get("hostname_match"):
        parts.append(phrases["hostname_mismatch"])
    if accepted:
        parts.append(phrases["accepts"].format(versions="/".join(accepted)))
    return ", ".join(parts)


def _http_summary(ev: Evidence, phrases: Mapping[str, str], state: Callable[[Evidence], str]) -> str:
    if ev.status is not Status.OK:
        return state(ev)
    final = dig(ev.data, "final_url") or ""
    parts = [f"{final} ({dig(ev.data, 'final_status')})"]
    parts.append(phrases["to_https" if dig(ev.data, "http_redirects_to_https") else "no_to_https"])
    if dig(ev.data, "headers", "hsts"):
        parts.append("HSTS")
    return ", ".join(parts)
