"""Data model of the lab world (pure data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Record = tuple[str, int, str, str]
"""(owner relative to the zone, '@' for the apex; ttl; type; rdata in presentation format)."""


def txt(value: str) -> str:
    """TXT rdata for ``value``, split into quoted character-strings of at most 255 bytes."""
    raw = value.encode()
    parts = [raw[i : i + 255].decode() for i in range(0, len(raw), 255)] or [""]
    return " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


@dataclass(slots=True)
class Site:
    """How nginx serves one domain."""

    ip: str
    https: bool
    provider: str
    tls: str | None
    ca: str | None
    redirect: str | None = None
    hsts: bool = False
    security_headers: bool = False
    cookie: bool = False
    robots_disallow: bool = False
    html: bytes = b""
    special: str | None = None


@dataclass(slots=True)
class Domain:
    """One domain of the world with its DNS data, web site and ground truth."""

    name: str
    display: str
    org: str
    roles: list[str]
    truth: dict[str, Any]
    records: list[Record] = field(default_factory=list)
    ns: list[str] = field(default_factory=list)
    glue: dict[str, str] = field(default_factory=dict)
    dnssec: str = "unsigned"
    site: Site | None = None
    mta_sts_policy: str | None = None
    tld_records: list[Record] = field(default_factory=list)
    zone: bool = True


@dataclass(slots=True)
class Org:
    """A public body as listed in the portfolio."""

    siren: str
    name: str
    kind: str
    commune: str | None
    departement: str | None
    region: str | None
    domains: list[tuple[str, list[str]]] = field(default_factory=list)
    contacts: list[str] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class World:
    seed: int
    size: int
    orgs: list[Org]
    domains: dict[str, Domain]
    hostile: list[dict[str, Any]]
    service_truth: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def blank_truth(org: str, roles: list[str]) -> dict[str, Any]:
    """The truth record of a domain before its profile fills it in (every key present, nothing hosted)."""
    return {
        "org": org,
        "roles": roles,
        "web_hosting": None,
        "web_network": None,
        "cdn": None,
        "dns_hosting": None,
        "mailbox": None,
        "mailbox_infra": None,
        "mail_gateway": None,
        "identity": None,
        "ca": None,
        "dnssec": "unsigned",
        "tls": None,
        "https": False,
        "third_parties": [],
        "addresses": {"A": [], "AAAA": []},
        "mx": [],
        "null_mx": False,
        "hostile": None,
        "robots_disallow": False,
        "hsts": False,
        "spf": None,
        "dmarc": None,
        "mta_sts": None,
        "tlsrpt": False,
        "caa": [],
        "ns": [],
    }
