"""Who really sells: SIREN → KB entity → ultimate controller on a date (from the KB's dated ownership
chains), GLEIF level-2 relationship files as a second source, and the imports of reference files
(GLEIF, territories, legal units)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb

from souverain.errors import InputError
from souverain.kb.jurisdiction import controllers
from souverain.kb.load import KB
from souverain.procurement.identifiers import bloc_of, siren_valid
from souverain.procurement.store import load_rows

__all__ = [
    "ParentAt",
    "import_gleif",
    "import_legal_units",
    "import_territories",
    "kb_rows",
    "parent_at",
    "parent_timeline",
]

_BLOC_RANK = {"non_eu": 0, "eu": 1, "fr": 2, "unknown": 3}
"""When several control chains end in different places, the first of these wins (one non-European
controller is enough for non-European control)."""


@dataclass(frozen=True, slots=True)
class ParentAt:
    parent: str
    country: str
    bloc: str
    path: tuple[str, ...]
    verified: bool


def _active_control(kb: KB, entity_id: str, on: dt.date, path: tuple[str, ...]) -> bool:
    ent = kb.entities.get(entity_id)
    return bool(ent) and any(
        o.control and o.active(on) and o.parent in kb.entities and o.parent not in path
        for o in ent.owners  # type: ignore[union-attr]
    )


def _verified(kb: KB, path: tuple[str, ...], on: dt.date) -> bool:
    for child, parent in pairwise(path):
        links = [o for o in kb.entities[child].owners if o.parent == parent and o.control and o.active(on)]
        if not any(o.source.verified for o in links):
            return False
    return kb.entities[path[-1]].facts.verified


def parent_at(kb: KB, entity_id: str, on: dt.date, area: frozenset[str]) -> ParentAt:
    """The ultimate controller of ``entity_id`` on ``on`` (the entity itself when nobody controls it)."""
    paths = [p for p in controllers(kb, entity_id, on) if not _active_control(kb, p[-1], on, p)]
    best = min(
        paths,
        key=lambda p: (
            _BLOC_RANK[bloc_of(kb.entities[p[-1]].country, area)],
            -len(p),
            not _verified(kb, p, on),
            p[-1],
        ),
    )
    top = kb.entities[best[-1]]
    return ParentAt(top.id, top.country, bloc_of(top.country, area), best, _verified(kb, best, on))


def _ancestry_dates(kb: KB, entity_id: str) -> list[dt.date]:
    seen, frontier = {entity_id}, [entity_id]
    dates: set[dt.date] = set()
    while frontier:
        nxt = []
        for eid in frontier:
            for o in kb.entities[eid].owners:
                dates.update(d for d in (o.since, o.until) if d)
                if o.parent in kb.entities and o.parent not in seen:
                    seen.add(o.parent)
                    nxt.append(o.parent)
        frontier = nxt
    return sorted(dates)


def parent_timeline(
    kb: KB, entity_id: str, area: frozenset[str]
) -> list[tuple[dt.date | None, dt.date | None, ParentAt]]:
    """[valid_from, valid_to) intervals (None = unbounded) with the ultimate controller in each."""
    dates = _ancestry_dates(kb, entity_id)
    starts: list[dt.date | None] = [None, *dates]
    out: list[tuple[dt.date | None, dt.date | None, ParentAt]] = []
    for i, start in enumerate(starts):
        end = dates[i] if i < len(dates) else None
        on = start if start else (dates[0] - dt.timedelta(days=1) if dates else dt.date(2000, 1, 1))
        found = parent_at(kb, entity_id, on, area)
        if out and out[-1][2] == found:
            out[-1] = (out[-1][0], end, found)
        else:
            out.append((start, end, found))
    return out


KB_SIREN_COLUMNS = (
    ("siren", "VARCHAR"),
    ("entity", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("legal_category", "VARCHAR"),
    ("name", "VARCHAR"),
    ("verified", "BOOLEAN"),
)
KB_TIMELINE_COLUMNS = (
    ("entity", "VARCHAR"),
    ("valid_from", "DATE"),
    ("valid_to", "DATE"),
    ("parent", "VARCHAR"),
    ("parent_country", "VARCHAR"),
    ("parent_bloc", "VARCHAR"),
    ("path", "VARCHAR"),
    ("verified", "BOOLEAN"),
)
KB_ENTITY_COLUMNS = (
    ("entity", "VARCHAR"),
    ("name", "VARCHAR"),
    ("label", "VARCHAR"),
    ("country", "VARCHAR"),
    ("lei", "VARCHAR"),
    ("siren", "VARCHAR"),
)


def kb_rows(
    kb: KB, area: frozenset[str]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows of the three KB tables the SQL joins: French registrations, control timelines, entities."""
    sirens: list[tuple[Any, ...]] = []
    timeline: list[tuple[Any, ...]] = []
    entities: list[tuple[Any, ...]] = []
    for e in sorted(kb.entities.values(), key=lambda x: x.id):
        own = e.ids.get("siren")
        if own:
            sirens.append((own, e.id, "head-office", None, e.name, e.facts.verified))
        for reg in e.sirens:
            if reg.siren != own:
                sirens.append((reg.siren, e.id, reg.kind, reg.legal_category, reg.name, reg.source.verified))
        entities.append((e.id, e.name, e.label, e.country, e.ids.get("lei"), own))
        for start, end, p in parent_timeline(kb, e.id, area):
            timeline.append((e.id, start, end, p.parent, p.country, p.bloc, " → ".join(p.path), p.verified))
    return sirens, timeline, entities


