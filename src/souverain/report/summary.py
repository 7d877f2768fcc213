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
    tls = by_probe.get("tls")
    if tls is not None:
        out["tls"] = _tls_summary(tls)
    http = by_probe.get("http")
    if http is not None:
        out["https"] = _http_summary(http)
    page = by_probe.get("page")
    if page is not None:
        hosts = _get(page.data, "third_parties") or []
        out["third_party_count"] = len(hosts) if page.status is Status.OK else None
        out["third_parties"] = [h.get("host") if isinstance(h, dict) else h for h in hosts]
        out["page"] = str(page.status) + (f": {page.error}" if page.error else "")
    out["statuses"] = {ev.probe: str(ev.status) for ev in evidence}
    return out


def _tls_summary(ev: Evidence) -> str:
    if ev.status is not Status.OK:
        return f"{ev.status}" + (f": {ev.error}" if ev.error else "")
    data = ev.data
    version = _get(data, "negotiated", "version") or _get(data, "version")
    issuer = _get(data, "certificate", "issuer_organisation") or _get(data, "issuer_organisation")
    valid = _get(data, "chain_valid")
    parts = [str(p) for p in (version, issuer) if p]
    if valid is not None:
        parts.append("chain valid" if valid else "chain INVALID")
    return ", ".join(parts) or "ok"


def _http_summary(ev: Evidence) -> str:
    if ev.status is not Status.OK:
        return f"{ev.status}" + (f": {ev.error}" if ev.error else "")
    final = _get(ev.data, "final_url") or ""
    hsts = _get(ev.data, "headers", "hsts") or _get(ev.data, "hsts")
    parts = [str(final)]
    if hsts:
        parts.append("HSTS")
    return ", ".join(parts)
