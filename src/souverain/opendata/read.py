"""What the export reads from the store, in chunks of organisations so that memory stays flat on a national
run. Read-only queries on the store's tables (``souverain.store.schema``) beside the Store API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from souverain.evidence import Evidence
from souverain.portfolio import Organisation
from souverain.store import Store, TargetRow
from souverain.store.schema import attributions, targets

__all__ = ["Chunk", "RunData", "organisation_dependencies", "read_chunks", "read_run", "targets_recorded"]

CHUNK = 250
"""Organisations read per batch."""


@dataclass(slots=True)
class RunData:
    """The run and the attribution and assessment the export shows (the assessment's own attribution, so
    that levels and findings match the dependencies; else the latest attribution)."""

    run_id: int
    orgs: list[Organisation]
    targets: dict[str, TargetRow]
    attribution: dict[str, Any] | None
    assessment: dict[str, Any] | None
    newer_attribution: int | None
    """Id of an attribution newer than the assessed one (not exported: it has no assessment yet)."""


@dataclass(slots=True)
class Chunk:
    orgs: list[Organisation]
    evidence: dict[str, list[Evidence]]
    """Domain → its evidence in recording order."""
    dependencies: dict[str, list[dict[str, Any]]]
    """Domain → its dependency rows (``domain`` key set), in attribution order."""
    assessed: dict[str, dict[str, Any]]
    """SIREN → the organisation's assessment document."""


def _attribution(store: Store, attribution_id: int) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = (
            conn.execute(sa.select(attributions).where(attributions.c.id == attribution_id))
            .mappings()
            .first()
        )
    if row is None:
        return None
    out = dict(row)
    out["networks"] = orjson.loads(out["networks"])
    return out


def read_run(store: Store, run_id: int) -> RunData:
    """The run's organisations, targets, attribution and assessment (raises RunNotFound)."""
    store.run(run_id)
    orgs = store.run_organisations(run_id)
    by_domain = {t.domain: t for t in store.targets(run_id)}
    assessment = store.latest_assessment(run_id)
    latest = store.latest_attribution(run_id)
    attribution = latest
    newer = None
    if assessment is not None and latest is not None and latest["id"] != assessment["attribution_id"]:
        attribution = _attribution(store, int(assessment["attribution_id"]))
        newer = int(latest["id"])
    return RunData(run_id, orgs, by_domain, attribution, assessment, newer)


def organisation_dependencies(store: Store, attribution_id: int) -> dict[str, list[dict[str, Any]]]:
    """Dependencies of organisations themselves (contact addresses), by SIREN."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in store.dependencies_of(attribution_id, org_level_only=True):
        if row["siren"]:
            out.setdefault(row["siren"], []).append(row)
    return out


def _chunk(store: Store, data: RunData, orgs: list[Organisation]) -> Chunk:
    wanted = [data.targets[d.name] for o in orgs for d in o.domains if d.name in data.targets]
    ids = sorted({t.id for t in wanted})
    domain_of = {t.id: t.domain for t in wanted}
    evidence = {domain_of[tid]: items for tid, items in store.evidence_for(ids).items()}
    deps: dict[str, list[dict[str, Any]]] = {}
    if data.attribution is not None:
        for row in store.dependencies_of(data.attribution["id"], target_ids=ids):
            deps.setdefault(row["domain"], []).append(row)
    assessed: dict[str, dict[str, Any]] = {}
    if data.assessment is not None:
        assessed = store.org_assessments_of(data.assessment["id"], [o.siren for o in orgs])
    return Chunk(orgs, evidence, deps, assessed)


def read_chunks(store: Store, data: RunData, size: int = CHUNK) -> Iterator[Chunk]:
    """The run's organisations (SIREN order) with their evidence, dependencies and assessment, by batch."""
    for start in range(0, len(data.orgs), size):
        yield _chunk(store, data, data.orgs[start : start + size])


def targets_recorded(store: Store, run_id: int) -> int:
    """Targets of the run whose scan was recorded."""
    query = sa.select(sa.func.count()).where(targets.c.run_id == run_id, targets.c.status != "pending")
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)
