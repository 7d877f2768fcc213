"""Read the knowledge-base files, validate every field and build a :class:`KB`.

Problems are collected, not raised one by one: a :class:`~souverain.errors.KBError` carries all of them, each
as ``file:line: entity: field: problem``. Cross-entity consistency (one ASN → one operator, no dangling
parent…) is checked separately by :mod:`souverain.kb.check`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from souverain.errors import KBError
from souverain.kb.countries import ISO_ALPHA2
from souverain.kb.model import (
    ENTITY_KINDS,
    HOST_KINDS,
    REGISTRATION_KINDS,
    ROLES,
    SIGNATURE_KINDS,
    Certification,
    Entity,
    FrenchRegistration,
    Law,
    Offer,
    Ownership,
    Signature,
    Source,
)
from souverain.yamlio import YamlProblem, line_of, read_yaml

__all__ = ["KB", "default_kb_dir", "load_kb", "normalise_pattern"]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_CERT_SCHEMES = ("secnumcloud", "hds", "iso27001", "c5", "ens", "eucs", "other")
_CERT_STATUSES = ("qualified", "certified", "in-progress", "withdrawn")


def default_kb_dir() -> Path:
    """The knowledge base shipped with souverain."""
    return Path(str(resources.files("souverain.kb") / "data"))


@dataclass(slots=True)
class KB:
    """The loaded knowledge base. ``version`` is a digest of the files' content."""

    entities: dict[str, Entity]
    signatures: list[Signature]
    laws: dict[str, Law]
    files: list[Path]
    version: str
    offers: dict[str, Offer] = field(default_factory=dict)

    def entity(self, entity_id: str) -> Entity:
        return self.entities[entity_id]

    def signatures_of(self, entity_id: str) -> list[Signature]:
        return [s for s in self.signatures if s.entity == entity_id]

    def facts(self) -> Iterable[tuple[str, Source]]:
        """Every sourced fact: (what, source)."""
        for e in self.entities.values():
            yield f"{e.id}: identity", e.facts
            for o in e.owners:
                yield f"{e.id}: owned by {o.parent}", o.source
            for tech, src in e.technology_from:
                yield f"{e.id}: technology from {tech}", src
            for offer in e.offers:
                for c in offer.certifications:
                    yield f"{offer.id}: {c.scheme} {c.status}", c.source
            for reg in e.sirens:
                yield f"{e.id}: French registration {reg.siren} ({reg.name})", reg.source
        for s in self.signatures:
            yield f"{s.entity}: {s.kind} {s.value}", s.source
        for law in self.laws.values():
            yield f"law {law.id}", law.source


def normalise_pattern(kind: str, value: Any) -> str:
    """Normalise a signature value; raises ValueError with the reason when it is malformed."""
    if kind == "asn":
        if isinstance(value, str) and value.upper().startswith("AS"):
            value = value[2:]
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"ASN must be a number, got {value!r}") from None
        if not 0 < number < 2**32 or number in (23456, 65535, 4294967295) or 64496 <= number <= 65551:
            raise ValueError(f"AS{number} is reserved or out of range")
        return str(number)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    text: str = value.strip()
    if kind == "prefix":
        try:
            return str(ipaddress.ip_network(text, strict=True))
        except ValueError as exc:
            raise ValueError(f"not a network prefix: {exc}") from None
    if kind in HOST_KINDS:
        host = text.lower().rstrip(".")
        body = host[2:] if host.startswith("*.") else host
        labels = body.split(".")
        if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or len(body) > 253:
            raise ValueError(f"not a host name or '*.suffix' pattern: {text!r}")
        return host
    if kind == "header":
        name, _, prefix = text.partition(":")
        name = name.strip().lower()
        if not re.fullmatch(r"[a-z0-9-]+", name):
            raise ValueError(f"not an HTTP header name: {name!r}")
        return f"{name}:{prefix.strip().lower()}" if prefix.strip() else name
    if kind in ("issuer", "txt"):
        return text
    raise ValueError(f"unknown signature kind {kind!r}")


