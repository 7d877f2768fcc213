"""The store: SQLite (WAL) by default, any SQLAlchemy URL otherwise. Append-only evidence per run."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from souverain import __version__
from souverain.assessment.document import expand
from souverain.assessment.essentials import dependency_essentials, evidence_essentials
from souverain.errors import RunNotFound, StoreError
from souverain.evidence import Evidence
from souverain.portfolio import Organisation
from souverain.store import runlock
from souverain.store.rows import TargetRow, is_busy
from souverain.store.schema import (
    api_tokens,
    assessments,
    attributions,
    correction_events,
    corrections,
    dependencies,
    evidence,
    operators,
    org_assessments,
    organisations,
    run_organisations,
    runs,
    scan_requests,
    targets,
    web_areas,
    web_deps,
    web_domains,
    web_index,
    web_orgs,
    web_providers,
    web_words,
)

__all__ = ["RecordedTarget", "RunInfo", "Store", "TargetRow", "dumps"]

PENDING = "pending"

RecordedTarget = (
    tuple[int, int, str, float, float, list[Evidence]]
    | tuple[int, int, str, float, float, list[Evidence], float | None, float | None]
)
"""(run, target, status, started, duration_ms, evidence[, loop_lag_ms, dns_queue_ms]): see
:meth:`Store.record_targets`."""


_DEPENDENCY_KEYS = (
    "target_id", "siren", "role", "subject", "operator", "infrastructure", "confidence", "domain"
)  # fmt: skip
_DEPENDENCY_ESSENTIAL_KEYS = ("siren", "role", "subject", "operator", "infrastructure", "domain")
"""The columns of a dependency row as ``Store.dependencies_of`` returns them (``domain``, last, is the
target's)."""


_Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any]]  # SQL, positional order, bind processors
_INSERTS: dict[tuple[sa.Table, tuple[str, ...], str], _Compiled | None] = {}


