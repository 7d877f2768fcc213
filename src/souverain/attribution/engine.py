"""Attribution: pure functions of (observation, KB, network tables, date) → dependencies.

The rules and their confidence are documented in docs/attribution.md; the short version:

- **high**: a provider-specific name — MX host, DKIM CNAME target, autodiscover target, CNAME chain of the web
  host, NS host, certificate issuer, third-party host — or an address inside a provider's *published* range.
- **medium**: an address whose origin AS belongs to a KB entity (not a transit network); a server in the
  organisation's own domain ("self-run"); a tenant proven by one TXT token plus one more signal.
- **none** (operator undetermined): nothing in the KB matches, the network is a transit network, a CDN hides
  the origin, signals disagree. Unknown stays unknown; the observatory never guesses.

SPF never decides alone: it is recorded as agreeing evidence when it names exactly one provider and another
signal names the same one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from souverain.attribution.observe import HostAddresses, Observation
from souverain.kb.index import SignatureIndex
from souverain.kb.jurisdiction import exposures
from souverain.kb.load import KB
from souverain.kb.model import Signature
from souverain.kb.networks import NetworkHit
from souverain.parsers.html import registrable_domain as _registrable_domain

__all__ = ["SELF", "Attributor", "Dependency", "NetworkLookup", "Reason", "body_dependencies"]

SELF = "self"
"""Operator id of a dependency run by the organisation itself (its own server in its own domain)."""

_CONF_ORDER = {"high": 3, "medium": 2, "low": 1, "none": 0}


SCOPE_ROLE = {"web": "web", "tls": "web", "page": "web", "mail": "mail"}
"""The domain role a dependency's scope (the rule that found it, ``Attributor.attribute``) belongs to; a
``dns`` dependency belongs to every role."""


def body_dependencies(
    domains: Sequence[Any], by_domain: Mapping[str, list[dict[str, Any]]], own: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The dependencies of one body: those found on each of its ``domains`` (``portfolio.Domain``) for the
    roles it declares there — a domain it lists for the web only is not its mailbox, even with MX records
    (a domain is scanned, and attributed, once for all the bodies that list it) — then its ``own`` (contact
    addresses)."""
    out: list[dict[str, Any]] = []
    for domain in domains:
        for dep in by_domain.get(domain.name, ()):
            role = SCOPE_ROLE.get(dep.get("scope") or "")
            if role is None or role in domain.roles:
                out.append(dep)
    return out + own


@lru_cache(maxsize=200_000)
def registrable_domain(host: str) -> str:
    return _registrable_domain(host)


def in_own_domain(host: str, domain: str) -> bool:
    """True when ``host`` belongs to the organisation's domain (same registrable domain)."""
    if host == domain or host.endswith("." + domain):
        return True
    return registrable_domain(host) == registrable_domain(domain)


class NetworkLookup(Protocol):
    """Anything with ``lookup(address) -> NetworkHit | None`` (see :mod:`souverain.kb.netdata`)."""

    def lookup(self, address: str) -> NetworkHit | None: ...


@dataclass(frozen=True, slots=True)
class Reason:
    signal: str
    """``mx``, ``dkim``, ``autodiscover``, ``spf``, ``txt``, ``cname``, ``ns``, ``issuer``, ``host``,
    ``header``, ``published-range``, ``asn``, ``own-domain``, ``transit``, ``no-match``, ``cdn-in-front``,
    ``conflict``, ``contact-address``."""
    value: str
    evidence: str
    """Where in the evidence: probe name and field path."""
    entity: str | None = None
    source: str | None = None
    """Source URL of the KB fact that matched."""
    verified: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"signal": self.signal, "value": self.value, "evidence": self.evidence}
        if self.entity:
            out["entity"] = self.entity
        if self.source:
            out["source"] = self.source
        if not self.verified:
            out["verified"] = False
        return out


