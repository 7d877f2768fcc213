"""Jurisdiction exposures derived from control: headquarters of the entity and of every entity that
controls it (up the ownership chain, on a given date) × the laws' countries. Nothing is typed per entity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import pairwise

from souverain.kb.load import KB

__all__ = ["Exposure", "controllers", "exposures"]


@dataclass(frozen=True, slots=True)
class Exposure:
    law: str
    via: tuple[str, ...]
    """Entity ids from the dependency's operator up to the entity whose headquarters brings the law."""
    country: str
    verified: bool = True
    """False when a link of the path, the headquarters bringing the law, or the law itself is unverified."""


def controllers(kb: KB, entity_id: str, on: dt.date) -> list[tuple[str, ...]]:
    """Every control path from ``entity_id`` upwards (the entity alone is the first path)."""
    paths: list[tuple[str, ...]] = [(entity_id,)]
    frontier: list[tuple[str, ...]] = [(entity_id,)]
    while frontier:
        nxt = []
        for path in frontier:
            ent = kb.entities.get(path[-1])
            if ent is None:
                continue
            for link in ent.owners:
                if (
                    link.control
                    and link.active(on)
                    and link.parent not in path
                    and link.parent in kb.entities
                ):
                    grown = (*path, link.parent)
                    paths.append(grown)
                    nxt.append(grown)
        frontier = nxt[:64]
    return paths


def _path_verified(kb: KB, path: tuple[str, ...], on: dt.date) -> bool:
    for child, parent in pairwise(path):
        links = [o for o in kb.entities[child].owners if o.parent == parent and o.control and o.active(on)]
        if not any(o.source.verified for o in links):
            return False
    return kb.entities[path[-1]].facts.verified


def exposures(kb: KB, entity_id: str, on: dt.date) -> list[Exposure]:
    """Laws reaching ``entity_id`` on ``on``, each with the shortest control path that brings it (a
    verified path is preferred to a shorter unverified one)."""
    found: dict[str, Exposure] = {}
    for path in controllers(kb, entity_id, on):
        country = kb.entities[path[-1]].country
        for law in kb.laws.values():
            if country not in law.countries:
                continue
            verified = _path_verified(kb, path, on) and law.source.verified
            known = found.get(law.id)
            if known is None or (verified and not known.verified):
                found[law.id] = Exposure(law.id, path, country, verified)
    return sorted(found.values(), key=lambda e: e.law)
