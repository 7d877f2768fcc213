"""The store: SQLite (WAL) by default, any SQLAlchemy URL otherwise. Append-only evidence per run."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from souverain import __version__
from souverain.errors import RunNotFound, StoreError
from souverain.evidence import Evidence
from souverain.portfolio import Organisation
from souverain.store.schema import (
    assessments,
    attributions,
    dependencies,
    evidence,
    org_assessments,
    organisations,
    run_organisations,
    runs,
    targets,
)

__all__ = ["RunInfo", "Store", "TargetRow", "dumps"]

PENDING = "pending"


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


@dataclass(frozen=True, slots=True)
class TargetRow:
    id: int
    domain: str
    roles: frozenset[str]
    sirens: tuple[str, ...]
    status: str
    started_at: float | None = None
    duration_ms: float | None = None


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    status: str
    created_at: float
    finished_at: float | None
    portfolio: str
    config: dict[str, Any]
    souverain_version: str


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    """Access to one database. Only one writer at a time: see ``souverain.store.writer``."""

    def __init__(self, url_or_path: str | Path) -> None:
        text = str(url_or_path)
        if "://" not in text:
            path = Path(text).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store '{path}': cannot create its folder: {exc.strerror}") from None
            text = f"sqlite:///{path}"
        self.url = text
        self.engine: Engine = sa.create_engine(text)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrate()

    def migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"store '{self.url}': cannot open or migrate: {exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0]}"
            ) from None

    # runs -------------------------------------------------------------------------------------------
    def create_run(self, portfolio: str, orgs: Sequence[Organisation], config: dict[str, Any]) -> int:
        """Create a run with one pending target per distinct domain; return its id."""
        now = time.time()
        by_domain: dict[str, tuple[set[str], list[str]]] = {}
        for org in orgs:
            for domain in org.domains:
                roles, sirens = by_domain.setdefault(domain.name, (set(), []))
                roles.update(domain.roles)
                sirens.append(org.siren)
        with self.engine.begin() as conn:
            run_id = int(
                conn.execute(
                    runs.insert().values(
                        status="running",
                        created_at=now,
                        portfolio=portfolio,
                        config=dumps(config),
                        souverain_version=__version__,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            existing = {row[0] for row in conn.execute(sa.select(organisations.c.siren))}
            org_rows = [self._org_row(org, now) for org in orgs]
            new_rows = [row for row in org_rows if row["siren"] not in existing]
            old_rows = [row for row in org_rows if row["siren"] in existing]
            if new_rows:
                conn.execute(organisations.insert(), new_rows)
            for row in old_rows:
                conn.execute(organisations.update().where(organisations.c.siren == row["siren"]).values(row))
            conn.execute(
                run_organisations.insert(),
                [{"run_id": run_id, "siren": row["siren"], "data": row["data"]} for row in org_rows],
            )
            conn.execute(
                targets.insert(),
                [
                    {
                        "run_id": run_id,
                        "domain": name,
                        "roles": ",".join(sorted(roles)),
                        "sirens": dumps(sirens),
                        "status": PENDING,
                    }
                    for name, (roles, sirens) in by_domain.items()
                ],
            )
        return run_id

    @staticmethod
    def _org_row(org: Organisation, now: float) -> dict[str, Any]:
        return {
            "siren": org.siren,
            "name": org.name,
            "kind": org.kind,
            "commune": org.territory.commune,
            "departement": org.territory.departement,
            "region": org.territory.region,
            "data": dumps(org.to_dict()),
            "updated_at": now,
        }

    def run(self, run_id: int) -> RunInfo:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            raise RunNotFound(f"run {run_id}: no such run in store '{self.url}'")
        return RunInfo(
            row["id"],
            row["status"],
            row["created_at"],
            row["finished_at"],
            row["portfolio"],
            orjson.loads(row["config"]),
            row["souverain_version"],
        )

    def runs(self) -> list[RunInfo]:
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(sa.select(runs.c.id).order_by(runs.c.id))]
        return [self.run(run_id) for run_id in ids]

    def latest_run(self) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(runs.c.id))).scalar()

    def set_run_status(self, run_id: int, status: str) -> None:
        finished = time.time() if status == "completed" else None
        with self.engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(status=status, finished_at=finished))

    # targets and evidence ------------------------------------------------------------------------------
    def targets(self, run_id: int, *, pending_only: bool = False) -> list[TargetRow]:
        query = sa.select(targets).where(targets.c.run_id == run_id).order_by(targets.c.id)
        if pending_only:
            query = query.where(targets.c.status == PENDING)
        with self.engine.connect() as conn:
            return [
                TargetRow(
                    r["id"],
                    r["domain"],
                    frozenset(r["roles"].split(",")),
                    tuple(orjson.loads(r["sirens"])),
                    r["status"],
                    r["started_at"],
                    r["duration_ms"],
                )
                for r in conn.execute(query).mappings()
            ]

    def status_counts(self, run_id: int) -> dict[str, int]:
        query = (
            sa.select(targets.c.status, sa.func.count())
            .where(targets.c.run_id == run_id)
            .group_by(targets.c.status)
        )
        with self.engine.connect() as conn:
            return {status: int(count) for status, count in conn.execute(query)}

    def probe_statuses(self, run_id: int, probe: str) -> dict[int, tuple[str, str | None]]:
        """Target id → (status, error) of one probe's evidence (without reading the payloads)."""
        query = sa.select(evidence.c.target_id, evidence.c.status, evidence.c.error).where(
            evidence.c.run_id == run_id, evidence.c.probe == probe
        )
        with self.engine.connect() as conn:
            return {int(t): (str(s), e) for t, s, e in conn.execute(query)}

    def probe_status_counts(self, run_id: int) -> dict[str, dict[str, int]]:
        """Evidence count per probe and status for a run."""
        query = (
            sa.select(evidence.c.probe, evidence.c.status, sa.func.count())
            .where(evidence.c.run_id == run_id)
            .group_by(evidence.c.probe, evidence.c.status)
        )
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for probe, status, count in conn.execute(query):
                out.setdefault(probe, {})[status] = int(count)
        return out

    def run_organisations(self, run_id: int) -> list[Organisation]:
        query = (
            sa.select(run_organisations.c.data)
            .where(run_organisations.c.run_id == run_id)
            .order_by(run_organisations.c.siren)
        )
        with self.engine.connect() as conn:
            return [Organisation.from_dict(orjson.loads(row[0])) for row in conn.execute(query)]

    def evidence_by_target(
        self, run_id: int, probes: Collection[str] | None = None
    ) -> Iterator[tuple[int, list[Evidence]]]:
        """Yield (target id, its evidence) for a run, streaming in target order (only ``probes`` if given)."""
        query = sa.select(evidence).where(evidence.c.run_id == run_id)
        if probes is not None:
            query = query.where(evidence.c.probe.in_(sorted(probes)))
        query = query.order_by(evidence.c.target_id, evidence.c.id)
        current: int | None = None
        batch: list[Evidence] = []
        with self.engine.connect() as conn:
            for row in conn.execution_options(stream_results=True).execute(query).mappings():
                if row["target_id"] != current and current is not None:
                    yield current, batch
                    batch = []
                current = row["target_id"]
                batch.append(Evidence.from_dict(orjson.loads(row["payload"])))
        if current is not None:
            yield current, batch

    def evidence_for(self, target_ids: Sequence[int]) -> dict[int, list[Evidence]]:
        """Evidence of the given targets, by target id, in recording order."""
        out: dict[int, list[Evidence]] = {tid: [] for tid in target_ids}
        if not target_ids:
            return out
        query = (
            sa.select(evidence.c.target_id, evidence.c.payload)
            .where(evidence.c.target_id.in_(list(target_ids)))
            .order_by(evidence.c.id)
        )
        with self.engine.connect() as conn:
            for target_id, payload in conn.execute(query):
                out[target_id].append(Evidence.from_dict(orjson.loads(payload)))
        return out

    def record_targets(self, items: Sequence[tuple[int, int, str, float, float, list[Evidence]]]) -> None:
        """Write finished targets atomically: (run, target, status, started, duration_ms, evidence).

        Only targets still ``pending`` are written, so a target is recorded exactly once even if it was
        scanned twice (an interrupted run resumed while a batch was in flight).
        """
        if not items:
            return
        ids = [item[1] for item in items]
        with self.engine.begin() as conn:
            pending = {
                row[0]
                for row in conn.execute(
                    sa.select(targets.c.id).where(targets.c.id.in_(ids), targets.c.status == PENDING)
                )
            }
            fresh = {item[1]: item for item in items if item[1] in pending}
            if not fresh:
                return
            conn.execute(
                targets.update()
                .where(targets.c.id == sa.bindparam("tid"), targets.c.status == PENDING)
                .values(
                    status=sa.bindparam("st"), started_at=sa.bindparam("sa"), duration_ms=sa.bindparam("dm")
                ),
                [
                    {"tid": tid, "st": status, "sa": started, "dm": duration}
                    for _, tid, status, started, duration, _ in fresh.values()
                ],
            )
            rows = [
                {
                    "run_id": run_id,
                    "target_id": target_id,
                    "probe": ev.probe,
                    "subject": ev.target[:300],
                    "status": str(ev.status),
                    "probe_version": ev.probe_version,
                    "schema_version": ev.schema_version,
                    "started_at": ev.started_at,
                    "duration_ms": ev.duration_ms,
                    "error": ev.error,
                    "payload": dumps(ev.to_dict()),
                }
                for run_id, target_id, _, _, _, items_evidence in fresh.values()
                for ev in items_evidence
            ]
            if rows:
                conn.execute(evidence.insert(), rows)

    # attributions ------------------------------------------------------------------------------------
    def create_attribution(
        self, run_id: int, kb_version: str, networks: list[dict[str, Any]], as_of: str
    ) -> int:
        """Start a new set of dependencies for a run (older sets stay: history of KB changes)."""
        self.run(run_id)
        with self.engine.begin() as conn:
            result = conn.execute(
                attributions.insert().values(
                    run_id=run_id,
                    kb_version=kb_version,
                    networks=dumps(networks),
                    as_of=as_of,
                    created_at=time.time(),
                    souverain_version=__version__,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def add_dependencies(self, attribution_id: int, rows: Sequence[dict[str, Any]]) -> None:
        """Insert dependency rows: target_id or siren, role, subject, operator, infrastructure, confidence,
        exposures, reasons."""
        if not rows:
            return
        values = [
            {
                "attribution_id": attribution_id,
                "target_id": r.get("target_id"),
                "siren": r.get("siren"),
                "role": r["role"],
                "subject": r["subject"][:320],
                "operator": r.get("operator"),
                "infrastructure": r.get("infrastructure"),
                "confidence": r["confidence"],
                "payload": dumps(
                    {
                        "scope": r.get("scope", ""),
                        "exposures": r.get("exposures", []),
                        "reasons": r.get("reasons", []),
                    }
                ),
            }
            for r in rows
        ]
        with self.engine.begin() as conn:
            conn.execute(dependencies.insert(), values)

    def latest_attribution(self, run_id: int) -> dict[str, Any] | None:
        query = (
            sa.select(attributions)
            .where(attributions.c.run_id == run_id)
            .order_by(attributions.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["networks"] = orjson.loads(out["networks"])
        return out

    def dependencies_of(self, attribution_id: int) -> list[dict[str, Any]]:
        """All dependency rows of an attribution, with the target's domain (None for org-level ones)."""
        query = (
            sa.select(dependencies, targets.c.domain)
            .select_from(dependencies.outerjoin(targets, dependencies.c.target_id == targets.c.id))
            .where(dependencies.c.attribution_id == attribution_id)
            .order_by(dependencies.c.id)
        )
        out = []
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                item = {k: row[k] for k in ("target_id", "siren", "role", "subject", "operator",
                                            "infrastructure", "confidence", "domain")}  # fmt: skip
                item.update(orjson.loads(row["payload"]))
                out.append(item)
        return out

    # assessments -------------------------------------------------------------------------------------
    def save_assessment(
        self,
        run_id: int,
        attribution_id: int,
        methodology: str,
        kb_version: str,
        as_of: str,
        summary: dict[str, Any],
        orgs: Sequence[dict[str, Any]],
    ) -> int:
        """Store a run's assessment (every organisation's document) in one transaction; returns its id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                assessments.insert().values(
                    run_id=run_id,
                    attribution_id=attribution_id,
                    methodology=methodology,
                    kb_version=kb_version,
                    as_of=as_of,
                    created_at=time.time(),
                    summary=dumps(summary),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            assessment_id = int(key[0])
            if orgs:
                conn.execute(
                    org_assessments.insert(),
                    [
                        {"assessment_id": assessment_id, "siren": o["siren"], "score": o["score"],
                         "coverage": o["coverage"], "payload": dumps(o)}
                        for o in orgs
                    ],
                )  # fmt: skip
        return assessment_id

    def latest_assessment(self, run_id: int) -> dict[str, Any] | None:
        query = sa.select(assessments).where(assessments.c.run_id == run_id).order_by(assessments.c.id.desc())
        with self.engine.connect() as conn:
            row = conn.execute(query.limit(1)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["summary"] = orjson.loads(out["summary"])
        return out

    def org_assessments_of(self, assessment_id: int) -> dict[str, dict[str, Any]]:
        query = sa.select(org_assessments.c.siren, org_assessments.c.payload).where(
            org_assessments.c.assessment_id == assessment_id
        )
        with self.engine.connect() as conn:
            return {siren: orjson.loads(payload) for siren, payload in conn.execute(query)}

    def previous_run_with_assessment(self, run_id: int) -> int | None:
        """The latest earlier run that has an assessment."""
        query = (
            sa.select(assessments.c.run_id)
            .where(assessments.c.run_id < run_id)
            .order_by(assessments.c.run_id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return int(row[0]) if row else None