@dataclass(slots=True)
class Dependency:
    role: str
    subject: str
    operator: str | None
    confidence: str
    reasons: list[Reason]
    infrastructure: str | None = None
    exposures: list[dict[str, Any]] = field(default_factory=list)
    scope: str = ""
    """What the dependency serves: ``web``, ``dns``, ``mail``, ``tls``, ``page`` (a third party loaded by
    the home page) or ``contact`` (a portfolio address)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "role": self.role,
            "subject": self.subject,
            "operator": self.operator,
            "infrastructure": self.infrastructure,
            "exposures": self.exposures,
            "confidence": self.confidence,
            "reasons": [r.to_dict() for r in self.reasons],
        }


@dataclass(frozen=True, slots=True)
class _Net:
    entity: str | None
    role: str | None
    confidence: str
    reason: Reason


def _reason(signal: str, value: str, evidence: str, sig: Signature | None = None) -> Reason:
    if sig is None:
        return Reason(signal, value, evidence)
    return Reason(signal, value, evidence, sig.entity, sig.source.url, sig.source.verified)


class Attributor:
    """Holds the KB index and the network tables; :meth:`attribute` is a pure function of its inputs."""

    def __init__(self, kb: KB, networks: NetworkLookup | None = None, on: dt.date | None = None) -> None:
        self.kb = kb
        self.index = SignatureIndex(kb)
        self.networks = networks
        self.on = on or dt.date.today()
        self._net_cache: dict[str, _Net] = {}
        self._exp_cache: dict[str, list[dict[str, Any]]] = {}
        self._exposure_pairs: dict[tuple[str | None, str | None], list[dict[str, Any]]] = {}

    # -- helpers -------------------------------------------------------------------------------------------
    def exposures_of(self, entity: str | None) -> list[dict[str, Any]]:
        if entity is None or entity == SELF or entity not in self.kb.entities:
            return []
        cached = self._exp_cache.get(entity)
        if cached is None:
            cached = [
                {"law": e.law, "via": list(e.via), "country": e.country, "verified": e.verified}
                for e in exposures(self.kb, entity, self.on)
            ]
            self._exp_cache[entity] = cached
        return cached

    def with_exposures(self, dep: Dependency) -> Dependency:
        """Set the dependency's exposures from its operator and infrastructure (cached per pair)."""
        key = (dep.operator, dep.infrastructure)
        cached = self._exposure_pairs.get(key)
        if cached is None:
            seen: set[str] = set()
            cached = []
            for through, ent in (("operator", dep.operator), ("infrastructure", dep.infrastructure)):
                for exp in self.exposures_of(ent):
                    if exp["law"] not in seen:
                        seen.add(exp["law"])
                        cached.append({**exp, "through": through})
            self._exposure_pairs[key] = cached
        dep.exposures = cached
        return dep

    def network(self, address: str, obs: Observation, evidence: str) -> _Net:
        """Who runs the network of ``address``: KB prefix or published range, then origin AS."""
        cached = self._net_cache.get(address)
        if cached is not None and address not in obs.origins:
            return cached
        hit = self.index.prefixes.lookup(address)
        if hit is None and self.networks is not None:
            hit = self.networks.lookup(address)
        if hit is None and address in obs.origins:
            asn, prefix = obs.origins[address]
            hit = NetworkHit(prefix, "origin-dns", asn)
        result = self._net_from_hit(address, hit, evidence)
        if address not in obs.origins:
            if len(self._net_cache) > 500_000:
                self._net_cache.clear()
            self._net_cache[address] = result
        return result

    def _net_from_hit(self, address: str, hit: NetworkHit | None, evidence: str) -> _Net:
        if hit is None:
            return _Net(None, None, "none", Reason("no-match", address, evidence))
        if hit.entity is not None:
            role = "cdn" if hit.service and self._cdn_service(hit) else None
            sig = self.index.prefix_signature(hit.prefix) if hit.source == "kb" else None
            reason = Reason(
                "published-range" if hit.source != "kb" else "prefix",
                f"{address} in {hit.prefix}" + (f" ({hit.service})" if hit.service else ""),
                evidence,
                hit.entity,
                sig.source.url if sig else hit.source,
            )
            if sig is not None and sig.transit:
                return _Net(None, None, "none", Reason("transit", reason.value, evidence, hit.entity))
            return _Net(hit.entity, role or (sig.role if sig else None), "high", reason)
        if hit.asn is None:
            return _Net(
                None, None, "none", Reason("no-match", f"{address} in {hit.prefix} (no AS)", evidence)
            )
        sig = self.index.asn.get(hit.asn)
        label = f"{address} in {hit.prefix}, AS{hit.asn}" + (f" {hit.as_name}" if hit.as_name else "")
        if sig is None:
            return _Net(None, None, "none", Reason("asn", label + " (AS not in the KB)", evidence))
        ent = self.kb.entities.get(sig.entity)
        if sig.transit or (ent is not None and ent.transit):
            return _Net(None, None, "none", _reason("transit", label + " (transit network)", evidence, sig))
        return _Net(sig.entity, sig.role, "medium", _reason("asn", label, evidence, sig))

    @staticmethod
    def _cdn_service(hit: NetworkHit) -> bool:
        return bool(hit.service) and hit.service in _CDN_SERVICES

    def _hosts(self, kind: str, names: Iterable[str], role: str | None = None) -> list[tuple[str, Signature]]:
        out = []
        for name in names:
            for sig in self.index.host(kind, name):
                if role is None or sig.role == role:
                    out.append((name, sig))
        return out

    # -- the rules -----------------------------------------------------------------------------------------
    def attribute(self, obs: Observation) -> list[Dependency]:
        deps: list[Dependency] = []
        rules = (
            ("web", self._web),
            ("dns", self._dns),
            ("mail", self._mail),
            ("mail", self._identity),
            ("tls", self._ca),
            ("page", self._third_parties),
        )
        for scope, rule in rules:
            for dep in rule(obs):
                dep.scope = scope
                deps.append(self.with_exposures(dep))
        return deps

    def _web(self, obs: Observation) -> list[Dependency]:
        if "web" not in obs.observed or not obs.web_addresses or obs.web_host is None:
            return []
        src = obs.sources.get("web", "dns")
        host = obs.web_host
        cname_sigs = self._hosts("cname", obs.web_cnames)
        cdn: tuple[str, str, list[Reason]] | None = None
        hosting: tuple[str | None, str, list[Reason]] | None = None
        for name, sig in cname_sigs:
            r = _reason("cname", name, f"{src} cname_chain", sig)
            if sig.role == "cdn" and cdn is None:
                cdn = (sig.entity, "high", [r])
            elif sig.role == "web-hosting" and hosting is None:
                hosting = (sig.entity, "high", [r])
        nets = [self.network(ip, obs, src) for ip in dict.fromkeys(obs.web_addresses)]
        entities = {n.entity for n in nets}
        net_reasons = [n.reason for n in nets]
        agreed = nets[0] if len(entities) == 1 else None
        infra = agreed.entity if agreed else None
        if cdn is None and agreed is not None and agreed.entity and agreed.role == "cdn":
            cdn = (agreed.entity, agreed.confidence, net_reasons)
        if cdn is None:
            hdr = self._header_cdn(obs)
            if hdr is not None and agreed is not None and agreed.entity == hdr[0]:
                cdn = (hdr[0], "high", [*net_reasons, hdr[1]])
        out: list[Dependency] = []
        if cdn is not None:
            hdr = self._header_cdn(obs)
            reasons = cdn[2] + ([hdr[1]] if hdr and hdr[0] == cdn[0] and hdr[1] not in cdn[2] else [])
            out.append(Dependency("cdn", host, cdn[0], cdn[1], reasons, infrastructure=cdn[0]))
            if hosting is None:
                hosting = (
                    None,
                    "none",
                    [Reason("cdn-in-front", f"{host} is served by {cdn[0]}", src, cdn[0])],
                )
            out.append(Dependency("web-hosting", host, hosting[0], hosting[1], hosting[2]))
            return out
        if hosting is not None:
            out.append(
                Dependency("web-hosting", host, hosting[0], hosting[1], hosting[2] + net_reasons, infra)
            )
            return out
        if agreed is None:
            reasons = [*net_reasons, Reason("conflict", "addresses in several networks", src)]
            out.append(Dependency("web-hosting", host, None, "none", reasons))
        else:
            out.append(Dependency("web-hosting", host, agreed.entity, agreed.confidence, net_reasons, infra))
        return out

    def _header_cdn(self, obs: Observation) -> tuple[str, Reason] | None:
        for name, value in obs.headers.items():
            sig = self.index.header(name, value)
            if sig is not None and sig.role == "cdn":
                return sig.entity, _reason(
                    "header", f"{name}: {value}"[:120], obs.sources.get("http", "http"), sig
                )
        return None

    def _dns(self, obs: Observation) -> list[Dependency]:
        if "ns" not in obs.observed or not obs.ns:
            return []
        src = obs.sources.get("ns", "dns")
        groups: dict[str | None, list[Reason]] = {}
        conf: dict[str | None, str] = {}
        infra: dict[str | None, str | None] = {}
        for ns in obs.ns:
            sigs = [s for s in self.index.host("ns", ns.host) if s.role in ("dns-hosting", None)]
            if sigs:
                key: str | None = sigs[0].entity
                groups.setdefault(key, []).append(_reason("ns", ns.host, src, sigs[0]))
                conf[key] = "high"
                infra.setdefault(key, key)
            elif in_own_domain(ns.host, obs.domain):
                net = self._first_net(ns, obs, src)
                groups.setdefault(SELF, []).append(Reason("own-domain", ns.host, src))
                if net is not None:
                    groups[SELF].append(net.reason)
                conf[SELF] = "medium"
                infra[SELF] = net.entity if net else None
            else:
                net = self._first_net(ns, obs, src)
                groups.setdefault(None, []).append(Reason("no-match", ns.host, src))
                conf[None] = "none"
                if net is not None:
                    groups[None].append(net.reason)
                    infra[None] = net.entity
        return [
            Dependency("dns-hosting", obs.domain, key, conf[key], reasons, infrastructure=infra.get(key))
            for key, reasons in groups.items()
        ]

    def _first_net(self, host: HostAddresses, obs: Observation, src: str) -> _Net | None:
        return self.network(host.addresses[0], obs, src) if host.addresses else None

    def _mail(self, obs: Observation) -> list[Dependency]:
        if "mx" not in obs.observed or obs.null_mx or not obs.mx:
            return []
        src_mx = obs.sources.get("mx", "dns.mx_hosts")
        deps: list[Dependency] = []
        gateways: dict[str, list[Reason]] = {}
        boxes: dict[str, list[Reason]] = {}
        unknown: list[HostAddresses] = []
        for mx in obs.mx:
            sigs = self.index.host("mx", mx.host)
            gw = next((s for s in sigs if s.role == "mail-gateway"), None)
            box = next((s for s in sigs if s.role == "mailbox"), None)
            if gw is not None:
                gateways.setdefault(gw.entity, []).append(_reason("mx", mx.host, src_mx, gw))
            elif box is not None:
                boxes.setdefault(box.entity, []).append(_reason("mx", mx.host, src_mx, box))
            else:
                unknown.append(mx)
        for ent, reasons in gateways.items():
            deps.append(Dependency("mail-gateway", obs.domain, ent, "high", reasons, infrastructure=ent))
        dkim = self._hosts("dkim", (t for _, t in obs.dkim))
        auto = self._hosts("autodiscover", obs.autodiscover)
        spf = {s.entity: (n, s) for n, s in self._hosts("spf", obs.spf_includes) if s.role == "mailbox"}
        strong: dict[str, list[Reason]] = {}
        for name, sig in dkim:
            if sig.role == "mailbox":
                strong.setdefault(sig.entity, []).append(
                    _reason("dkim", name, obs.sources.get("dkim", "dkim"), sig)
                )
        for name, sig in auto:
            if sig.role == "mailbox":
                strong.setdefault(sig.entity, []).append(
                    _reason("autodiscover", name, obs.sources.get("autodiscover", "autodiscover"), sig)
                )

        def spf_agrees(entity: str) -> list[Reason]:
            if len(spf) == 1 and entity in spf:
                name, sig = spf[entity]
                return [_reason("spf", name, obs.sources.get("spf", "spf"), sig)]
            return []

        if boxes:  # mail is delivered straight to a mailbox provider: the MX decides
            for ent, reasons in boxes.items():
                extra = strong.get(ent, []) + spf_agrees(ent)
                deps.append(
                    Dependency("mailbox", obs.domain, ent, "high", reasons + extra, infrastructure=ent)
                )
        elif unknown and not gateways:
            deps.append(self._self_or_unknown_mailbox(obs, unknown, src_mx))
        else:  # behind a gateway (or unknown MX beside one): look through it
            if len(strong) == 1:
                ent, reasons = next(iter(strong.items()))
                deps.append(
                    Dependency(
                        "mailbox", obs.domain, ent, "high", reasons + spf_agrees(ent), infrastructure=ent
                    )
                )
            else:
                why = (
                    Reason("conflict", ", ".join(sorted(strong)), "dkim/autodiscover")
                    if strong
                    else Reason("no-match", "no DKIM or autodiscover signal behind the gateway", src_mx)
                )
                deps.append(Dependency("mailbox", obs.domain, None, "none", [why]))
        return deps

    def _self_or_unknown_mailbox(
        self, obs: Observation, unknown: list[HostAddresses], src: str
    ) -> Dependency:
        first = unknown[0]
        net = self._first_net(first, obs, src)
        reasons: list[Reason] = []
        if all(in_own_domain(m.host, obs.domain) for m in unknown):
            reasons.append(Reason("own-domain", first.host, src))
            if net is not None:
                reasons.append(net.reason)
            return Dependency(
                "mailbox", obs.domain, SELF, "medium", reasons, infrastructure=net.entity if net else None
            )
        reasons.append(Reason("no-match", first.host, src))
        if net is not None:
            reasons.append(net.reason)
        return Dependency(
            "mailbox", obs.domain, None, "none", reasons, infrastructure=net.entity if net else None
        )

    def _identity(self, obs: Observation) -> list[Dependency]:
        signals: dict[str, list[Reason]] = {}
        for record in obs.txt:
            sig = self.index.txt_token(record)
            if sig is not None and sig.role == "identity-suite":
                signals.setdefault(sig.entity, []).append(
                    _reason("txt", record[:60], obs.sources.get("txt", "dns.queries.TXT"), sig)
                )
        for kind, names, ev in (
            ("dkim", [t for _, t in obs.dkim], obs.sources.get("dkim", "dkim")),
            ("autodiscover", obs.autodiscover, obs.sources.get("autodiscover", "autodiscover")),
        ):
            for name, sig in self._hosts(kind, names, "identity-suite"):
                signals.setdefault(sig.entity, []).append(_reason(kind, name, ev, sig))
        if obs.tenant and obs.tenant.get("provider_host"):
            for sig in self.index.host("host", obs.tenant["provider_host"]):
                if sig.role == "identity-suite":
                    ev = obs.sources.get("tenant", "tenant")
                    signals.setdefault(sig.entity, []).append(
                        _reason("tenant", obs.tenant["tenant_id"], ev, sig)
                    )
        out = []
        for ent, reasons in signals.items():
            kinds = {r.signal for r in reasons}
            if kinds == {"txt"}:
                continue  # a verification token alone is weak: it proves a tenant was once set up
            conf = "high" if kinds & {"dkim", "tenant"} else "medium"
            out.append(Dependency("identity-suite", obs.domain, ent, conf, reasons, infrastructure=ent))
        return out

    def _ca(self, obs: Observation) -> list[Dependency]:
        if "tls" not in obs.observed or not obs.cert_issuer or obs.cert_self_issued:
            return []
        src = obs.sources.get("tls", "tls")
        sig = self.index.issuer(obs.cert_issuer)
        subject = obs.web_host or obs.domain
        if sig is None:
            return [
                Dependency(
                    "certificate-authority", subject, None, "none", [Reason("no-match", obs.cert_issuer, src)]
                )
            ]
        return [
            Dependency("certificate-authority", subject, sig.entity, "high",
                       [_reason("issuer", obs.cert_issuer, src, sig)], infrastructure=sig.entity)
        ]  # fmt: skip

    def _third_parties(self, obs: Observation) -> list[Dependency]:
        if "page" not in obs.observed:
            return []
        src = obs.sources.get("page", "page.third_party")
        out = []
        for host, kinds in obs.third_party.items():
            sigs = self.index.host("host", host)
            if sigs:
                sig = sigs[0]
                reason = _reason("host", f"{host} ({', '.join(kinds)})" if kinds else host, src, sig)
                out.append(Dependency(sig.role or "saas-other", host, sig.entity, "high", [reason]))
            else:
                reasons = [Reason("no-match", f"{host} ({', '.join(kinds)})" if kinds else host, src)]
                addrs = obs.third_party_addresses.get(host) or []
                net = self.network(addrs[0], obs, f"{src}.addresses") if addrs else None
                if net is not None:
                    reasons.append(net.reason)
                infra = net.entity if net else None
                out.append(Dependency("third-party", host, None, "none", reasons, infrastructure=infra))
        return out


_CDN_SERVICES = frozenset(
    {"CLOUDFRONT", "CLOUDFRONT_ORIGIN_FACING", "AzureFrontDoor.Frontend", "Fastly", "Cloudflare"}
)
