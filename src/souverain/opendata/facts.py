"""Key facts of a domain read from its evidence for the ``domains`` table (no interpretation: the hygiene
checks judge, this module only reads; shapes in docs/evidence.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from souverain.evidence import Evidence, Status, dig

__all__ = ["domain_facts", "joined"]

SEP = ";"


def joined(values: Any) -> str | None:
    """A list as one cell (``None`` when empty); items are kept in their order."""
    if not values:
        return None
    return SEP.join(str(v) for v in values if v is not None and v != "") or None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _first_ok_endpoint(tls: Evidence) -> dict[str, Any] | None:
    for ep in dig(tls.data, "endpoints") or []:
        if isinstance(ep, dict) and ep.get("status") == "ok":
            return ep
    return None


def domain_facts(evidence: Sequence[Evidence]) -> dict[str, Any]:
    """The ``domains`` columns that come from the evidence of one domain (absent evidence → null)."""
    by_probe: dict[str, Evidence] = {}
    for ev in evidence:
        by_probe.setdefault(ev.probe, ev)
    out: dict[str, Any] = {"probes": joined([f"{ev.probe}:{ev.status}" for ev in by_probe.values()])}
    if (dns := by_probe.get("dns")) is not None:
        queries = dig(dns.data, "queries") or {}
        soa = dig(queries, "SOA")
        out["dns_status"] = str(dns.status)
        out["dnssec_validated"] = (
            _bool(soa.get("ad")) if dns.status is Status.OK and isinstance(soa, dict) else None
        )
        out["addresses"] = joined([*(dig(queries, "A", "rrs") or []), *(dig(queries, "AAAA", "rrs") or [])])
        out["cname_chain"] = joined(dig(dns.data, "cname_chain"))
        out["ns_hosts"] = joined(
            h.get("host") for h in dig(dns.data, "ns_hosts") or [] if isinstance(h, dict)
        )
        out["mx_hosts"] = joined(
            h.get("host") for h in dig(dns.data, "mx_hosts") or [] if isinstance(h, dict)
        )
        out["null_mx"] = _bool(dig(dns.data, "null_mx")) if dns.status is Status.OK else None
    if (spf := by_probe.get("spf")) is not None:
        out["spf_status"] = str(spf.status)
        if spf.status is Status.OK:
            out["spf_all"] = _str(dig(spf.data, "all"))
            out["spf_dns_lookups"] = _int(dig(spf.data, "dns_lookups"))
    if (dmarc := by_probe.get("dmarc")) is not None:
        out["dmarc_status"] = str(dmarc.status)
        if dmarc.status is Status.OK:
            record = dig(dmarc.data, "record") or {}
            out["dmarc_policy"] = _str(record.get("effective_policy")) or _str(record.get("p"))
    if (dkim := by_probe.get("dkim")) is not None:
        out["dkim_status"] = str(dkim.status)
        selectors = dig(dkim.data, "selectors") or []
        out["dkim_selectors"] = joined(
            s.get("selector") for s in selectors if isinstance(s, dict) and s.get("status") == "ok"
        )
    if (sts := by_probe.get("mta-sts")) is not None:
        out["mta_sts_status"] = str(sts.status)
        if sts.status is Status.OK:
            out["mta_sts_mode"] = _str(dig(sts.data, "policy", "mode"))
    if (rpt := by_probe.get("tls-rpt")) is not None:
        out["tls_rpt_status"] = str(rpt.status)
    if (tls := by_probe.get("tls")) is not None:
        out["tls_status"] = str(tls.status)
        ep = _first_ok_endpoint(tls)
        if ep is not None:
            chain = ep.get("chain") or [{}]
            leaf = chain[0] if isinstance(chain[0], dict) else {}
            accepted = dig(ep, "versions", "accepted") or {}
            out["tls_version"] = _str(ep.get("version"))
            out["tls_versions_accepted"] = joined(v for v, ok in accepted.items() if ok is True)
            out["tls_cipher"] = _str(ep.get("cipher"))
            out["tls_issuer"] = _str(leaf.get("issuer_org")) or _str(leaf.get("issuer"))
            out["tls_chain_valid"] = _bool(ep.get("chain_valid"))
            out["tls_hostname_match"] = _bool(ep.get("hostname_match"))
    if (http := by_probe.get("http")) is not None:
        out["http_status"] = str(http.status)
        out["final_url"] = _str(dig(http.data, "final_url"))
        out["final_http_status"] = _int(dig(http.data, "final_status"))
        out["http_redirects_to_https"] = _bool(dig(http.data, "http_redirects_to_https"))
        hsts = dig(http.data, "headers", "hsts")
        if http.status is Status.OK:
            out["hsts"] = isinstance(hsts, dict) and hsts.get("valid") is True
            out["hsts_max_age"] = _int(hsts.get("max_age")) if isinstance(hsts, dict) else None
    if (page := by_probe.get("page")) is not None:
        out["page_status"] = str(page.status)
        if page.status is Status.OK:
            hosts = dig(page.data, "third_party") or {}
            out["third_party_count"] = len(hosts)
            out["third_party_hosts"] = joined(sorted(hosts))
    return out