class _Reader:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.entities: dict[str, Entity] = {}
        self.signatures: list[Signature] = []
        self.laws: dict[str, Law] = {}

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # -- scalar helpers ---------------------------------------------------------------------------------
    def date(self, where: str, raw: Any, name: str, *, required: bool = False) -> dt.date | None:
        if raw is None:
            if required:
                self.fail(where, f"{name}: missing")
            return None
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if isinstance(raw, str):
            try:
                return dt.date.fromisoformat(raw)
            except ValueError:
                pass
        self.fail(where, f"{name}: not an ISO date (YYYY-MM-DD): {raw!r}")
        return None

    def source(self, where: str, raw: Any, what: str = "source") -> Source | None:
        if not isinstance(raw, dict):
            self.fail(where, f"{what}: expected a mapping with source and checked")
            return None
        url = raw.get("source")
        if not isinstance(url, str) or not url.strip():
            self.fail(where, f"{what}: missing source (URL or document)")
            return None
        checked = self.date(where, raw.get("checked"), f"{what}.checked", required=True)
        if checked is None:
            return None
        if checked > dt.date.today() + dt.timedelta(days=1):
            self.fail(where, f"{what}.checked: {checked} is in the future")
        verified = raw.get("verified", True)
        if not isinstance(verified, bool):
            self.fail(where, f"{what}.verified: expected true or false")
            verified = False
        note = raw.get("note") or ""
        return Source(url.strip(), checked, verified, str(note))

    # -- entities ------------------------------------------------------------------------------------------
    def entity(self, path: Path, raw: Any, index: int) -> None:
        if not isinstance(raw, dict):
            self.fail(f"{path}: entities[{index}]", "expected a mapping")
            return
        line = line_of(raw)
        eid = raw.get("id")
        where = f"{path}:{line}: {eid or f'entities[{index}]'}"
        if not isinstance(eid, str) or not _ID.match(eid):
            self.fail(where, f"id: expected a slug of lower-case letters, digits and dashes, got {eid!r}")
            return
        if eid in self.entities:
            self.fail(where, f"id: duplicate entity (first at {self.entities[eid].where})")
            return
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            self.fail(where, "name: missing legal name")
            name = eid
        kind = raw.get("kind", "company")
        if kind not in ENTITY_KINDS:
            self.fail(where, f"kind: unknown {kind!r} (expected one of {', '.join(ENTITY_KINDS)})")
        country = raw.get("country")
        if not isinstance(country, str) or country.upper() not in ISO_ALPHA2 or country != country.upper():
            self.fail(where, f"country: not an ISO 3166-1 alpha-2 code in capitals: {country!r}")
            country = "ZZ"
        facts = self.source(where, raw.get("facts"), "facts")
        ids = raw.get("ids") or {}
        if not isinstance(ids, dict):
            self.fail(where, "ids: expected a mapping")
            ids = {}
        ids = {str(k): str(v) for k, v in ids.items() if k != "__line__"}
        for key, value in ids.items():
            self._check_identifier(where, key, value)
        brands = raw.get("brands") or []
        if isinstance(brands, str):
            brands = [brands]
        owners = tuple(
            o for i, item in enumerate(raw.get("owners") or []) if (o := self.owner(where, item, i))
        )
        tech: list[tuple[str, Source]] = []
        for i, item in enumerate(raw.get("technology_from") or []):
            src = self.source(f"{where}: technology_from[{i}]", item)
            other = item.get("entity") if isinstance(item, dict) else None
            if not isinstance(other, str):
                self.fail(where, f"technology_from[{i}].entity: missing")
            elif src:
                tech.append((other, src))
        entity = Entity(
            id=eid,
            name=name.strip(),
            kind=str(kind),
            country=country,
            facts=facts or Source("", dt.date.min, False),
            brands=tuple(str(b) for b in brands),
            ids=ids,
            owners=owners,
            technology_from=tuple(tech),
            transit=bool(raw.get("transit", False)),
            listed=bool(raw.get("listed", False)),
            lab_fictional=bool(raw.get("lab_fictional", False)),
            note=str(raw.get("note") or ""),
            where=f"{path}:{line}",
        )
        entity.offers = tuple(
            offer
            for i, item in enumerate(raw.get("offers") or [])
            if (offer := self.offer(where, eid, item, i))
        )
        entity.sirens = tuple(
            reg
            for i, item in enumerate(raw.get("sirens") or [])
            if (reg := self.registration(path, where, item, i))
        )
        self.entities[eid] = entity
        for i, sig in enumerate(raw.get("signatures") or []):
            self.signature(path, where, eid, sig, i)

    def _check_identifier(self, where: str, key: str, value: str) -> None:
        if key == "siren":
            from souverain.portfolio.validate import siren_problem

            if problem := siren_problem(value):
                self.fail(where, f"ids.siren: {problem}")
        elif key == "lei" and not re.fullmatch(r"[A-Z0-9]{18}[0-9]{2}", value):
            self.fail(where, f"ids.lei: not a 20-character LEI: {value!r}")
        elif key == "vat" and not re.fullmatch(r"[A-Z]{2}[A-Z0-9+*]{2,13}", value.replace(" ", "")):
            self.fail(where, f"ids.vat: not a VAT number with a country prefix: {value!r}")

    def registration(self, path: Path, where: str, raw: Any, i: int) -> FrenchRegistration | None:
        here = f"{where}: sirens[{i}]"
        if not isinstance(raw, dict):
            self.fail(here, "expected a mapping with siren, name, kind, source and checked")
            return None
        from souverain.portfolio.validate import siren_problem

        siren = raw.get("siren")
        if isinstance(siren, int):
            siren = f"{siren:09d}"
        if not isinstance(siren, str) or (problem := siren_problem(siren)):
            self.fail(here, f"siren: {problem if isinstance(siren, str) else 'expected a string'}: {siren!r}")
            return None
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            self.fail(here, "name: missing (the registered name)")
            return None
        kind = raw.get("kind")
        if kind not in REGISTRATION_KINDS:
            self.fail(here, f"kind: unknown {kind!r} (expected one of {', '.join(REGISTRATION_KINDS)})")
            return None
        category = raw.get("legal_category")
        if category is not None:
            category = str(category)
            if not re.fullmatch(r"\d{4}", category):
                self.fail(here, f"legal_category: expected 4 digits (INSEE legal category), got {category!r}")
                return None
        src = self.source(here, raw)
        if src is None:
            return None
        return FrenchRegistration(siren, name.strip(), str(kind), src, category, f"{path}:{line_of(raw)}")

    def owner(self, where: str, raw: Any, i: int) -> Ownership | None:
        here = f"{where}: owners[{i}]"
        if not isinstance(raw, dict):
            self.fail(here, "expected a mapping")
            return None
        parent = raw.get("parent")
        if not isinstance(parent, str) or not _ID.match(parent):
            self.fail(here, f"parent: expected an entity id, got {parent!r}")
            return None
        src = self.source(here, raw)
        share = raw.get("share")
        if share is not None and (not isinstance(share, (int, float)) or not 0 <= share <= 1):
            self.fail(here, f"share: expected a fraction between 0 and 1, got {share!r}")
            share = None
        control = raw.get("control", share is not None and share > 0.5)
        if not isinstance(control, bool):
            self.fail(here, "control: expected true or false")
            control = False
        since = self.date(here, raw.get("since"), "since")
        until = self.date(here, raw.get("until"), "until")
        if since and until and until <= since:
            self.fail(here, f"until {until} is not after since {since}")
        if src is None:
            return None
        return Ownership(parent, control, src, float(share) if share is not None else None, since, until)

    def offer(self, where: str, eid: str, raw: Any, i: int) -> Offer | None:
        here = f"{where}: offers[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not _ID.match(raw["id"]):
            self.fail(here, "expected a mapping with an id slug")
            return None
        roles = tuple(raw.get("roles") or ())
        for role in roles:
            if role not in ROLES:
                self.fail(here, f"roles: unknown role {role!r}")
        certs: list[Certification] = []
        for j, c in enumerate(raw.get("certifications") or []):
            chere = f"{here}: certifications[{j}]"
            if not isinstance(c, dict):
                self.fail(chere, "expected a mapping")
                continue
            scheme, status = c.get("scheme"), c.get("status")
            if scheme not in _CERT_SCHEMES:
                self.fail(chere, f"scheme: unknown {scheme!r} (expected one of {', '.join(_CERT_SCHEMES)})")
            if status not in _CERT_STATUSES:
                self.fail(chere, f"status: unknown {status!r} (expected one of {', '.join(_CERT_STATUSES)})")
            since = self.date(chere, c.get("since"), "since")
            until = self.date(chere, c.get("until"), "until")
            if since and until and until <= since:
                self.fail(chere, f"until {until} is not after since {since}")
            src = self.source(chere, c)
            if src and scheme in _CERT_SCHEMES and status in _CERT_STATUSES:
                certs.append(Certification(str(scheme), str(status), src, since, until))
        return Offer(raw["id"], eid, str(raw.get("name") or raw["id"]), roles, tuple(certs))

    def signature(self, path: Path, where: str, eid: str, raw: Any, i: int) -> None:
        here = f"{where}: signatures[{i}]"
        if not isinstance(raw, dict):
            self.fail(here, "expected a mapping")
            return
        kind = raw.get("kind")
        if kind not in SIGNATURE_KINDS:
            self.fail(here, f"kind: unknown {kind!r} (expected one of {', '.join(SIGNATURE_KINDS)})")
            return
        try:
            value = normalise_pattern(str(kind), raw.get("value"))
        except ValueError as exc:
            self.fail(here, f"value: {exc}")
            return
        role = raw.get("role")
        if role is None and kind not in ("asn", "prefix", "issuer", "caa"):
            self.fail(here, f"role: required for {kind} signatures")
        elif role is not None and role not in ROLES:
            self.fail(here, f"role: unknown {role!r}")
        if kind in ("issuer", "caa") and role is None:
            role = "certificate-authority"
        src = self.source(here, raw)
        shared = raw.get("shared_with") or []
        if isinstance(shared, str):
            shared = [shared]
        if src:
            self.signatures.append(
                Signature(
                    eid,
                    str(kind),
                    value,
                    role,
                    src,
                    tuple(shared),
                    f"{path}:{line_of(raw)}",
                    bool(raw.get("transit", False)),
                )
            )

    def extra_signature(self, path: Path, raw: Any, i: int) -> None:
        if not isinstance(raw, dict) or not isinstance(raw.get("entity"), str):
            self.fail(f"{path}: extra_signatures[{i}]", "expected a mapping with an entity id")
            return
        self.signature(path, f"{path}:{line_of(raw)}: {raw['entity']}", raw["entity"], raw, i)

    def law(self, path: Path, raw: Any, i: int) -> None:
        where = f"{path}:{line_of(raw)}: laws[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not _ID.match(raw["id"]):
            self.fail(where, "expected a mapping with an id slug")
            return
        countries = raw.get("countries") or []
        bad = [c for c in countries if c not in ISO_ALPHA2]
        if not countries or bad:
            self.fail(where, f"countries: expected ISO alpha-2 codes, got {countries!r}")
        src = self.source(where, raw)
        reach = raw.get("reach", "extraterritorial")
        if reach not in ("extraterritorial", "national"):
            self.fail(where, f"reach: unknown {reach!r}")
        if src:
            self.laws[raw["id"]] = Law(
                raw["id"],
                str(raw.get("name") or raw["id"]),
                tuple(countries),
                str(raw.get("summary") or ""),
                src,
                str(reach),
            )


