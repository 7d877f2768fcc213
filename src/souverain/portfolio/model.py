"""Portfolio model: the organisations to scan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "commune",
    "epci",
    "departement",
    "region",
    "ministere",
    "etablissement-public",
    "hopital",
    "other",
)
KIND_ALIASES = {
    "département": "departement",
    "région": "region",
    "ministère": "ministere",
    "établissement public": "etablissement-public",
    "etablissement public": "etablissement-public",
    "établissement-public": "etablissement-public",
    "hôpital": "hopital",
}
ROLES = ("web", "mail", "other")
DATA_CLASSES = ("sante", "nucleaire", "defense", "sensible-art31", "personnelles", "public")
SERVICE_ROLES = ("mailbox", "web-hosting", "identity-suite", "dns-hosting", "mail-gateway", "cdn")
"""Dependency roles a declared service can rest on."""


@dataclass(frozen=True, slots=True)
class Domain:
    name: str  # A-label, lower case, no trailing dot
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class DeclaredService:
    name: str
    data_classes: tuple[str, ...] = ()
    claimed_hosting: str | None = None
    role: str | None = None
    """Dependency role the service rests on (``mailbox``, ``web-hosting``…); compared with observations."""
    domain: str | None = None
    """Domain of the service (default: the organisation's first domain)."""


@dataclass(frozen=True, slots=True)
class Territory:
    commune: str | None = None
    departement: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Organisation:
    siren: str
    name: str
    kind: str
    territory: Territory = field(default_factory=Territory)
    domains: tuple[Domain, ...] = ()
    contacts: tuple[str, ...] = ()
    services: tuple[DeclaredService, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "siren": self.siren,
            "name": self.name,
            "kind": self.kind,
            "territory": {
                "commune": self.territory.commune,
                "departement": self.territory.departement,
                "region": self.territory.region,
            },
            "domains": [{"name": d.name, "roles": sorted(d.roles)} for d in self.domains],
            "contacts": list(self.contacts),
            "services": [
                {
                    "name": s.name,
                    "data_classes": list(s.data_classes),
                    "claimed_hosting": s.claimed_hosting,
                    "role": s.role,
                    "domain": s.domain,
                }
                for s in self.services
            ],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Organisation:
        terr = raw.get("territory") or {}
        return cls(
            siren=raw["siren"],
            name=raw["name"],
            kind=raw["kind"],
            territory=Territory(terr.get("commune"), terr.get("departement"), terr.get("region")),
            domains=tuple([Domain(d["name"], frozenset(d["roles"])) for d in raw.get("domains", ())]),
            contacts=tuple(raw.get("contacts", ())),
            services=tuple(
                [
                    DeclaredService(
                        s["name"],
                        tuple(s.get("data_classes", ())),
                        s.get("claimed_hosting"),
                        s.get("role"),
                        s.get("domain"),
                    )
                    for s in raw.get("services", ())
                ]
            ),
        )
