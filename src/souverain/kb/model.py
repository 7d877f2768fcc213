"""Knowledge-base model: entities, ownership links, offers, signatures, laws — every fact with its source."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = [
    "DEPENDENCY_ROLES",
    "ENTITY_KINDS",
    "ROLES",
    "SIGNATURE_KINDS",
    "Certification",
    "Entity",
    "FrenchRegistration",
    "Law",
    "Offer",
    "Ownership",
    "Signature",
    "Source",
]

ROLES = (
    "web-hosting",
    "cdn",
    "dns-hosting",
    "mailbox",
    "mail-gateway",
    "outbound-mail",
    "identity-suite",
    "certificate-authority",
    "analytics",
    "advertising",
    "fonts",
    "video",
    "captcha",
    "forms",
    "chat",
    "maps",
    "payment",
    "consent",
    "social",
    "script-cdn",
    "saas-other",
)
DEPENDENCY_ROLES = (*ROLES, "third-party")
"""The roles a dependency can have: the KB's, and ``third-party`` for what a page loads."""
"""Roles a dependency can have (docs/kb.md)."""

ENTITY_KINDS = (
    "company",
    "public-operator",
    "public-body",
    "association",
    "foundation",
    "cooperative",
    "person",
    "fund",
)

HOST_KINDS = ("mx", "ns", "cname", "host", "autodiscover", "dkim", "spf", "caa", "maildomain")
SIGNATURE_KINDS = ("asn", "prefix", *HOST_KINDS, "header", "issuer", "txt")
"""``asn`` and ``prefix`` identify networks; the host kinds take hostname patterns; see docs/kb.md."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where a fact comes from and when it was checked; ``verified`` is False for weak or indirect sources."""

    url: str
    checked: dt.date
    verified: bool = True
    note: str = ""


def _within(since: dt.date | None, until: dt.date | None, on: dt.date) -> bool:
    return (since is None or since <= on) and (until is None or on < until)


@dataclass(frozen=True, slots=True)
class Ownership:
    """``parent`` holds ``share`` of the child (controls it when ``control``) from ``since`` to ``until``."""

    parent: str
    control: bool
    source: Source
    share: float | None = None
    since: dt.date | None = None
    until: dt.date | None = None

    def active(self, on: dt.date) -> bool:
        """True when the link holds on ``on`` (an unknown start counts as "always")."""
        return _within(self.since, self.until, on)


@dataclass(frozen=True, slots=True)
class Certification:
    scheme: str
    status: str
    source: Source
    since: dt.date | None = None
    until: dt.date | None = None

    def active(self, on: dt.date) -> bool:
        return _within(self.since, self.until, on)


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    entity: str
    name: str
    roles: tuple[str, ...]
    certifications: tuple[Certification, ...]


@dataclass(frozen=True, slots=True)
class Signature:
    """One way to recognise ``entity`` in evidence. ``value`` is normalised (lower-case host pattern…)."""

    entity: str
    kind: str
    value: str
    role: str | None
    source: Source
    shared_with: tuple[str, ...] = ()
    where: str = ""
    transit: bool = False
    """For ``asn``/``prefix``: a transit network; its traffic is other people's, so it attributes nothing."""
    """file:line of the fact, for messages."""


REGISTRATION_KINDS = ("subsidiary", "branch", "head-office")
"""How a French registration (SIREN) belongs to an entity: a French subsidiary it controls, a French branch
of a foreign company (legal category 31xx/32xx), or the entity's own French registration."""


@dataclass(frozen=True, slots=True)
class FrenchRegistration:
    """A SIREN through which the entity (or a company it controls) contracts in France."""

    siren: str
    name: str
    kind: str
    source: Source
    legal_category: str | None = None
    where: str = ""


@dataclass(slots=True)
class Entity:
    id: str
    name: str
    kind: str
    country: str
    facts: Source
    brands: tuple[str, ...] = ()
    ids: dict[str, str] = field(default_factory=dict)
    owners: tuple[Ownership, ...] = ()
    technology_from: tuple[tuple[str, Source], ...] = ()
    transit: bool = False
    listed: bool = False
    lab_fictional: bool = False
    note: str = ""
    offers: tuple[Offer, ...] = ()
    sirens: tuple[FrenchRegistration, ...] = ()
    """French registrations (subsidiaries and branches), each sourced."""
    where: str = ""

    @property
    def label(self) -> str:
        """Brand when there is one (what users know), else the legal name."""
        return self.brands[0] if self.brands else self.name


@dataclass(frozen=True, slots=True)
class Law:
    """A law with extraterritorial reach over entities controlled from ``countries``."""

    id: str
    name: str
    countries: tuple[str, ...]
    summary: str
    source: Source
    reach: str = "extraterritorial"
    """``extraterritorial`` (CLOUD Act class: compels data held anywhere) or ``national``."""