def load_kb_tables(con: duckdb.DuckDBPyConnection, kb: KB, area: frozenset[str]) -> None:
    sirens, timeline, entities = kb_rows(kb, area)
    load_rows(con, "kb_sirens", KB_SIREN_COLUMNS, sirens, create=True)
    load_rows(con, "kb_timeline", KB_TIMELINE_COLUMNS, timeline, create=True)
    load_rows(con, "kb_entities", KB_ENTITY_COLUMNS, entities, create=True)


# -- GLEIF ---------------------------------------------------------------------------------------------------
_RA_SIREN = {"RA000189", "RA000192"}
"""GLEIF registration authorities whose entity id is a SIREN: INSEE's SIRENE and the RCS."""


def _dollar(value: Any) -> Any:
    return value.get("$") if isinstance(value, dict) and "$" in value else value


def _get(d: Any, *names: str) -> Any:
    """First present key among ``names`` (case-insensitive) in a GLEIF JSON object."""
    if not isinstance(d, dict):
        return None
    lower = {k.lower(): v for k, v in d.items()}
    for n in names:
        if n.lower() in lower:
            return _dollar(lower[n.lower()])
    return None


def _json_relationships(path: Path) -> Iterator[tuple[str, str, str, str]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a GLEIF relationship JSON file: {exc}") from None
    items = doc.get("data") or doc.get("relations") or doc.get("records") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise InputError(
            f"{path}: not a GLEIF relationship JSON file: expected a list of relationship records (or an "
            "object whose 'data' is one)"
        )
    for item in items:
        rel = item
        for key in ("attributes", "RelationshipRecord", "relationship", "Relationship"):
            inner = _get(rel, key)
            if isinstance(inner, dict):
                rel = inner
        start, end = _get(rel, "startNode", "StartNode"), _get(rel, "endNode", "EndNode")
        rtype = _get(rel, "type", "RelationshipType")
        status = _get(rel, "status", "RelationshipStatus") or "ACTIVE"
        s_id, e_id = _get(start, "id", "NodeID"), _get(end, "id", "NodeID")
        if s_id and e_id and rtype:
            yield str(s_id), str(e_id), str(rtype), str(status)


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with fh:
        try:
            yield from csv.DictReader(fh)
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
        except csv.Error as exc:
            raise InputError(f"{path}: not CSV ({exc})") from None


_LEI = re.compile(r"^[A-Z0-9]{18}[0-9]{2}$")


def import_gleif(
    con: duckdb.DuckDBPyConnection, relationships: Path, entities: Path | None = None
) -> tuple[int, int]:
    """Load a GLEIF level-2 relationship file (golden-copy CSV ``Relationship.StartNode.NodeID``… or the
    API/golden-copy JSON) and optionally a level-1 file (LEI → name, country, SIREN). Replaces earlier
    imports. Returns (relationships, entities) loaded."""
    rels: list[tuple[Any, ...]] = []
    if relationships.suffix.lower() == ".json":
        raw = list(_json_relationships(relationships))
    else:
        raw = []
        for i, row in enumerate(_csv_rows(relationships), 2):
            if "Relationship.StartNode.NodeID" not in row or "Relationship.EndNode.NodeID" not in row:
                raise InputError(
                    f"{relationships}:1: not a GLEIF relationship CSV (needs Relationship.StartNode.NodeID, "
                    "Relationship.EndNode.NodeID, Relationship.RelationshipType)"
                )
            if row.get("Relationship.EndNode.NodeIDType", "LEI") not in ("LEI", ""):
                continue
            raw.append(
                (
                    row["Relationship.StartNode.NodeID"],
                    row["Relationship.EndNode.NodeID"],
                    row.get("Relationship.RelationshipType", ""),
                    row.get("Relationship.RelationshipStatus") or "ACTIVE",
                )
            )
            if not _LEI.match(row["Relationship.StartNode.NodeID"]):
                raise InputError(f"{relationships}:{i}: Relationship.StartNode.NodeID: not an LEI")
    for start, end, rtype, status in raw:
        if rtype in ("IS_ULTIMATELY_CONSOLIDATED_BY", "IS_DIRECTLY_CONSOLIDATED_BY"):
            rels.append((start, end, rtype, status, str(relationships)))
    if not rels:  # replacing an earlier import with nothing would lose it silently
        found = f"{len(raw)} relationship record(s), none" if raw else "no relationship record,"
        raise InputError(
            f"{relationships}: {found} of type IS_ULTIMATELY_CONSOLIDATED_BY or IS_DIRECTLY_CONSOLIDATED_BY; "
            "nothing imported (an earlier import is kept)"
        )
    ents: list[tuple[Any, ...]] = []
    if entities is not None:
        for i, row in enumerate(_csv_rows(entities), 2):
            lei = row.get("LEI")
            if lei is None:
                raise InputError(
                    f"{entities}:1: not a GLEIF level-1 CSV (needs LEI, Entity.LegalName, "
                    "Entity.LegalAddress.Country)"
                )
            if not _LEI.match(lei):
                raise InputError(f"{entities}:{i}: LEI: not an LEI: {lei!r}")
            country = row.get("Entity.HeadquartersAddress.Country") or row.get("Entity.LegalAddress.Country")
            siren = None
            if row.get("Entity.RegistrationAuthority.RegistrationAuthorityID") in _RA_SIREN:
                digits = re.sub(
                    r"[\s.\-]", "", row.get("Entity.RegistrationAuthority.RegistrationAuthorityEntityID", "")
                )
                if digits.isdigit() and len(digits) in (9, 14) and siren_valid(digits[:9]):
                    siren = digits[:9]
            ents.append(
                (
                    lei,
                    row.get("Entity.LegalName"),
                    country,
                    siren,
                    row.get("Entity.EntityStatus"),
                    str(entities),
                )
            )
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM gleif_relationships")
    load_rows(
        con,
        "gleif_relationships",
        (
            ("start_lei", "VARCHAR"),
            ("end_lei", "VARCHAR"),
            ("relationship_type", "VARCHAR"),
            ("status", "VARCHAR"),
            ("source", "VARCHAR"),
        ),
        rels,
    )
    if entities is not None:
        con.execute("DELETE FROM gleif_entities")
        load_rows(
            con,
            "gleif_entities",
            (
                ("lei", "VARCHAR"),
                ("legal_name", "VARCHAR"),
                ("country", "VARCHAR"),
                ("siren", "VARCHAR"),
                ("status", "VARCHAR"),
                ("source", "VARCHAR"),
            ),
            list({e[0]: e for e in ents}.values()),
        )
    con.execute("COMMIT")
    return len(rels), len(ents)


GLEIF_PARENT_SQL = """
CREATE OR REPLACE TEMP TABLE gleif_parent AS
WITH lei_siren AS (
    SELECT lei, siren FROM gleif_entities WHERE siren IS NOT NULL
    UNION SELECT lei, siren FROM kb_entities WHERE lei IS NOT NULL AND siren IS NOT NULL
    UNION SELECT k.lei, s.siren FROM kb_entities k JOIN kb_sirens s ON s.entity = k.entity
          WHERE k.lei IS NOT NULL AND s.kind = 'head-office'),
rel AS (
    SELECT start_lei, arg_min(end_lei, CASE relationship_type WHEN 'IS_ULTIMATELY_CONSOLIDATED_BY' THEN 0
                                                     ELSE 1 END) AS parent_lei
    FROM gleif_relationships WHERE status IS NULL OR upper(status) = 'ACTIVE' GROUP BY start_lei),
parent_country AS (
    SELECT lei, country, legal_name AS name, NULL AS entity FROM gleif_entities
    UNION ALL SELECT lei, country, name, entity FROM kb_entities WHERE lei IS NOT NULL)
SELECT ls.siren, rel.start_lei AS lei, rel.parent_lei,
       arg_max(pc.name, pc.entity IS NULL) AS parent_name,
       arg_max(pc.country, pc.entity IS NULL) AS parent_country,
       max(pc.entity) AS parent_entity
FROM rel JOIN lei_siren ls ON ls.lei = rel.start_lei
LEFT JOIN parent_country pc ON pc.lei = rel.parent_lei
GROUP BY ls.siren, rel.start_lei, rel.parent_lei
"""


# -- territories and legal units --------------------------------------------------------------------------
def import_territories(
    con: duckdb.DuckDBPyConnection, path: Path, departements: dict[str, tuple[str, str]]
) -> int:
    """Load an official SIREN → INSEE table: BANATIC's 'Table de correspondance SIREN / code Insee des
    communes' exported as CSV (columns ``siren`` and ``insee``, optionally ``nom_com``), or a file in the
    vendored format (siren, kind, name, commune, departement, region). Replaces earlier imports."""
    rows: list[tuple[Any, ...]] = []
    for i, row in enumerate(_csv_rows(path), 2):
        low = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        siren = re.sub(r"\D", "", low.get("siren", ""))
        commune = low.get("insee") or low.get("commune") or ""
        if "siren" not in low:
            raise InputError(f"{path}:1: needs a 'siren' column (and 'insee' or 'commune')")
        if not siren_valid(siren):
            raise InputError(f"{path}:{i}: siren: not a valid SIREN: {low.get('siren')!r}")
        dep = low.get("departement") or (commune[:3] if commune.startswith("97") else commune[:2])
        if commune and dep not in departements:
            raise InputError(f"{path}:{i}: insee: {commune!r} is not in a known département")
        region = low.get("region") or (departements[dep][1] if dep in departements else "")
        name = low.get("name") or low.get("nom_com") or low.get("nom") or ""
        rows.append(
            (
                siren,
                low.get("kind") or "commune",
                name,
                commune or None,
                dep or None,
                region or None,
                str(path),
            )
        )
    if not rows:  # an empty file would silently replace an earlier import with nothing
        raise InputError(f"{path}: no row (expected columns siren and insee or commune)")
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM territories_imported")
    load_rows(
        con,
        "territories_imported",
        (
            ("siren", "VARCHAR"),
            ("kind", "VARCHAR"),
            ("name", "VARCHAR"),
            ("commune", "VARCHAR"),
            ("departement", "VARCHAR"),
            ("region", "VARCHAR"),
            ("source", "VARCHAR"),
        ),
        list({r[0]: r for r in rows}.values()),
    )
    con.execute("COMMIT")
    return len(rows)


def import_legal_units(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, int]:
    """Load legal categories from INSEE's SIRENE stock of legal units (``StockUniteLegale`` CSV: columns
    ``siren`` and ``categorieJuridiqueUniteLegale``, optionally ``denominationUniteLegale``). Returns the
    legal units loaded and the rows skipped (no 9-digit ``siren``)."""
    quoted = str(path).replace("'", "''")
    try:
        cols = {
            r[0]
            for r in con.execute(
                f"DESCRIBE SELECT * FROM read_csv('{quoted}', all_varchar = true)"
            ).fetchall()
        }
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        why = (
            "not a CSV table DuckDB can read (binary, or no consistent columns)"
            if "sniff" in first
            else first
        )
        raise InputError(f"{path}: cannot read as CSV: {why}") from None
    if not {"siren", "categorieJuridiqueUniteLegale"} <= cols:
        raise InputError(
            f"{path}:1: needs columns siren and categorieJuridiqueUniteLegale (SIRENE StockUniteLegale)"
        )
    name = "denominationUniteLegale" if "denominationUniteLegale" in cols else "NULL"
    valid = con.execute(
        f"SELECT count(*) FILTER (WHERE regexp_full_match(siren, '\\d{{9}}')), count(*) "
        f"FROM read_csv('{quoted}', all_varchar = true)"
    ).fetchone() or (0, 0)
    if not valid[0]:
        raise InputError(f"{path}: no row with a 9-digit siren ({valid[1]} row(s) read)")
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM legal_units")
    con.execute(
        f"INSERT INTO legal_units SELECT siren, any_value(categorieJuridiqueUniteLegale), "
        f"any_value({name}), ? FROM read_csv('{quoted}', all_varchar = true) "
        f"WHERE regexp_full_match(siren, '\\d{{9}}') GROUP BY siren",
        [str(path)],
    )
    con.execute("COMMIT")
    loaded = int((con.execute("SELECT count(*) FROM legal_units").fetchone() or (0,))[0])
    return loaded, int(valid[1]) - int(valid[0])
