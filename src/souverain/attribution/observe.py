"""What attribution reads: the facts of one domain, taken from probe evidence or from imported records.

:class:`Observation` is also the documented line format of ``souverain import-evidence`` (docs/kb.md):
recorded evidence gathered elsewhere becomes one ``observation`` evidence item, and attribution treats both
sources alike.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from souverain.evidence import Evidence

__all__ = ["OBSERVATION_PROBE", "PROBES_READ", "HostAddresses", "Observation", "observation_from_evidence"]

OBSERVATION_PROBE = "observation"
"""Probe name of imported observations."""

PROBES_READ = frozenset(
    {OBSERVATION_PROBE, "dns", "spf", "dkim", "autodiscover", "tls", "http", "page", "origin", "tenant"}
)
"""The evidence attribution reads (the store loads only these when attributing a run)."""


@dataclass(slots=True)
class HostAddresses:
    host: str
    addresses: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Observation:
    """One domain's facts; every list may be empty when unobserved. ``sources`` maps each field to the
    evidence it came from (probe name and path), so a dependency's reasons can point to it."""

    domain: str
    web_host: str | None = None
    web_addresses: list[str] = field(default_factory=list)
    web_cnames: list[str] = field(default_factory=list)
    ns: list[HostAddresses] = field(default_factory=list)
    mx: list[HostAddresses] = field(default_factory=list)
    null_mx: bool = False
    spf: str | None = None
    spf_includes: list[str] = field(default_factory=list)
    dkim: list[tuple[str, str]] = field(default_factory=list)
    """(selector, last CNAME target) for selectors published through a CNAME."""
    autodiscover: list[str] = field(default_factory=list)
    """CNAME targets of autodiscover.<domain> and SRV targets of _autodiscover._tcp."""
    txt: list[str] = field(default_factory=list)
    cert_issuer: str | None = None
    cert_self_issued: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    third_party: dict[str, list[str]] = field(default_factory=dict)
    """Third-party host → resource kinds."""
    third_party_addresses: dict[str, list[str]] = field(default_factory=dict)
    """Third-party host → its addresses, when they were resolved."""
    tenant: dict[str, str] | None = None
    """``{"provider_host", "tenant_id"}`` when the tenant probe found one."""
    origins: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Address → (ASN, prefix) from a DNS origin lookup, when one was made."""
    observed: set[str] = field(default_factory=set)
    """What was observed (even if empty): ``web``, ``ns``, ``mx``, ``spf``, ``dkim``, ``autodiscover``,
    ``txt``, ``tls``, ``http``, ``page``."""
    sources: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["observed"] = sorted(self.observed)
        out["dkim"] = [{"selector": s, "target": t} for s, t in self.dkim]
        out["origins"] = {ip: {"asn": a, "prefix": p} for ip, (a, p) in self.origins.items()}
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Observation:
        """Inverse of :meth:`to_dict` (the import format); raises ValueError naming the bad field."""
        if not isinstance(raw.get("domain"), str) or not raw["domain"]:
            raise ValueError("domain: missing")

        def listed(name: str, what: str) -> list[Any]:
            value = raw.get(name) or []
            if not isinstance(value, list):  # a string would be read letter by letter
                raise ValueError(f"{name}: expected a list of {what}")
            return value

        def strings(name: str) -> list[str]:
            value = listed(name, "strings")
            if not all(isinstance(v, str) for v in value):
                raise ValueError(f"{name}: expected a list of strings")
            return [v.lower().rstrip(".") if name != "txt" else v for v in value]

        def addresses(name: str, value: Any) -> list[str]:
            if not isinstance(value, list):
                raise ValueError(f"{name}: addresses must be a list")
            for address in value:
                try:
                    ipaddress.ip_address(str(address))
                except ValueError:
                    raise ValueError(f"{name}: {str(address)[:80]!r} is not an IP address") from None
            return [str(a) for a in value]

        def hosts(name: str) -> list[HostAddresses]:
            out = []
            for item in listed(name, "host names or {host, addresses} objects"):
                if isinstance(item, str):
                    out.append(HostAddresses(item.lower().rstrip(".")))
                elif isinstance(item, dict) and isinstance(item.get("host"), str):
                    addrs = addresses(name, item.get("addresses") or [])
                    out.append(HostAddresses(item["host"].lower().rstrip("."), addrs))
                else:
                    raise ValueError(f"{name}: expected host names or {{host, addresses}} objects")
            return out

        dkim = []
        for item in listed("dkim", "{selector, target} objects"):
            if isinstance(item, dict) and isinstance(item.get("target"), str):
                dkim.append((str(item.get("selector", "")), item["target"].lower().rstrip(".")))
            else:
                raise ValueError("dkim: expected {selector, target} objects")
        third = raw.get("third_party") or {}
        if isinstance(third, list):
            third = {h: [] for h in third}
        if not isinstance(third, dict):
            raise ValueError("third_party: expected a list of hosts or a mapping host → kinds")
        origins = {}
        origin_items = raw.get("origins") or {}
        if not isinstance(origin_items, dict):
            raise ValueError("origins: expected address → {asn, prefix}")
        for ip, item in origin_items.items():
            if not isinstance(item, dict) or not isinstance(item.get("asn"), int):
                raise ValueError("origins: expected address → {asn, prefix}")
            addresses("origins", [ip])
            origins[str(ip)] = (int(item["asn"]), str(item.get("prefix", "")))
        third_addresses = raw.get("third_party_addresses") or {}
        if not isinstance(third_addresses, dict):
            raise ValueError("third_party_addresses: expected a mapping host → addresses")
        headers = raw.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError("headers: expected a mapping")
        obs = cls(
            domain=raw["domain"].lower().rstrip("."),
            web_host=raw.get("web_host"),
            web_addresses=addresses("web_addresses", strings("web_addresses")),
            web_cnames=strings("web_cnames"),
            ns=hosts("ns"),
            mx=hosts("mx"),
            null_mx=bool(raw.get("null_mx", False)),
            spf=raw.get("spf"),
            spf_includes=strings("spf_includes"),
            dkim=dkim,
            autodiscover=strings("autodiscover"),
            txt=strings("txt"),
            cert_issuer=raw.get("cert_issuer"),
            cert_self_issued=bool(raw.get("cert_self_issued", False)),
            headers={str(k).lower(): str(v) for k, v in headers.items()},
            third_party={str(h).lower(): list(k or []) for h, k in third.items()},
            third_party_addresses={
                str(h).lower(): addresses("third_party_addresses", v) for h, v in third_addresses.items()
            },
            origins=origins,
            tenant=raw.get("tenant") if isinstance(raw.get("tenant"), dict) else None,
        )
        observed = raw.get("observed")
        if observed is None:  # infer: a field given is a field observed
            observed = [n for n in ("ns", "mx", "spf", "dkim", "autodiscover", "txt") if raw.get(n)]
            if raw.get("web_addresses") or raw.get("web_cnames"):
                observed.append("web")
            if raw.get("spf_includes"):
                observed.append("spf")
            if raw.get("cert_issuer"):
                observed.append("tls")
            if raw.get("headers"):
                observed.append("http")
            if "third_party" in raw:
                observed.append("page")
        obs.observed = set(observed)
        if obs.web_host is None and obs.web_addresses:
            obs.web_host = obs.domain
        obs.sources = {k: OBSERVATION_PROBE for k in obs.observed}
        return obs


def _rrs(answer: Any) -> list[str]:
    if isinstance(answer, dict) and answer.get("status") == "ok":
        return [str(r) for r in answer.get("rrs") or []]
    return []


def _spf_includes(tree: dict[str, Any] | None, out: list[str], depth: int = 0) -> None:
    if not tree or depth > 10:
        return
    for child in tree.get("children") or []:
        if isinstance(child, dict) and child.get("domain"):
            out.append(str(child["domain"]).lower())
            _spf_includes(child, out, depth + 1)


def observation_from_evidence(domain: str, items: list[Evidence]) -> Observation:
    """Build the observation of ``domain`` from its stored evidence (any probe missing → field empty)."""
    obs = Observation(domain)
    by = {e.probe: e for e in items}
    if (imported := by.get(OBSERVATION_PROBE)) is not None:
        return Observation.from_dict(imported.data)
    src = obs.sources
    dns = by.get("dns")
    if dns is not None and dns.data:
        d = dns.data
        q = d.get("queries") or {}
        obs.ns = [HostAddresses(h["host"], list(h.get("addresses") or [])) for h in d.get("ns_hosts") or []]
        obs.mx = [HostAddresses(h["host"], list(h.get("addresses") or [])) for h in d.get("mx_hosts") or []]
        obs.null_mx = bool(d.get("null_mx"))
        obs.txt = _rrs(q.get("TXT"))
        for name, path in (("ns", "dns.ns_hosts"), ("mx", "dns.mx_hosts"), ("txt", "dns.queries.TXT")):
            if q.get(name.upper()) is not None:
                obs.observed.add(name)
                src[name] = path
        own = _rrs(q.get("A")) + _rrs(q.get("AAAA"))
        www = d.get("www") or {}
        www_addrs = _rrs(www.get("A")) + _rrs(www.get("AAAA"))
        if own:
            obs.web_host, obs.web_addresses = domain, own
            obs.web_cnames = list(d.get("cname_chain") or [])
            src["web"] = "dns.queries.A/AAAA"
        elif www_addrs:
            obs.web_host, obs.web_addresses = f"www.{domain}", www_addrs
            obs.web_cnames = list((www.get("A") or {}).get("cname_chain") or [])
            src["web"] = "dns.www.A/AAAA"
        obs.observed.add("web")
    spf = by.get("spf")
    if spf is not None:
        obs.observed.add("spf")
        src["spf"] = "spf.tree"
        obs.spf = spf.data.get("record")
        _spf_includes(spf.data.get("tree"), obs.spf_includes)
    dkim = by.get("dkim")
    if dkim is not None:
        obs.observed.add("dkim")
        src["dkim"] = "dkim.selectors"
        for sel in dkim.data.get("selectors") or []:
            chain = sel.get("cname_chain") or []
            if chain:
                obs.dkim.append((str(sel.get("selector")), str(chain[-1]).lower()))
    auto = by.get("autodiscover")
    if auto is not None:
        obs.observed.add("autodiscover")
        src["autodiscover"] = "autodiscover"
        obs.autodiscover = [str(c).lower() for c in auto.data.get("cname_chain") or []]
        for rr in _rrs(auto.data.get("srv")):
            parts = rr.split()
            if len(parts) == 4:
                obs.autodiscover.append(parts[3].lower().rstrip("."))
    tls = by.get("tls")
    if tls is not None and tls.status == "ok":
        obs.observed.add("tls")
        src["tls"] = "tls.endpoints[0].chain[0]"
        for ep in tls.data.get("endpoints") or []:
            chain = ep.get("chain") or []
            if ep.get("status") == "ok" and chain:
                leaf = chain[0]
                obs.cert_issuer = leaf.get("issuer_org")
                obs.cert_self_issued = bool(leaf.get("self_issued"))
                break
    http = by.get("http")
    if http is not None and http.status == "ok":
        obs.observed.add("http")
        src["http"] = "http.headers.server"
        obs.headers = {
            str(k).lower(): str(v) for k, v in ((http.data.get("headers") or {}).get("server") or {}).items()
        }
    page = by.get("page")
    if page is not None and page.status == "ok" and page.data.get("parsed", True):
        obs.observed.add("page")
        src["page"] = "page.third_party"
        third = page.data.get("third_party") or {}
        obs.third_party = {h: list(v.get("kinds") or []) for h, v in third.items()}
        obs.third_party_addresses = {h: list(v["addresses"]) for h, v in third.items() if v.get("addresses")}
    tenant = by.get("tenant")
    if tenant is not None and tenant.status == "ok" and tenant.data.get("tenant_id"):
        obs.tenant = {"provider_host": str(tenant.data.get("provider_host") or ""),
                      "tenant_id": str(tenant.data["tenant_id"])}  # fmt: skip
        src["tenant"] = "tenant.tenant_id"
    origin = by.get("origin")
    if origin is not None:
        for ip, item in (origin.data.get("addresses") or {}).items():
            if isinstance(item, dict) and item.get("asn"):
                obs.origins[ip] = (int(item["asn"]), str(item.get("prefix") or ""))
    return obs