def insert_many(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT of many rows with the same keys: the statement is compiled once per (table, keys, dialect)
    and the rows go straight to the driver's ``executemany``, with the columns' own bind processors
    applied (Float's ``to_float`` on SQLite). SQLAlchemy's per-row parameter handling was ~40 % of the
    time of the large inserts (61,582 dependency rows: 1.5 s against 0.85 s)."""
    if not rows:
        return
    keys = tuple(rows[0])
    cache_key = (table, keys, conn.dialect.name)
    if cache_key not in _INSERTS:
        _INSERTS[cache_key] = _compile_insert(conn.dialect, table, keys)
    compiled = _INSERTS[cache_key]
    if compiled is None:
        conn.execute(table.insert(), list(rows))
        return
    sql, order, convert = compiled
    if order is None:  # named parameters
        params: list[Any] = (
            [{**r, **{k: f(r[k]) for k, f in convert.items()}} for r in rows] if convert else list(rows)
        )
    elif convert:
        steps = [(k, convert.get(k)) for k in order]
        params = [tuple(r[k] if f is None else f(r[k]) for k, f in steps) for r in rows]
    else:
        params = [tuple(r[k] for k in order) for r in rows]
    conn.exec_driver_sql(sql, params)


def _compile_insert(dialect: sa.Dialect, table: sa.Table, keys: tuple[str, ...]) -> _Compiled | None:
    compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
    if set(compiled.binds) != set(keys):
        return None  # defaults computed by SQLAlchemy: its own path
    convert = {k: f for k in keys if (f := table.c[k].type.bind_processor(dialect)) is not None}
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    return compiled.string, order, convert


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


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
    cursor.execute("PRAGMA busy_timeout=10000")  # first: switching a new file to WAL needs its lock too
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_UPGRADE_LOCK = 0x736F7576  # PostgreSQL advisory lock key of store upgrades ("souv")


def _migration_engine(url: str) -> Engine:
    """A SQLite engine for migrations, following SQLite's procedure for schema changes (sqlite.org/lang_
    altertable.html): foreign keys off while a table may be rebuilt, checked before the commit
    (``Store.migrate``); and the DDL inside the transaction — pysqlite commits before every DDL
    statement it sees unless it leaves transactions to SQLAlchemy (SQLAlchemy's documented recipe)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite issues no BEGIN/COMMIT of its own
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()

    def begin(connection: sa.Connection) -> None:
        # IMMEDIATE: the write lock from the start, so that a second process opening the same new store
        # waits for this upgrade instead of reading the old revision and failing at its first DDL
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    sa.event.listen(engine, "connect", connect)
    sa.event.listen(engine, "begin", begin)
    return engine


def alembic_config() -> Config:
    """Alembic's configuration for the store's migrations (a new one per use: it carries the connection)."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    """The migration scripts, read once per process (every ``Store`` asks for the head revision)."""
    return ScriptDirectory.from_config(alembic_config())


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
        try:
            self.name = sa.engine.make_url(text).render_as_string(hide_password=True)  # for messages
        except sa.exc.ArgumentError:
            raise StoreError(f"store '{text}': not a file name nor a database URL") from None
        try:
            self.engine: Engine = sa.create_engine(text)
        except (sa.exc.NoSuchModuleError, ImportError) as exc:
            raise StoreError(
                f"store '{self.name}': no driver for this database here ({exc}); souverain runs on SQLite "
                "and on PostgreSQL (postgresql+psycopg://…, the 'postgresql' extra)"
            ) from None
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrate()

    def close(self) -> None:
        """Close the store's connections (a server database keeps them open until then)."""
        self.engine.dispose()

    def migrate(self) -> None:
        """Bring the schema to the current revision: all pending revisions in one transaction, so a failed
        upgrade leaves the store exactly as it was (SQLite included: see ``_migration_engine``)."""
        config = alembic_config()
        sqlite = self.engine.dialect.name == "sqlite"
        in_memory = self.engine.url.database in (None, "", ":memory:")  # one database per engine: this one
        engine = _migration_engine(self.url) if sqlite and not in_memory else self.engine
        scripts = _scripts()
        try:
            with self.engine.connect() as probe:  # a plain read: the usual case, nothing to upgrade
                if MigrationContext.configure(probe).get_current_revision() == scripts.get_current_head():
                    return
            with engine.begin() as connection:  # one upgrader at a time (BEGIN IMMEDIATE; PostgreSQL: a lock)
                if self.engine.dialect.name == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK})")
                before = MigrationContext.configure(connection).get_current_revision()
                if before == scripts.get_current_head():
                    return  # another process upgraded it meanwhile
                if before is not None and before not in {s.revision for s in scripts.walk_revisions()}:
                    raise StoreError(
                        f"store '{self.name}': schema revision {before} is unknown to souverain "
                        f"{__version__} (it knows up to {scripts.get_current_head()}): a newer souverain "
                        "wrote it; open it with that version"
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(
                            f"store '{self.name}': after the upgrade from revision {before}, {len(broken)} "
                            f"references are broken (first in table {broken[0][0]}); the upgrade was undone"
                        )
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"store '{self.name}': cannot open or migrate: {exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0]}"
            ) from None
        finally:
            if engine is not self.engine:
                engine.dispose()

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
                insert_many(conn, organisations, new_rows)
            for row in old_rows:
                conn.execute(organisations.update().where(organisations.c.siren == row["siren"]).values(row))
            insert_many(
                conn,
                run_organisations,
                [{"run_id": run_id, "siren": row["siren"], "data": row["data"]} for row in org_rows],
            )
            insert_many(
                conn,
                targets,
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
            raise RunNotFound(f"run {run_id}: no such run in store '{self.name}'")
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

    def hold_run(self, run_id: int) -> runlock.RunLock:
        """Hold the run for this process while it scans it, until ``release()`` or the process's end
        (``souverain.store.runlock``); ``RunBusy`` naming the holder when another process scans it."""
        return runlock.hold(self.engine, run_id)

    def run_held(self, run_id: int) -> bool:
        """Whether a process is scanning the run now (a ``running`` run nobody holds was stopped)."""
        return runlock.is_held(self.engine, run_id)

    def set_run_status(self, run_id: int, status: str) -> None:
        finished = time.time() if status == "completed" else None
        with self.engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(status=status, finished_at=finished))

    # targets and evidence ------------------------------------------------------------------------------
    def busy_domains(self, run_id: int, domains: Collection[str]) -> list[dict[str, Any]]:
        """Of ``domains``, those whose target in the run was scanned while the scanner delayed its own work
        (``rows.is_busy``): domain, status and the two measures, by domain."""
        if not domains:
            return []
        query = sa.select(
            targets.c.domain, targets.c.status, targets.c.loop_lag_ms, targets.c.dns_queue_ms
        ).where(targets.c.run_id == run_id, targets.c.domain.in_(sorted(domains)))
        with self.engine.connect() as conn:  # a body's few domains: the rule is applied here, once
            rows = [
                dict(r)
                for r in conn.execute(query).mappings()
                if is_busy(r["loop_lag_ms"], r["dns_queue_ms"])
            ]
        return sorted(rows, key=lambda r: r["domain"])

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
                    r["loop_lag_ms"],
                    r["dns_queue_ms"],
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

    def count_run_organisations(self, run_id: int) -> int:
        query = sa.select(sa.func.count()).where(run_organisations.c.run_id == run_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def run_organisations(self, run_id: int, sirens: Sequence[str] | None = None) -> list[Organisation]:
        """The organisations of a run as it recorded them (only ``sirens`` if given), in SIREN order."""
        query = (
            sa.select(run_organisations.c.data)
            .where(run_organisations.c.run_id == run_id)
            .order_by(run_organisations.c.siren)
        )
        if sirens is not None:
            query = query.where(run_organisations.c.siren.in_(sorted(sirens)))
        with self.engine.connect() as conn:
            return [Organisation.from_dict(orjson.loads(row[0])) for row in conn.execute(query)]

    def run_organisation_batches(
        self, run_id: int, size: int = 500, *, only: Callable[[int], bool] | None = None
    ) -> Iterator[list[Organisation]]:
        """The organisations of a run in SIREN order, ``size`` at a time: memory stays that of one batch
        (an organisation takes ~4 KB decoded; 9,217 of them ~35 MB). ``only``: the batches whose index
        (0, 1, 2…) it accepts, the others are not read."""
        query = (
            sa.select(run_organisations.c.siren)
            .where(run_organisations.c.run_id == run_id)
            .order_by(run_organisations.c.siren)
        )
        with self.engine.connect() as conn:
            sirens = list(conn.execute(query).scalars())
        for index, start in enumerate(range(0, len(sirens), size)):
            if only is None or only(index):
                yield self.run_organisations(run_id, sirens[start : start + size])

    def evidence_by_target(
        self, run_id: int, probes: Collection[str] | None = None
    ) -> Iterator[tuple[int, list[Evidence]]]:
        """Yield (target id, its evidence) for a run, streaming in target order (only ``probes`` if given)."""
        query = sa.select(evidence.c.target_id, evidence.c.payload).where(evidence.c.run_id == run_id)
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

    def evidence_for(
        self, target_ids: Sequence[int], probes: Collection[str] | None = None, *, essentials: bool = False
    ) -> dict[int, list[Evidence]]:
        """Evidence of the given targets (only ``probes`` if given), by target id, in recording order.

        ``essentials``: each one cut to what the assessment reads (``souverain.assessment.essentials``),
        from the stored essentials or, for rows written before they existed, from the full payload."""
        out: dict[int, list[Evidence]] = {tid: [] for tid in target_ids}
        if not target_ids:
            return out
        payload: sa.ColumnElement[Any] = evidence.c.payload
        if essentials:
            payload = sa.func.coalesce(evidence.c.essentials, evidence.c.payload)
        query = (
            sa.select(evidence.c.target_id, payload, evidence.c.essentials.is_(None))
            .where(evidence.c.target_id.in_(list(target_ids)))
            .order_by(evidence.c.id)
        )
        if probes is not None:
            query = query.where(evidence.c.probe.in_(sorted(probes)))
        with self.engine.connect() as conn:
            for target_id, text, full in conn.execute(query):
                raw = orjson.loads(text)
                if not essentials:
                    out[target_id].append(Evidence.from_dict(raw))
                    continue
                cut = evidence_essentials(raw) if full else raw
                ev = Evidence.from_dict(raw) if cut is None else Evidence.from_essentials(cut)
                out[target_id].append(ev)
        return out

    def record_targets(self, items: Sequence[RecordedTarget]) -> set[int]:
        """Write finished targets atomically: (run, target, status, started, duration_ms, evidence), and how
        much the scanning process delayed its own work meanwhile (``loop_lag_ms``, ``dns_queue_ms``) when it
        was measured. Returns the ids of the targets written.

        Only targets still ``pending`` are written, so a target is recorded exactly once even if it was
        scanned twice (an interrupted run resumed while a batch was in flight, or two scans of one run at
        once): the transaction first takes the run's row for writing, so that two writers of a run read which
        targets are pending one after the other, each after the other's commit (SQLite has one writer at a
        time; PostgreSQL locks the row).
        """
        if not items:
            return set()
        ids = [item[1] for item in items]
        with self.engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == items[0][0]).values(status=runs.c.status))
            pending = {
                row[0]
                for row in conn.execute(
                    sa.select(targets.c.id).where(targets.c.id.in_(ids), targets.c.status == PENDING)
                )
            }
            fresh = {item[1]: item for item in items if item[1] in pending}
            if not fresh:
                return set()
            conn.execute(
                targets.update()
                .where(targets.c.id == sa.bindparam("tid"), targets.c.status == PENDING)
                .values(
                    status=sa.bindparam("st"),
                    started_at=sa.bindparam("sa"),
                    duration_ms=sa.bindparam("dm"),
                    loop_lag_ms=sa.bindparam("lag"),
                    dns_queue_ms=sa.bindparam("queue"),
                ),
                [
                    {
                        "tid": i[1],
                        "st": i[2],
                        "sa": i[3],
                        "dm": i[4],
                        "lag": i[6] if len(i) > 6 else None,
                        "queue": i[7] if len(i) > 7 else None,
                    }
                    for i in fresh.values()
                ],
            )
            rows = [
                {
                    "run_id": item[0],
                    "target_id": item[1],
                    "probe": ev.probe,
                    "subject": ev.target[:300],
                    "status": str(ev.status),
                    "probe_version": ev.probe_version,
                    "schema_version": ev.schema_version,
                    "started_at": ev.started_at,
                    "duration_ms": ev.duration_ms,
                    "error": ev.error,
                    "payload": dumps(doc),
                    "essentials": None if cut is None else dumps(cut),
                }
                for item in fresh.values()
                for ev in item[5]
                for doc in (ev.to_dict(),)
                for cut in (evidence_essentials(doc),)
            ]
            if rows:
                insert_many(conn, evidence, rows)
        return set(fresh)

    # attributions ------------------------------------------------------------------------------------
    def create_attribution(
        self,
        run_id: int,
        kb_version: str,
        networks: list[dict[str, Any]],
        as_of: str,
        *,
        complete: bool = True,
    ) -> int:
        """Start a new set of dependencies for a run (older sets stay: history of KB changes). An incomplete
        set (filled while a scan records its targets) is ignored by readers until it is completed."""
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
                    complete=complete,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def drop_incomplete_attributions(self, run_id: int) -> int:
        """Delete the incomplete attribution sets of a run (left by an interrupted scan; derived data that no
        reader uses) with their dependency rows; return how many sets. Only for a run no scan is filling."""
        with self.engine.begin() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    sa.select(attributions.c.id).where(
                        attributions.c.run_id == run_id, attributions.c.complete.is_(False)
                    )
                )
            ]
            if ids:
                conn.execute(dependencies.delete().where(dependencies.c.attribution_id.in_(ids)))
                conn.execute(attributions.delete().where(attributions.c.id.in_(ids)))
        return len(ids)

    def complete_attribution(self, attribution_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                attributions.update().where(attributions.c.id == attribution_id).values(complete=True)
            )

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
                "essentials": dumps(dependency_essentials(r)),
            }
            for r in rows
        ]
        with self.engine.begin() as conn:
            insert_many(conn, dependencies, values)

    def latest_attribution(self, run_id: int) -> dict[str, Any] | None:
        query = (
            sa.select(attributions)
            .where(attributions.c.run_id == run_id, attributions.c.complete.is_(True))
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

    def dependencies_of(
        self,
        attribution_id: int,
        *,
        target_ids: Sequence[int] | None = None,
        org_level_only: bool = False,
        essentials: bool = False,
    ) -> list[dict[str, Any]]:
        """Dependency rows of an attribution, with the target's domain (None for org-level ones): all of
        them, those of ``target_ids``, or the organisation-level ones only.

        ``essentials``: only what the assessment reads (``souverain.assessment.essentials``): no reasons,
        confidence or target id; rows with the same essentials share one decoded copy (read-only)."""
        payload: sa.ColumnElement[Any] = dependencies.c.payload
        keys: tuple[str, ...] = _DEPENDENCY_KEYS
        if essentials:
            keys = _DEPENDENCY_ESSENTIAL_KEYS
            payload = sa.func.coalesce(dependencies.c.essentials, dependencies.c.payload)
        query = (
            sa.select(*(dependencies.c[k] for k in keys[:-1]), targets.c.domain, payload)
            .select_from(dependencies.outerjoin(targets, dependencies.c.target_id == targets.c.id))
            .where(dependencies.c.attribution_id == attribution_id)
            # by target, then organisation-level rows: the same order whether the set was written target by
            # target (reassess) or as a scan recorded them
            .order_by(dependencies.c.target_id.is_(None), dependencies.c.target_id, dependencies.c.id)
        )
        if target_ids is not None:
            if not target_ids:
                return []
            query = query.where(dependencies.c.target_id.in_(list(target_ids)))
        if org_level_only:
            query = query.where(dependencies.c.target_id.is_(None))
        out = []
        decoded: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                item = dict(zip(keys, row[:-1], strict=True))
                text = row[-1]
                if essentials:
                    extra = decoded.get(text)
                    if extra is None:
                        extra = decoded[text] = dependency_essentials(orjson.loads(text))
                    item.update(extra)
                else:
                    item.update(orjson.loads(text))
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
        summary: dict[str, Any] | Callable[[], dict[str, Any]],
        orgs: Iterable[dict[str, Any]],
    ) -> int:
        """Store a run's assessment (every organisation's document) in one transaction; returns its id.

        ``orgs`` is consumed in chunks (a generator keeps memory flat); ``summary`` may be a function called
        once they are all written (aggregates computed while they were produced)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                assessments.insert().values(
                    run_id=run_id,
                    attribution_id=attribution_id,
                    methodology=methodology,
                    kb_version=kb_version,
                    as_of=as_of,
                    created_at=time.time(),
                    summary=dumps(summary) if isinstance(summary, dict) else "{}",
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            assessment_id = int(key[0])
            chunk: list[dict[str, Any]] = []
            for o in orgs:
                chunk.append({"assessment_id": assessment_id, "siren": o["siren"], "score": o["score"],
                              "coverage": o["coverage"], "payload": dumps(o)})  # fmt: skip
                if len(chunk) >= 1000:
                    insert_many(conn, org_assessments, chunk)
                    chunk = []
            if chunk:
                insert_many(conn, org_assessments, chunk)
            if not isinstance(summary, dict):
                conn.execute(
                    assessments.update()
                    .where(assessments.c.id == assessment_id)
                    .values(summary=dumps(summary()))
                )
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

    def org_assessments_of(
        self, assessment_id: int, sirens: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Organisation documents of an assessment (only ``sirens`` if given), by SIREN, expanded
        (``souverain.assessment.document``)."""
        query = sa.select(org_assessments.c.siren, org_assessments.c.payload).where(
            org_assessments.c.assessment_id == assessment_id
        )
        if sirens is not None:
            if not sirens:
                return {}
            query = query.where(org_assessments.c.siren.in_(list(sirens)))
        with self.engine.connect() as conn:
            return {siren: expand(orjson.loads(payload)) for siren, payload in conn.execute(query)}

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

    # web: assessments as the pages list them --------------------------------------------------------
    def assessment_rows(self) -> list[dict[str, Any]]:
        """Every assessment (without its summary) with its run's configuration, oldest first."""
        query = (
            sa.select(
                assessments.c.id,
                assessments.c.run_id,
                assessments.c.methodology,
                assessments.c.kb_version,
                assessments.c.as_of,
                assessments.c.created_at,
                runs.c.config,
                runs.c.status,
            )
            .select_from(assessments.join(runs, runs.c.id == assessments.c.run_id))
            .order_by(assessments.c.id)
        )
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["config"] = orjson.loads(row["config"])
        return rows

    def assessment_summary(self, assessment_id: int) -> dict[str, Any] | None:
        query = sa.select(assessments.c.summary).where(assessments.c.id == assessment_id)
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return orjson.loads(value) if value is not None else None

    def org_assessment(self, assessment_id: int, siren: str) -> dict[str, Any] | None:
        """One organisation's stored assessment document (expanded: ``souverain.assessment.document``)."""
        query = sa.select(org_assessments.c.payload).where(
            org_assessments.c.assessment_id == assessment_id, org_assessments.c.siren == siren
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return expand(orjson.loads(value)) if value is not None else None

    def org_scores(self, siren: str, assessment_ids: Sequence[int]) -> dict[int, tuple[float | None, float]]:
        """(score, coverage) of one organisation in each of the given assessments where it was assessed."""
        if not assessment_ids:
            return {}
        query = sa.select(
            org_assessments.c.assessment_id, org_assessments.c.score, org_assessments.c.coverage
        ).where(org_assessments.c.assessment_id.in_(list(assessment_ids)), org_assessments.c.siren == siren)
        with self.engine.connect() as conn:
            return {int(a): (s, float(c)) for a, s, c in conn.execute(query)}

    def organisation(self, siren: str) -> Organisation | None:
        query = sa.select(organisations.c.data).where(organisations.c.siren == siren)
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return Organisation.from_dict(orjson.loads(value)) if value is not None else None

    def iter_org_assessments(self, assessment_id: int, batch: int = 2000) -> Iterator[tuple[str, bytes]]:
        """(siren, raw JSON payload) of every organisation of an assessment, streamed in SIREN order (the
        stored, compact form: ``souverain.assessment.document.expand`` gives the full one)."""
        query = (
            sa.select(org_assessments.c.siren, org_assessments.c.payload)
            .where(org_assessments.c.assessment_id == assessment_id)
            .order_by(org_assessments.c.siren)
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
            for siren, payload in result:
                yield siren, payload.encode() if isinstance(payload, str) else payload

    def organisations_of(self, sirens: Collection[str]) -> dict[str, Organisation]:
        out: dict[str, Organisation] = {}
        items = sorted(sirens)
        with self.engine.connect() as conn:
            for i in range(0, len(items), 900):
                query = sa.select(organisations.c.data).where(organisations.c.siren.in_(items[i : i + 900]))
                for (data,) in conn.execute(query):
                    org = Organisation.from_dict(orjson.loads(data))
                    out[org.siren] = org
        return out

    # web: the per-assessment index ---------------------------------------------------------------------
    def web_index_info(self, assessment_id: int) -> dict[str, Any] | None:
        query = sa.select(web_index).where(web_index.c.assessment_id == assessment_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["stats"] = orjson.loads(out["stats"])
        return out

    def save_web_index(
        self,
        assessment_id: int,
        version: int,
        stats: dict[str, Any],
        tables: dict[str, Sequence[dict[str, Any]]],
    ) -> None:
        """Replace the web index of an assessment in one transaction. ``tables``: web_orgs, web_words,
        web_domains, web_deps, web_areas, web_providers → rows (without ``assessment_id``)."""
        known = {t.name: t for t in (web_orgs, web_words, web_domains, web_deps, web_areas, web_providers)}
        with self.engine.begin() as conn:
            for table in known.values():
                conn.execute(table.delete().where(table.c.assessment_id == assessment_id))
            conn.execute(web_index.delete().where(web_index.c.assessment_id == assessment_id))
            for name, rows in tables.items():
                table = known[name]
                for i in range(0, len(rows), 5000):
                    chunk = [{**r, "assessment_id": assessment_id} for r in rows[i : i + 5000]]
                    insert_many(conn, table, chunk)
            conn.execute(
                web_index.insert().values(
                    assessment_id=assessment_id,
                    version=version,
                    built_at=time.time(),
                    organisations=len(tables.get("web_orgs", ())),
                    stats=dumps(stats),
                )
            )

    # web: operators and API tokens ---------------------------------------------------------------------
    def add_operator(self, username: str, password_hash: str) -> int:
        """Create an operator, or replace the password of an existing one; returns its id."""
        with self.engine.begin() as conn:
            existing = conn.execute(
                sa.select(operators.c.id).where(operators.c.username == username)
            ).scalar()
            if existing is not None:
                conn.execute(
                    operators.update()
                    .where(operators.c.id == existing)
                    .values(password_hash=password_hash, disabled=0)
                )
                return int(existing)
            result = conn.execute(
                operators.insert().values(
                    username=username, password_hash=password_hash, created_at=time.time()
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def operator(self, username: str) -> dict[str, Any] | None:
        query = sa.select(operators).where(operators.c.username == username)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def add_api_token(self, name: str, token_hash: str, per_minute: int) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                api_tokens.insert().values(
                    name=name, token_hash=token_hash, created_at=time.time(), per_minute=per_minute
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def api_token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        query = sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def api_token_list(self) -> list[dict[str, Any]]:
        query = sa.select(api_tokens).order_by(api_tokens.c.id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def revoke_api_token(self, token_id: int) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return bool(result.rowcount)

    def touch_api_token(self, token_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=time.time())
            )

    # web: corrections (right of reply) ------------------------------------------------------------------
    def add_correction(
        self, siren: str, contact_name: str, contact_email: str, topic: str, message: str
    ) -> int:
        """Store a correction as pending, with a ``submitted`` event; returns its id."""
        now = time.time()
        with self.engine.begin() as conn:
            result = conn.execute(
                corrections.insert().values(
                    siren=siren,
                    submitted_at=now,
                    contact_name=contact_name,
                    contact_email=contact_email,
                    topic=topic,
                    message=message,
                    status="pending",
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            correction_id = int(key[0])
            conn.execute(
                correction_events.insert().values(
                    correction_id=correction_id, at=now, actor="submitter", action="submitted"
                )
            )
        return correction_id

    def correction_list(
        self, *, siren: str | None = None, status: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Corrections, newest first, each with its review history (``events``)."""
        query = sa.select(corrections).order_by(corrections.c.id.desc()).limit(limit)
        if siren is not None:
            query = query.where(corrections.c.siren == siren)
        if status is not None:
            query = query.where(corrections.c.status == status)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
            if rows:
                events = (
                    sa.select(correction_events)
                    .where(correction_events.c.correction_id.in_([r["id"] for r in rows]))
                    .order_by(correction_events.c.id)
                )
                by_id: dict[int, list[dict[str, Any]]] = {}
                for event in conn.execute(events).mappings():
                    by_id.setdefault(event["correction_id"], []).append(dict(event))
                for row in rows:
                    row["events"] = by_id.get(row["id"], [])
        return rows

    def review_correction(self, correction_id: int, actor: str, accept: bool, reason: str) -> bool:
        """Accept or reject a pending correction, keeping the reason in its history; False if not pending."""
        now = time.time()
        status = "accepted" if accept else "rejected"
        with self.engine.begin() as conn:
            result = conn.execute(
                corrections.update()
                .where(corrections.c.id == correction_id, corrections.c.status == "pending")
                .values(status=status, reviewed_by=actor, reviewed_at=now, reason=reason)
            )
            if not result.rowcount:
                return False
            conn.execute(
                correction_events.insert().values(
                    correction_id=correction_id, at=now, actor=actor, action=status, reason=reason
                )
            )
        return True

    # web: on-demand scans --------------------------------------------------------------------------------
    def add_scan_request(
        self, token_id: int | None, target: str, siren: str | None, status: str, detail: str | None = None
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                scan_requests.insert().values(
                    token_id=token_id,
                    target=target,
                    siren=siren,
                    status=status,
                    detail=detail,
                    created_at=time.time(),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def update_scan_request(self, request_id: int, **values: Any) -> None:
        if values.get("status") in ("completed", "failed"):
            values.setdefault("finished_at", time.time())
        with self.engine.begin() as conn:
            conn.execute(scan_requests.update().where(scan_requests.c.id == request_id).values(**values))

    def scan_request(self, request_id: int) -> dict[str, Any] | None:
        query = sa.select(scan_requests).where(scan_requests.c.id == request_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None
