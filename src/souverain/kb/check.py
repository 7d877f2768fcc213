"""Consistency of the knowledge base as a whole (``souverain kb check``)."""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from souverain.kb.load import KB

__all__ = ["consistency_problems"]


def consistency_problems(kb: KB) -> list[str]:
    """Every cross-entity problem, each as one line naming where it is."""
    problems: list[str] = []
    ents = kb.entities
    for e in ents.values():
        for o in e.owners:
            if o.parent not in ents:
                problems.append(f"{e.where}: {e.id}: owners: parent {o.parent!r} is not an entity of the KB")
            elif o.parent == e.id:
                problems.append(f"{e.where}: {e.id}: owners: an entity cannot own itself")
        for tech, _ in e.technology_from:
            if tech not in ents:
                problems.append(f"{e.where}: {e.id}: technology_from: {tech!r} is not an entity of the KB")
        if not e.facts.url:
            problems.append(f"{e.where}: {e.id}: facts: no source")
    problems += _cycles(kb)
    for s in kb.signatures:
        if s.entity not in ents:
            problems.append(f"{s.where}: signature {s.kind} {s.value}: entity {s.entity!r} is not in the KB")
        for other in s.shared_with:
            if other not in ents:
                problems.append(f"{s.where}: signature {s.kind} {s.value}: shared_with {other!r} is unknown")
    problems += _unique_signatures(kb)
    problems += _prefix_overlaps(kb)
    problems += _unique_sirens(kb)
    return problems


def _unique_sirens(kb: KB) -> list[str]:
    """One SIREN → one entity, across ``ids.siren`` and ``sirens`` (an entity may repeat its own SIREN)."""
    owners: dict[str, tuple[str, str]] = {}
    problems = []
    for e in kb.entities.values():
        own = [(e.ids["siren"], e.where)] if "siren" in e.ids else []
        listed = [(reg.siren, reg.where) for reg in e.sirens]
        seen_here: set[str] = set()
        for siren, where in own + listed:
            if siren in owners and owners[siren][0] != e.id:
                other, other_where = owners[siren]
                problems.append(f"{where}: {e.id}: SIREN {siren} is also claimed by {other} ({other_where})")
                continue
            if (siren, where) in listed and siren in seen_here and siren != e.ids.get("siren"):
                problems.append(f"{where}: {e.id}: SIREN {siren} is listed twice")
            seen_here.add(siren)
            owners.setdefault(siren, (e.id, where))
    return problems


def _cycles(kb: KB) -> list[str]:
    problems: list[str] = []
    for start in kb.entities.values():
        seen = [start.id]
        frontier = [o.parent for o in start.owners if o.parent in kb.entities]
        depth = 0
        while frontier and depth < 50:
            if start.id in frontier:
                problems.append(f"{start.where}: {start.id}: ownership cycle through {' → '.join(seen)}")
                break
            seen += frontier
            frontier = [o.parent for f in frontier for o in kb.entities[f].owners if o.parent in kb.entities]
            depth += 1
    return problems


def _unique_signatures(kb: KB) -> list[str]:
    """One ASN, prefix, host pattern, header, issuer → one entity, unless the overlap is declared
    (``shared_with`` on either side)."""
    claims: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    shared: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for s in kb.signatures:
        key = (s.kind, s.value.casefold())
        claims[key].setdefault(s.entity, s.where)
        shared[(*key, s.entity)] |= set(s.shared_with)
    problems = []
    for (kind, value), owners in claims.items():
        names = sorted(owners)
        undeclared = [
            (a, b)
            for i, a in enumerate(names)
            for b in names[i + 1 :]
            if b not in shared[(kind, value, a)] and a not in shared[(kind, value, b)]
        ]
        if undeclared:
            where = ", ".join(f"{e} ({w})" for e, w in sorted(owners.items()))
            problems.append(f"{kind} {value} is claimed by several entities without shared_with: {where}")
    return problems


def _prefix_overlaps(kb: KB) -> list[str]:
    nets = [(ipaddress.ip_network(s.value), s) for s in kb.signatures if s.kind == "prefix"]
    problems = []
    for i, (a, sa) in enumerate(nets):
        for b, sb in nets[i + 1 :]:
            if sa.entity != sb.entity and a.version == b.version and a.overlaps(b):
                if sb.entity in sa.shared_with or sa.entity in sb.shared_with:
                    continue
                problems.append(
                    f"{sa.where}: prefix {a} ({sa.entity}) overlaps {b} ({sb.entity}, {sb.where})"
                )
    return problems
