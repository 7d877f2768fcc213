"""``souverain kb show``: an entity explained — identity, ownership chain, exposures, offers, signatures."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from souverain.errors import InputError
from souverain.kb.jurisdiction import controllers, exposures
from souverain.kb.load import KB
from souverain.kb.model import Entity, Source

__all__ = ["explain", "find_entity", "render_text"]


def find_entity(kb: KB, query: str) -> Entity:
    """By id, else by a unique case-insensitive match in legal name or brands."""
    if query in kb.entities:
        return kb.entities[query]
    if not query.strip():
        raise InputError("entity '': empty; give an id such as 'microsoft' or 'ovhcloud', or a name")
    q = query.casefold()
    hits = [
        e for e in kb.entities.values() if q in e.name.casefold() or any(q in b.casefold() for b in e.brands)
    ]
    exact = [e for e in hits if e.name.casefold() == q or any(b.casefold() == q for b in e.brands)]
    if len(exact) == 1:
        return exact[0]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise InputError(f"entity '{query}': not in the KB (try an id such as 'microsoft' or 'ovhcloud')")
    names = ", ".join(sorted(e.id for e in hits)[:12])
    raise InputError(f"entity '{query}': ambiguous, matches {names}")


def _src(s: Source) -> dict[str, Any]:
    out: dict[str, Any] = {"source": s.url, "checked": s.checked.isoformat(), "verified": s.verified}
    if s.note:
        out["note"] = s.note
    return out


def explain(kb: KB, entity: Entity, on: dt.date) -> dict[str, Any]:
    owners = [
        {
            "parent": o.parent,
            "parent_name": kb.entities[o.parent].name if o.parent in kb.entities else None,
            "share": o.share,
            "control": o.control,
            "since": o.since,
            "until": o.until,
            "active": o.active(on),
            **_src(o.source),
        }
        for o in entity.owners
    ]
    chains = [
        [f"{kb.entities[i].label} ({kb.entities[i].country})" for i in path]
        for path in controllers(kb, entity.id, on)
        if len(path) > 1
    ]
    exps = [
        {
            "law": e.law,
            "name": kb.laws[e.law].name,
            "path_verified": e.verified,
            "via": e.via,
            "country": e.country,
            **_src(kb.laws[e.law].source),
        }
        for e in exposures(kb, entity.id, on)
    ]
    sigs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in kb.signatures_of(entity.id):
        item = {"value": s.value, "role": s.role, **_src(s.source)}
        if s.transit:
            item["transit"] = True
        sigs[s.kind].append(item)
    subsidiaries = sorted(e.id for e in kb.entities.values() if any(o.parent == entity.id for o in e.owners))
    return {
        "id": entity.id,
        "name": entity.name,
        "brands": list(entity.brands),
        "kind": entity.kind,
        "country": entity.country,
        "ids": entity.ids,
        "sirens": [
            {"siren": r.siren, "name": r.name, "kind": r.kind, "legal_category": r.legal_category}
            | _src(r.source)
            for r in entity.sirens
        ],
        "facts": _src(entity.facts),
        "as_of": on.isoformat(),
        "owners": owners,
        "control_chains": chains,
        "exposures": exps,
        "technology_from": [{"entity": t, **_src(s)} for t, s in entity.technology_from],
        "offers": [
            {
                "id": o.id,
                "name": o.name,
                "roles": list(o.roles),
                "certifications": [
                    {
                        "scheme": c.scheme,
                        "status": c.status,
                        "since": c.since,
                        "until": c.until,
                        **_src(c.source),
                    }
                    for c in o.certifications
                ],
            }
            for o in entity.offers
        ],
        "signatures": dict(sigs),
        "subsidiaries": subsidiaries,
        "transit": entity.transit,
        "lab_fictional": entity.lab_fictional,
        "note": entity.note,
        "defined_at": entity.where,
    }


def _mark(item: dict[str, Any]) -> str:
    mark = "" if item.get("verified", True) else " [UNVERIFIED]"
    return f"— {item['source']} (checked {item['checked']}){mark}"


def render_text(doc: dict[str, Any]) -> str:
    lines = [f"{doc['name']}  [{doc['id']}]"]
    if doc["brands"]:
        lines.append(f"  brands: {', '.join(doc['brands'])}")
    lines.append(
        f"  {doc['kind']}, headquarters {doc['country']}"
        + (" — LAB FICTIONAL" if doc["lab_fictional"] else "")
    )
    for k, v in doc["ids"].items():
        lines.append(f"  {k.upper()}: {v}")
    lines.append(f"  identity {_mark(doc['facts'])}")
    for r in doc["sirens"]:
        category = f", legal category {r['legal_category']}" if r["legal_category"] else ""
        lines.append(f"  SIREN {r['siren']} {r['name']} ({r['kind']}{category}) {_mark(r)}")
    if doc["note"]:
        lines.append(f"  note: {doc['note']}")
    lines.append(f"\nOwnership (as of {doc['as_of']}):")
    if not doc["owners"]:
        lines.append("  no owner recorded (independent, listed without controller, or unknown)")
    for o in doc["owners"]:
        share = f"{o['share']:.0%}" if o["share"] is not None else "share unknown"
        period = f"{o['since'] or '?'} → {o['until'] or 'today'}"
        flags = ("controls" if o["control"] else "does not control") + ("" if o["active"] else ", not active")
        lines.append(
            f"  {o['parent_name'] or o['parent']} [{o['parent']}]: {share}, {flags}, {period} {_mark(o)}"
        )
    for chain in doc["control_chains"]:
        lines.append("  control chain: " + " → ".join(chain))
    lines.append("\nExposures:")
    if not doc["exposures"]:
        lines.append("  none derived (no controlling entity headquartered under a law of the KB)")
    for e in doc["exposures"]:
        link = "" if e["path_verified"] else " [path rests on an unverified fact]"
        lines.append(f"  {e['name']} via {' → '.join(e['via'])} ({e['country']}){link} {_mark(e)}")
    for t in doc["technology_from"]:
        lines.append(f"\nLicensed technology from {t['entity']} {_mark(t)}")
    if doc["offers"]:
        lines.append("\nOffers:")
    for o in doc["offers"]:
        lines.append(f"  {o['name']} [{o['id']}]")
        for c in o["certifications"]:
            lines.append(
                f"    {c['scheme']} {c['status']} {c['since'] or '?'} → {c['until'] or '…'} {_mark(c)}"
            )
    lines.append("\nSignatures:")
    if not doc["signatures"]:
        lines.append("  none")
    for kind, items in sorted(doc["signatures"].items()):
        for item in items:
            role = f" ({item['role']})" if item["role"] else ""
            transit = " TRANSIT" if item.get("transit") else ""
            lines.append(f"  {kind} {item['value']}{role}{transit} {_mark(item)}")
    if doc["subsidiaries"]:
        lines.append(f"\nOwns: {', '.join(doc['subsidiaries'])}")
    lines.append(f"\nDefined at {doc['defined_at']}")
    return "\n".join(lines)
