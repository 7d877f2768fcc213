"""Sovereignty level of one dependency, from its operator and infrastructure in the KB (docs/methodology.md).

- ``undetermined``: no operator (evidence did not show one).
- ``extraterritorial``: the operator or the infrastructure beneath is reached by a law of extraterritorial
  reach (US CLOUD Act, FISA 702, UK IPA, PRC laws…) through its control chain on the date asked.
- ``exposed``: no such law, but an entity of the control chain is headquartered outside the European area, or
  the offer runs technology licensed from a non-European entity (Bleu, S3NS) without a qualification.
- ``qualified``: European control and the service is known to run on an offer qualified under a scheme of
  ``levels.qualified_schemes`` (SecNumCloud) on that date — known from a declaration that names the offer's
  operator, since network evidence cannot show which offer of a provider is used.
- ``european``: controlled from the European area, nothing above.

The organisation itself (``self``) is a European public body: its own servers are ``european`` unless the
infrastructure beneath them brings a worse level.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from souverain.kb.jurisdiction import controllers
from souverain.kb.load import KB
from souverain.policy.load import Policy

__all__ = ["LevelResult", "Leveller"]


@dataclass(frozen=True, slots=True)
class LevelResult:
    level: str
    why: str
    laws: tuple[str, ...] = ()
    via: tuple[str, ...] = ()


class Leveller:
    def __init__(self, kb: KB, policy: Policy, on: dt.date) -> None:
        self.kb, self.policy, self.on = kb, policy, on
        self._cache: dict[tuple[Any, Any, bool, Any], LevelResult] = {}
        self._reach = frozenset(law.id for law in kb.laws.values() if law.reach == "extraterritorial")

    def _non_european(self, entity: str) -> tuple[str, ...] | None:
        """A control path from ``entity`` to an entity headquartered outside the European area, if any."""
        for path in controllers(self.kb, entity, self.on):
            ent = self.kb.entities.get(path[-1])
            if ent is not None and ent.country not in self.policy.european_area:
                return path
        return None

    def _foreign_technology(self, entity: str) -> str | None:
        ent = self.kb.entities.get(entity)
        if ent is None:
            return None
        for tech, _src in ent.technology_from:
            if self._non_european(tech) is not None:
                return tech
        return None

    def qualified_offer(self, entity: str, role: str) -> str | None:
        """Id of an offer of ``entity`` for ``role`` qualified on the date, if the KB knows one."""
        ent = self.kb.entities.get(entity)
        if ent is None:
            return None
        for offer in ent.offers:
            if offer.roles and role not in offer.roles:
                continue
            for cert in offer.certifications:
                if (
                    cert.scheme in self.policy.qualified_schemes
                    and cert.status == "qualified"
                    and cert.active(self.on)
                ):
                    return offer.id
        return None

    def level(self, dep: dict[str, Any], *, declared_offer: bool = False) -> LevelResult:
        """Level of a stored dependency row (``operator``, ``infrastructure``, ``exposures``, ``role``)."""
        key = (dep.get("operator"), dep.get("infrastructure"), declared_offer, dep.get("role"))
        cached = self._cache.get(key)
        if cached is None:
            operator, infra, role = key[0], key[1], str(key[3])
            cached = self._level(operator, infra, role, dep.get("exposures") or [], declared_offer)
            self._cache[key] = cached
        return cached

    def _level(
        self,
        operator: str | None,
        infra: str | None,
        role: str,
        exposures: list[dict[str, Any]],
        declared: bool,
    ) -> LevelResult:
        if operator is None:
            return LevelResult("undetermined", "no operator shown by the evidence")
        reach = self._reach
        laws = tuple(sorted({e["law"] for e in exposures if e.get("law") in reach}))
        if laws:
            first = next(e for e in exposures if e.get("law") in reach)
            through = first.get("through", "operator")
            return LevelResult(
                "extraterritorial",
                f"{through} reached by {', '.join(laws)}",
                laws,
                tuple(first.get("via") or ()),
            )
        for ent, through in ((operator, "operator"), (infra, "infrastructure")):
            if ent is None or ent == "self":
                continue
            path = self._non_european(ent)
            if path is not None:
                country = self.kb.entities[path[-1]].country
                return LevelResult("exposed", f"{through} controlled from {country}", via=path)
        tech = self._foreign_technology(operator) if operator != "self" else None
        offer = self.qualified_offer(operator, role) if operator != "self" else None
        if tech is not None and not (declared and offer):
            return LevelResult("exposed", f"technology licensed from {tech} (outside the European area)")
        if declared and offer:
            return LevelResult("qualified", f"declared on {operator}, whose offer {offer} is qualified")
        if operator == "self":
            return LevelResult(
                "european", "run by the organisation itself" + (f" on {infra}" if infra else "")
            )
        return LevelResult("european", "controlled from the European area")
