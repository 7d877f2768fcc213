"""What the pages and the API read: the current assessment, its index, organisations, providers, search.

Reads go to the small indexed tables of :mod:`souverain.web.index`; the only JSON decoded per request is
the one organisation's document on its own page. Immutable things (an assessment's index statistics, its
summary, the KB of a run) are cached in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from souverain.errors import SouverainError
from souverain.kb.load import KB
from souverain.store import Store
from souverain.store.schema import web_areas, web_deps, web_domains, web_orgs, web_providers, web_words
from souverain.web.index import ensure_index, norm, words

__all__ = ["ORG_COLUMNS", "Filters", "Observatory", "Page", "departements", "regions"]

ORG_COLUMNS = (
    "siren",
    "name",
    "kind",
    "commune",
    "departement",
    "region",
    "score",
    "coverage",
    "provisional",
    "worst_level",
    "findings",
    "serious",
    "mailbox_eu",
    "dmarc_reject",
    "dnssec",
    "sensitive_qualified",
    "domains",
)
SEARCH_CANDIDATES = 2000
"""Organisations read at most per search (by the index of its longest word); results are the first 50."""
INDICATORS = (
    "score",
    "mailboxes-eu-control",
    "dmarc-reject",
    "dmarc-enforced",
    "dnssec-validated",
    "sensitive-on-qualified",
)


@lru_cache(maxsize=1)
def departements() -> dict[str, tuple[str, str]]:
    """Code → (name, région code), overseas included."""
    text = resources.files("souverain.data").joinpath("departements.csv").read_text(encoding="utf-8")
    return {r["code"]: (r["name"], r["region"]) for r in csv.DictReader(text.splitlines())}


@lru_cache(maxsize=1)
def regions() -> dict[str, str]:
    text = resources.files("souverain.data").joinpath("regions.csv").read_text(encoding="utf-8")
    return {r["code"]: r["name"] for r in csv.DictReader(text.splitlines())}


@dataclass(frozen=True, slots=True)
class Filters:
    region: str | None = None
    departement: str | None = None
    kind: str | None = None

    def where(self, table: Any = web_orgs) -> list[Any]:
        out = []
        if self.region:
            out.append(table.c.region == self.region)
        if self.departement:
            out.append(table.c.departement == self.departement)
        if self.kind:
            out.append(table.c.kind == self.kind)
        return out


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    page: int
    per_page: int
    total: int
    capped: bool = False
    """A search whose candidates reached ``SEARCH_CANDIDATES``: ``total`` counts those only."""

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _searched_domain(q: str) -> str:
    """A domain as people paste it: ``https://www.Example.fr/page`` is ``example.fr`` (the ``www.`` of a web
    host is dropped when a registrable name is left), IDN in A-labels as the store keeps them."""
    from souverain.portfolio.validate import normalise_domain

    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", q.strip().lower())
    text = re.split(r"[/?#]", text, maxsplit=1)[0].rstrip(".")
    if text.startswith("www.") and text.count(".") >= 2:
        text = text[4:]
    try:
        return normalise_domain(text)
    except ValueError:  # not a full name yet (a prefix being typed): searched as it is
        return text


class Observatory:
    """Read access for the web app, over one store."""

    def __init__(self, store: Store, home: Path, refresh_s: float = 2.0) -> None:
        self.store = store
        self.home = home
        self.refresh_s = refresh_s
        self._rows: list[dict[str, Any]] = []
        self._rows_at = 0.0
        self._lock = threading.Lock()
        self._stats: dict[int, dict[str, Any]] = {}
        self._areas: dict[int, dict[str, dict[str, dict[str, Any]]]] = {}
        self._summaries: dict[int, dict[str, Any]] = {}
        self._kbs: dict[str, KB | None] = {}
        self._counts: dict[tuple[int, Filters, bool], int] = {}

    # assessments --------------------------------------------------------------------------------------
    def assessments(self) -> list[dict[str, Any]]:
        """Every assessment, oldest first (re-read at most every ``refresh_s`` seconds)."""
        now = time.monotonic()
        if now - self._rows_at > self.refresh_s:
            self._rows = self.store.assessment_rows()
            self._rows_at = now
        return self._rows

    def published(self) -> list[dict[str, Any]]:
        """The latest assessment of each run, on-demand scans excluded, oldest first."""
        latest: dict[int, dict[str, Any]] = {}
        for row in self.assessments():
            if not row["config"].get("on_demand"):
                latest[row["run_id"]] = row
        return [latest[k] for k in sorted(latest)]

    def current(self) -> dict[str, Any] | None:
        rows = self.published()
        return rows[-1] if rows else None

    def assessment(self, assessment_id: int) -> dict[str, Any] | None:
        return next((r for r in self.assessments() if r["id"] == assessment_id), None)

    def for_run(self, run_id: int) -> dict[str, Any] | None:
        rows = [r for r in self.assessments() if r["run_id"] == run_id]
        return rows[-1] if rows else None

    def ready(self, assessment_id: int) -> dict[str, Any]:
        """The index statistics of an assessment, building the index first if needed."""
        stats = self._stats.get(assessment_id)
        if stats is None:
            with self._lock:
                ensure_index(self.store, assessment_id)
            info = self.store.web_index_info(assessment_id)
            assert info is not None
            stats = self._stats[assessment_id] = info["stats"]
        return stats

    def summary(self, assessment_id: int) -> dict[str, Any]:
        if assessment_id not in self._summaries:
            self._summaries[assessment_id] = self.store.assessment_summary(assessment_id) or {}
        return self._summaries[assessment_id]

    def kb_for(self, assessment: dict[str, Any]) -> KB | None:
        """The KB of the assessment's run (lab overlay included); None when it cannot be loaded."""
        from souverain.attribution.run import context_for_run

        key = orjson.dumps({k: assessment["config"].get(k) for k in ("lab_dir", "kb_extra")}).decode()
        if key not in self._kbs:
            try:
                self._kbs[key] = context_for_run(assessment["config"], self.home)[0]
            except SouverainError:
                self._kbs[key] = None
        return self._kbs[key]

    # areas and trends -----------------------------------------------------------------------------------
    def areas(self, assessment_id: int, level: str) -> dict[str, dict[str, Any]]:
        if assessment_id not in self._areas:
            self.ready(assessment_id)
            out: dict[str, dict[str, dict[str, Any]]] = {"region": {}, "departement": {}}
            query = sa.select(web_areas.c.level, web_areas.c.code, web_areas.c["values"]).where(
                web_areas.c.assessment_id == assessment_id
            )
            with self.store.engine.connect() as conn:
                for lvl, code, values in conn.execute(query):
                    out[lvl][code] = orjson.loads(values)
            self._areas[assessment_id] = out
        return self._areas[assessment_id][level]

    def trends(self) -> list[dict[str, Any]]:
        """National values of every indicator for each published assessment, oldest first."""
        out = []
        for row in self.published():
            summary = self.summary(row["id"])
            values = {k: v["national"]["value"] for k, v in summary.get("trajectories", {}).items()}
            values["score"] = summary.get("score", {}).get("mean")
            out.append(
                {
                    "run_id": row["run_id"],
                    "assessment_id": row["id"],
                    "as_of": row["as_of"],
                    "methodology": row["methodology"],
                    "organisations": summary.get("organisations"),
                    "values": values,
                }
            )
        return out

    # organisations -----------------------------------------------------------------------------------
    def _count(self, assessment_id: int, filters: Filters, scored_only: bool = False) -> int:
        key = (assessment_id, filters, scored_only)
        if key not in self._counts:
            query = (
                sa.select(sa.func.count())
                .select_from(web_orgs)
                .where(web_orgs.c.assessment_id == assessment_id, *filters.where())
            )
            if scored_only:
                query = query.where(web_orgs.c.score.is_not(None))
            with self.store.engine.connect() as conn:
                self._counts[key] = int(conn.execute(query).scalar() or 0)
        return self._counts[key]

    def organisations(
        self, assessment_id: int, filters: Filters, page: int, per_page: int, order: str = "name"
    ) -> Page:
        """Organisations with filters; ``order``: name, score (lowest first) or -score (highest first), as
        the usual convention has it; ordered by score, bodies without one are left out (and not counted)."""
        self.ready(assessment_id)
        columns = [web_orgs.c[c] for c in ORG_COLUMNS]
        query = sa.select(*columns).where(web_orgs.c.assessment_id == assessment_id, *filters.where())
        by_score = order in ("score", "-score")
        if by_score:
            direction = web_orgs.c.score.asc() if order == "score" else web_orgs.c.score.desc()
            query = query.where(web_orgs.c.score.is_not(None)).order_by(direction, web_orgs.c.siren)
        else:
            query = query.order_by(web_orgs.c.name_norm, web_orgs.c.siren)
        query = query.limit(per_page).offset((page - 1) * per_page)
        with self.store.engine.connect() as conn:
            items = [dict(r) for r in conn.execute(query).mappings()]
        return Page(items, page, per_page, self._count(assessment_id, filters, scored_only=by_score))

    def summary_row(self, assessment_id: int, siren: str) -> dict[str, Any] | None:
        self.ready(assessment_id)
        query = sa.select(*[web_orgs.c[c] for c in ORG_COLUMNS]).where(
            web_orgs.c.assessment_id == assessment_id, web_orgs.c.siren == siren
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def search(self, assessment_id: int, q: str, filters: Filters, page: int = 1, per_page: int = 50) -> Page:
        """By SIREN (9 digits), domain (contains a dot: prefix match) or name words (every word a prefix of a
        word of the name). Candidates come from the index of the longest word (at most ``SEARCH_CANDIDATES``:
        the page says when they were cut), then are filtered and sorted by name; ``page`` of them."""
        self.ready(assessment_id)
        found, capped = self._search(assessment_id, q, filters)
        start = (page - 1) * per_page
        return Page(found[start : start + per_page], page, per_page, len(found), capped)

    def _search(self, assessment_id: int, q: str, filters: Filters) -> tuple[list[dict[str, Any]], bool]:
        q = q.strip()
        compact = q.replace(" ", "")
        rest: list[str] = []
        if compact.isdigit() and len(compact) == 9:
            sirens = [compact]
        elif compact.isdigit() and len(compact) >= 3:  # the start of a SIREN
            sirens = self._sirens_by_prefix(web_orgs, web_orgs.c.siren, assessment_id, compact)
        elif "." in q and " " not in q:
            sirens = self._sirens_by_prefix(
                web_domains, web_domains.c.domain, assessment_id, _searched_domain(q)
            )
        else:
            terms = sorted(set(words(q)) or set(norm(q).split()), key=len, reverse=True)
            if not terms:
                return [], False
            first, rest = terms[0], terms[1:]
            sirens = self._sirens_by_prefix(web_words, web_words.c.word, assessment_id, first)
        capped = len(sirens) >= SEARCH_CANDIDATES
        rows = self._rows_of(assessment_id, sorted(set(sirens)))
        out = []
        for row in rows:
            if filters.region and row["region"] != filters.region:
                continue
            if filters.departement and row["departement"] != filters.departement:
                continue
            if filters.kind and row["kind"] != filters.kind:
                continue
            name_words = row.pop("name_norm").split()
            if all(any(w.startswith(term) for w in name_words) for term in rest):
                out.append(row)
        out.sort(key=lambda r: (norm(r["name"]), r["siren"]))
        return out, capped

    def _sirens_by_prefix(
        self, table: sa.Table, column: sa.Column[Any], assessment_id: int, prefix: str
    ) -> list[str]:
        """SIRENs of the index ``table`` whose ``column`` starts with ``prefix`` (at most
        ``SEARCH_CANDIDATES``; a range on the column's index)."""
        query = (
            sa.select(table.c.siren)
            .where(table.c.assessment_id == assessment_id, column >= prefix, column < prefix + "\uffff")
            .limit(SEARCH_CANDIDATES)
        )
        with self.store.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def _rows_of(self, assessment_id: int, sirens: list[str]) -> list[dict[str, Any]]:
        columns = [web_orgs.c[c] for c in ORG_COLUMNS] + [web_orgs.c.name_norm]
        rows: list[dict[str, Any]] = []
        with self.store.engine.connect() as conn:
            for i in range(0, len(sirens), 900):
                query = sa.select(*columns).where(
                    web_orgs.c.assessment_id == assessment_id, web_orgs.c.siren.in_(sirens[i : i + 900])
                )
                rows += [dict(r) for r in conn.execute(query).mappings()]
        return rows

    # providers -----------------------------------------------------------------------------------------
    def providers(self, assessment_id: int, limit: int = 500) -> list[dict[str, Any]]:
        self.ready(assessment_id)
        query = (
            sa.select(web_providers)
            .where(web_providers.c.assessment_id == assessment_id)
            .order_by(web_providers.c.organisations.desc(), web_providers.c.operator)
            .limit(limit)
        )
        with self.store.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["stats"] = orjson.loads(row["stats"])
        return rows

    def provider(self, assessment_id: int, entity: str) -> dict[str, Any] | None:
        self.ready(assessment_id)
        query = sa.select(web_providers).where(
            web_providers.c.assessment_id == assessment_id, web_providers.c.operator == entity
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["stats"] = orjson.loads(out["stats"])
        return out

    def dependents(
        self, assessment_id: int, entity: str, role: str | None, filters: Filters, page: int, per_page: int
    ) -> list[dict[str, Any]]:
        """Organisations depending on an operator (or running on it as infrastructure), one row per role."""
        self.ready(assessment_id)
        join = web_deps.join(
            web_orgs,
            sa.and_(
                web_orgs.c.assessment_id == web_deps.c.assessment_id, web_orgs.c.siren == web_deps.c.siren
            ),
        )
        query = (
            sa.select(
                web_deps.c.role,
                web_deps.c.level,
                web_deps.c.subject,
                web_deps.c.relation,
                web_orgs.c.siren,
                web_orgs.c.name,
                web_orgs.c.kind,
                web_orgs.c.departement,
                web_orgs.c.region,
                web_orgs.c.score,
            )
            .select_from(join)
            .where(web_deps.c.assessment_id == assessment_id, web_deps.c.operator == entity, *filters.where())
            .order_by(web_deps.c.role, web_deps.c.siren)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        if role:
            query = query.where(web_deps.c.role == role)
        with self.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def dependencies_of(self, assessment_id: int, siren: str) -> list[dict[str, Any]]:
        self.ready(assessment_id)
        query = sa.select(
            web_deps.c.operator, web_deps.c.role, web_deps.c.level, web_deps.c.subject, web_deps.c.relation
        ).where(web_deps.c.assessment_id == assessment_id, web_deps.c.siren == siren)
        with self.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # one organisation ----------------------------------------------------------------------------------
    def history_scores(self, siren: str) -> list[dict[str, Any]]:
        """The organisation's score in every published assessment where it was assessed."""
        published = self.published()
        scores = self.store.org_scores(siren, [r["id"] for r in published])
        return [
            {
                "run_id": r["run_id"],
                "assessment_id": r["id"],
                "as_of": r["as_of"],
                "methodology": r["methodology"],
                "score": scores[r["id"]][0],
                "coverage": scores[r["id"]][1],
            }
            for r in published
            if r["id"] in scores
        ]


def when(ts: float | None) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM UTC``."""
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
