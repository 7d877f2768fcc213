"""Key facts of a target, extracted from its evidence for the report's tables (no interpretation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from souverain.evidence import Evidence, Status

__all__ = ["summarise_target"]


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def summarise_target(evidence: Sequence[Evidence]) -> dict[str, Any]:
    """Facts shown in tables: addresses, DNSSEC AD flag, MX, DMARC policy, TLS, HTTPS, third parties."""
    by_probe: dict[str, Evidence] = {}
    for ev in evidence:
        by_probe.setdefault(ev.probe, ev)
    out: dict[str, Any] = {}
    dns = by_probe.get("dns")
    if dns is not None:
        queries = _get(dns.data, "queries") or {}
        out["addresses"] = [*(_get(queries, "A", "rrs") or []), *(_get(queries, "AAAA", "rrs") or [])]
        out["cname_chain"] = _get(dns.data, "cname_chain") or []
        out["ns"] = [h.get("host") for h in _get(dns.data, "ns_hosts") or []]
        out["mx"] = [h.get("host") for h in _get(dns.data, "mx_hosts") or []]
        soa = _get(queries, "SOA")
        if dns.status is Status.OK and isinstance(soa, dict):
            out["dnssec"] = "validated (AD)" if soa.get("ad") else "not validated"
        else:
            out["dnssec"] = f"{dns.status}" + (f": {dns.error}" if dns.error else "")
    dmarc = by_probe.get("dmarc")
    if dmarc is not None:
        policy = _get(dmarc.data, "record", "p") or _get(dmarc.data, "policy")
        out["dmarc"] = f"p={policy}" if dmarc.status is Status.OK and policy else str(dmarc.status)
    spf = by_probe.get("spf")
    if spf is not None:
        out["spf"] = _get(spf.data, "record") if spf.status is Status.OK else str(spf.status)
        if spf.status is Status.OK:
            out["spf_lookups"] = f"{_get(spf.data, 'dns_lookups')} DNS, {_get(spf.data, 'void_lookups')} void"
    for probe in ("dkim", "mta-sts", "tls-rpt", "autodiscover"):
        if (item := by_probe.get(probe)) is not None:
            out[probe] = str(item.status) + (f": {item.error}" if item.error else "")
    dkim = by_probe.get("dkim")
    if dkim is not None and dkim.status is Status.OK:
        out["dkim"] = ", ".join(str(sel.get("selector")) for sel in _get(dkim.data, "selectors") or [])
    tls = by_probe.get("tls")
    if tls is not None:
        out["tls"] = _tls_summary(tls)
    http = by_probe.get("http")
    if http is not None:
        out["https"] = _http_summary(http)
    page = by_probe.get("page")
    if page is not None:
        hosts = _get(page.data, "third_party") or {}
        out["third_party_count"] = len(hosts) if page.status is Status.OK else None
        out["third_parties"] = {
            host: ", ".join(item.get("kinds", [])) for host, item in sorted(hosts.items())
        }
        out["title"] = _get(page.data, "title")
        out["page"] = str(page.status) + (f": {page.error}" if page.error else "")
    out["statuses"] = {ev.probe: str(ev.status) for ev in evidence}
    return out


def _tls_summary(ev: Evidence) -> str:
    if ev.status is not Status.OK:
        return f"{ev.status}" + (f": {ev.error}" if ev.error else "")
    endpoints = _get(ev.data, "endpoints") or []
    if not endpoints:
        return "ok"
    first = endpoints[0]
    if first.get("status") != "ok":
        return f"{first.get('status')}: {first.get('error')}"
    chain = first.get("chain") or [{}]
    accepted = [v for v, ok in (_get(first, "versions", "accepted") or {}).items() if ok]
    parts = [str(first.get("version")), str(chain[0].get("issuer_org") or chain[0].get("issuer"))]
    valid = first.get("chain_valid")
    parts.append("chain valid" if valid else f"chain INVALID ({first.get('validation_error')})")
    if not first.get("hostname_match"):
        parts.append("hostname mismatch")
    if accepted:
        parts.append("accepts " + "/".join(accepted))
    return ", ".join(parts)


def _http_summary(ev: Evidence) -> str:
    if ev.status is not Status.OK:
        return f"{ev.status}" + (f": {ev.error}" if ev.error else "")
    final = _get(ev.data, "final_url") or ""
    parts = [f"{final} ({_get(ev.data, 'final_status')})"]
    parts.append("http→https" if _get(ev.data, "http_redirects_to_https") else "no http→https redirect")
    if _get(ev.data, "headers", "hsts"):
        parts.append("HSTS")
    return ", ".join(parts)