def _files(dirs: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for d in dirs:
        if d.is_file():
            files.append(d)
            continue
        if not d.is_dir():
            raise KBError([f"{d}: knowledge-base directory not found"])
        files += sorted(p for p in d.rglob("*.yaml") if p.is_file())
    return files


def load_kb(dirs: Sequence[Path] | None = None, *, extra: Sequence[Path] = ()) -> KB:
    """Load the KB from ``dirs`` (default: the shipped one) plus ``extra`` directories or files (overlays)."""
    files = _files([*(dirs or [default_kb_dir()]), *extra])
    reader = _Reader()
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        try:
            doc = read_yaml(path)
        except YamlProblem as exc:
            reader.problems.append(str(exc))
            continue
        if doc is None:
            continue
        if not isinstance(doc, dict):
            reader.fail(str(path), "expected a mapping with 'entities', 'extra_signatures' or 'laws'")
            continue
        unknown = set(doc) - {"entities", "extra_signatures", "laws", "__line__"}
        if unknown:
            reader.fail(str(path), f"unknown top-level key(s): {', '.join(sorted(unknown))}")
        for i, raw in enumerate(doc.get("entities") or []):
            reader.entity(path, raw, i)
        for i, raw in enumerate(doc.get("laws") or []):
            reader.law(path, raw, i)
        for i, raw in enumerate(doc.get("extra_signatures") or []):
            reader.extra_signature(path, raw, i)
    if reader.problems:
        raise KBError(reader.problems)
    offers = {o.id: o for e in reader.entities.values() for o in e.offers}
    return KB(reader.entities, reader.signatures, reader.laws, files, digest.hexdigest()[:12], offers)
