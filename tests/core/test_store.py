import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from souverain.errors import RunNotFound, StoreError
from souverain.evidence import Evidence, Status
from souverain.portfolio import Domain, Organisation, Territory
from souverain.store import Store, Writer
from souverain.store import db as db_module
from souverain.store.rows import BUSY_MS, is_busy, scanner_load
from souverain.store.runlock import RunBusy
from souverain.store.schema import evidence
from store_revisions import columns, counts, new_database, old_store

ORGS = [
    Organisation(
        "213700016",
        "Commune A",
        "commune",
        Territory("37001", "37", "24"),
        (Domain("a.fr", frozenset({"web", "mail"})), Domain("shared.fr", frozenset({"web"}))),
    ),
    Organisation(
        "200000016",
        "EPCI B",
        "epci",
        Territory(None, "37", "24"),
        (Domain("shared.fr", frozenset({"mail"})),),
    ),
]


def test_create_run_dedups_domains_and_merges_roles(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", ORGS, {"resolver": "127.0.0.1"})
    targets = {t.domain: t for t in store.targets(run_id)}
    assert set(targets) == {"a.fr", "shared.fr"}
    assert targets["shared.fr"].roles == frozenset({"web", "mail"})
    assert targets["shared.fr"].sirens == ("213700016", "200000016")
    assert store.status_counts(run_id) == {"pending": 2}
    assert [o.siren for o in store.run_organisations(run_id)] == ["200000016", "213700016"]
    assert [[o.siren for o in b] for b in store.run_organisation_batches(run_id, 1)] == [
        ["200000016"],
        ["213700016"],
    ]
    assert [list(b) for b in store.run_organisation_batches(run_id, 5)] == [store.run_organisations(run_id)]
    assert (
        store.count_run_organisations(run_id) == 2
        and store.run_organisations(run_id, ["213700016"]) == ORGS[:1]
    )
    assert store.run(run_id).config == {"resolver": "127.0.0.1"}
    with pytest.raises(RunNotFound, match="run 99"):
        store.run(99)


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_each_target_recorded_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", ORGS, {})
    target = store.targets(run_id)[0]
    ev = Evidence("dns", target.domain, Status.OK, {"A": ["127.0.0.1"]})
    store.record_targets([(run_id, target.id, "ok", 1.0, 2.0, [ev])])
    store.record_targets([(run_id, target.id, "error", 1.0, 2.0, [ev, ev])])  # a second writer loses
    assert store.status_counts(run_id) == {"ok": 1, "pending": 1}
    assert [t.domain for t in store.targets(run_id, pending_only=True)] == ["shared.fr"]
    stored = store.evidence_for([target.id])[target.id]
    assert len(stored) == 1 and stored[0].data == {"A": ["127.0.0.1"]} and stored[0].status is Status.OK


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_processes_recording_the_same_targets_at_once_record_each_once(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    """Two scans of one run (two ``scan --resume`` at once) record the same targets: both read them as
    pending before either writes. Each target and its evidence must still be written once."""
    path: str | Path = tmp_path / "s.db"
    if database == "postgresql":
        path = new_database(request.getfixturevalue("postgres"), "concurrent")
    first = Store(path)
    first.create_run("p.yaml", ORGS, {})
    first.close()
    stores = [Store(path), Store(path)]
    items = [
        (1, t.id, "ok", 1.0, 2.0, [Evidence("dns", t.domain, Status.OK, {"n": n})])
        for n, t in enumerate(stores[0].targets(1))
    ]
    # both writers pause just before they mark the targets done, after they have read which are pending:
    # each waits (up to 2 s) for the other to get there too
    meeting = threading.Barrier(2)
    for store in stores:

        @sa.event.listens_for(store.engine, "before_cursor_execute")
        def _meet(conn: object, cursor: object, statement: str, *rest: object) -> None:
            if statement.lstrip().upper().startswith("UPDATE TARGETS"):
                with contextlib.suppress(threading.BrokenBarrierError):
                    meeting.wait(timeout=2)

    written: list[set[int]] = [set(), set()]

    def record(i: int) -> None:
        written[i] = stores[i].record_targets(items)

    threads = [threading.Thread(target=record, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(written[0] | written[1]) == sorted(i[1] for i in items)
    assert not written[0] & written[1], "a target written by both"
    assert counts(stores[0].engine)["evidence"] == len(items)
    for store in stores:
        store.close()


_HOLDER = """
import sys, time
from souverain.store import Store
Store(sys.argv[1]).hold_run(1)
print("held", flush=True)
time.sleep(120)
"""


def _start_holder(path: str | Path) -> subprocess.Popen[str]:
    """Another process holding run 1 of the store at ``path`` until it is killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held", holder.stderr
    return holder


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_run_is_scanned_by_one_process_at_a_time(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    """Two `scan --resume` of one run both scanned and both assessed it: the scan now holds its run, the
    second is refused naming the holder, and a holder killed with -9 leaves the run free at once."""
    path: str | Path = tmp_path / "s.db"
    if database == "postgresql":
        path = new_database(request.getfixturevalue("postgres"), "held")
    store = Store(path)
    store.create_run("p.yaml", ORGS, {})
    assert not store.run_held(1)
    holder = _start_holder(path)
    try:
        holder_name = (
            f"process {holder.pid}" if database == "sqlite" else f"souverain scan, process {holder.pid}"
        )
        with pytest.raises(RunBusy, match=rf"run 1 is being scanned by another process \({holder_name}"):
            store.hold_run(1)
        assert store.run_held(1)
        assert not store.run_held(2)  # one run's lock leaves the others free
        store.hold_run(2).release()
    finally:
        holder.kill()
        holder.communicate()
    deadline = time.monotonic() + 10  # PostgreSQL ends the session once it sees the connection closed
    while store.run_held(1) and time.monotonic() < deadline:
        time.sleep(0.05)
    lock = store.hold_run(1)
    with pytest.raises(RunBusy):  # a second holder in the same process is refused too
        store.hold_run(1)
    assert store.run_held(1)
    lock.release()
    lock.release()  # idempotent
    assert not store.run_held(1)
    store.close()


def test_checking_a_run_creates_no_file(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.create_run("p.yaml", ORGS, {})
    assert not store.run_held(1)
    assert sorted(p.name for p in tmp_path.iterdir() if "lock" in p.name) == []


def test_two_processes_opening_a_new_store_at_once_both_open_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan creating its store while another process opens it (`serve`, a test polling the file): the
    second read the old revision, then failed at its first DDL with "database is locked" once the first had
    committed — 4 of 12 lab scans opened that way failed. Upgrades now take the write lock from the start."""
    path = tmp_path / "s.db"
    upgrade = db_module.command.upgrade
    first_inside = threading.Event()

    def slow_first_upgrade(*args: object, **kwargs: object) -> None:
        if threading.current_thread().name == "first":
            first_inside.set()
            time.sleep(1.0)  # the second opener arrives while this upgrade runs
        upgrade(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(db_module.command, "upgrade", slow_first_upgrade)
    failures: list[BaseException] = []

    def open_store() -> None:
        try:
            Store(path).close()
        except BaseException as exc:  # reported below
            failures.append(exc)

    first = threading.Thread(target=open_store, name="first")
    second = threading.Thread(target=open_store, name="second")
    first.start()
    assert first_inside.wait(30)
    second.start()
    for thread in (first, second):
        thread.join(60)
    assert failures == []
    assert Store(path).status_counts(1) == {}  # usable: the schema is there (no run 1 yet)


def test_writer_batches_and_flushes_on_close(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", ORGS, {})
    with Writer(store, batch=1000, interval=60) as writer:
        for target in store.targets(run_id):
            writer.submit((run_id, target.id, "ok", 0.0, 1.0, [Evidence("dns", target.domain, Status.OK)]))
    assert writer.written == 2
    assert store.status_counts(run_id) == {"ok": 2}
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(evidence)).scalar() == 2


def test_reopen_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", ORGS, {})
    again = Store(tmp_path / "s.db")
    assert again.latest_run() == run_id
    second = again.create_run("p.yaml", ORGS, {})
    assert second == run_id + 1 and len(again.runs()) == 2


def test_essentials_stored_beside_payloads_and_read_back(tmp_path: Path) -> None:
    """Hygiene evidence gets its essentials (the fields the checks read, same paths); other probes none;
    a store migrated from before them (null column) gives the same essentials, pruned on read."""
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", ORGS, {})
    target = store.targets(run_id)[0]
    dns = Evidence(
        "dns",
        target.domain,
        Status.OK,
        {
            "ad": {"SOA": True, "A": True, "MX": False},
            "queries": {"CAA": {"rrs": ['0 issue "x"'], "ttl": 60}, "TXT": {"rrs": ["v=spf1 -all"]}},
            "mx_hosts": [{"host": "mx.a.fr", "addresses": ["127.0.0.9"]}],
            "ns_hosts": ["ns1.a.fr"],
        },
    )
    leaf = {"key_type": "RSA", "key_size": 2048}
    tls = Evidence(
        "tls",
        target.domain,
        Status.OK,
        {"endpoints": [{"status": "ok", "cipher": "X", "chain": [{**leaf, "pem": "…"}], "ocsp": {}}]},
    )
    page = Evidence("page", target.domain, Status.OK, {"scripts": ["https://cdn.example/x.js"]})
    store.record_targets([(run_id, target.id, "ok", 1.0, 2.0, [dns, tls, page])])

    full = {e.probe: e for e in store.evidence_for([target.id])[target.id]}
    assert full["dns"].data == dns.data and full["page"].data == page.data
    cut = {e.probe: e for e in store.evidence_for([target.id], essentials=True)[target.id]}
    assert cut["dns"].data == {
        "ad": {"SOA": True, "A": True},
        "queries": {"CAA": {"rrs": ['0 issue "x"']}},
        "mx_hosts": [{"host": "mx.a.fr"}],
    }
    assert cut["tls"].data == {"endpoints": [{"status": "ok", "cipher": "X", "chain": [leaf]}]}
    assert cut["page"].data == page.data  # not a hygiene probe: read whole
    assert cut["dns"].status is Status.OK and cut["dns"].target == target.domain
    with store.engine.connect() as conn:
        stored = dict(conn.execute(sa.select(evidence.c.probe, evidence.c.essentials)).all())
    assert stored["page"] is None and stored["dns"] is not None

    with store.engine.begin() as conn:  # as a store written before revision 0005 reads
        conn.execute(evidence.update().values(essentials=None))
    again = {e.probe: e for e in store.evidence_for([target.id], essentials=True)[target.id]}
    assert {p: e.data for p, e in again.items()} == {p: e.data for p, e in cut.items()}


def test_dependency_rows_without_reasons(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", ORGS, {})
    target = store.targets(run_id)[0]
    attribution = store.create_attribution(run_id, "kb1", [], "2026-11-24")
    exposures = [
        {"law": "us-cloud-act", "via": ["x"], "country": "US", "verified": True, "through": "operator"}
    ]
    row = {"target_id": target.id, "role": "web-hosting", "subject": target.domain, "operator": "x",
           "infrastructure": "x", "confidence": "high", "scope": "web", "exposures": exposures,
           "reasons": [{"signal": "asn", "detail": "AS1"}]}  # fmt: skip
    store.add_dependencies(attribution, [row])
    (full,) = store.dependencies_of(attribution)
    (cut,) = store.dependencies_of(attribution, essentials=True)
    assert full["reasons"] == row["reasons"] and full["confidence"] == "high"
    assert full["target_id"] == target.id and full["exposures"] == exposures
    assert cut == {
        "siren": None,
        "role": "web-hosting",
        "subject": target.domain,
        "operator": "x",
        "infrastructure": "x",
        "domain": target.domain,
        "scope": "web",
        "exposures": [{"law": "us-cloud-act", "through": "operator", "via": ["x"]}],  # no country, verified
    }
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE dependencies SET essentials = NULL"))
    assert store.dependencies_of(attribution, essentials=True) == [cut]


def test_insert_many_writes_what_sqlalchemy_writes() -> None:
    from souverain.store import db

    meta = sa.MetaData()

    def table(name: str, *extra: sa.Column) -> sa.Table:
        return sa.Table(
            name,
            meta,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("label", sa.String(50), nullable=False),
            sa.Column("score", sa.Float),
            sa.Column("note", sa.Text),
            *extra,
        )

    ours, theirs = table("ours"), table("theirs")
    ours_d, theirs_d = (
        table(n, sa.Column("kind", sa.String(10), default="plain")) for n in ("ours_d", "theirs_d")
    )
    engine = sa.create_engine("sqlite://")
    meta.create_all(engine)
    rows = [
        {"label": f"r{i}", "score": i if i % 2 else i + 0.5, "note": None if i % 3 else "é"}
        for i in range(50)
    ]
    with engine.begin() as conn:
        db.insert_many(conn, ours, rows)
        db.insert_many(conn, ours_d, rows)  # "kind" has a Python-side default: SQLAlchemy's own path
        db.insert_many(conn, ours, [])
        conn.execute(theirs.insert(), rows)
        conn.execute(theirs_d.insert(), rows)
        got, want, got_d, want_d = (
            conn.execute(sa.select(t).order_by(t.c.id)).all() for t in (ours, theirs, ours_d, theirs_d)
        )
        types = conn.exec_driver_sql("SELECT typeof(score) FROM ours WHERE id = 2").scalar()
    assert db._INSERTS[(ours, ("label", "score", "note"), "sqlite")] is not None  # the direct path was taken
    assert db._INSERTS[(ours_d, ("label", "score", "note"), "sqlite")] is None
    assert got == want and len(got) == 50 and got_d == want_d
    assert got[1].score == 1.0 and types == "real" and {r.kind for r in got_d} == {"plain"}


def test_scanner_load_recorded_per_target(tmp_path: Path) -> None:
    """How much the scanning process delayed its own work while a target was in flight: stored when
    measured, null otherwise (imported evidence, runs recorded before revision 0006), summed up per run."""
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", ORGS, {})
    a, shared = store.targets(run_id)
    ev = Evidence("dns", a.domain, Status.TIMEOUT)
    store.record_targets([(run_id, a.id, "timeout", 1.0, 2.0, [ev], 40.0, 1800.0)])
    store.record_targets([(run_id, shared.id, "ok", 1.0, 2.0, [ev])])
    rows = {t.domain: t for t in store.targets(run_id)}
    assert (rows["a.fr"].loop_lag_ms, rows["a.fr"].dns_queue_ms) == (40.0, 1800.0)
    assert (rows["shared.fr"].loop_lag_ms, rows["shared.fr"].dns_queue_ms) == (None, None)
    assert scanner_load(rows.values()) == {
        "measured_targets": 1,
        "busy_threshold_ms": BUSY_MS,
        "busy_targets": 1,
        "busy_by_status": {"timeout": 1},
        "worst_loop_lag_ms": 40.0,
        "worst_dns_queue_ms": 1800.0,
    }
    assert is_busy(BUSY_MS, 0.0) and is_busy(None, BUSY_MS) and not is_busy(BUSY_MS - 1, None)


def test_store_from_revision_0005_gains_the_scanner_load_columns(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = db_module.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    assert "loop_lag_ms" not in {c["name"] for c in sa.inspect(engine).get_columns("targets")}
    engine.dispose()
    store = Store(tmp_path / "old.db")
    run_id = store.create_run("p.yaml", ORGS, {})
    assert [t.loop_lag_ms for t in store.targets(run_id)] == [None, None]
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("targets")}
    assert {"loop_lag_ms", "dns_queue_ms"} <= columns


NEW_COLUMNS = {  # a column added to each table by revisions 0005, 0006 and 0007
    "evidence": "essentials",
    "dependencies": "essentials",
    "targets": "loop_lag_ms",
    "attributions": "complete",
}


def test_store_with_data_from_revision_0004_migrates_to_head(tmp_path: Path) -> None:
    """Revision 0007 rebuilt ``attributions`` on SQLite, and the DROP of the old table failed on the
    dependency rows' foreign keys: every store with an attribution could not be opened any more."""
    engine = old_store(f"sqlite:///{tmp_path / 'old.db'}", "0004")
    before = counts(engine)
    engine.dispose()
    assert min(before.values()) == 1 and before["dependencies"] == 1
    store = Store(tmp_path / "old.db")
    assert counts(store.engine) == before
    for table, column in NEW_COLUMNS.items():
        assert column in columns(store.engine, table)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT complete FROM attributions").scalar_one() == 1
        assert connection.exec_driver_sql("SELECT essentials FROM evidence").scalar_one() is None
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1  # the store's own engine


def test_store_left_half_migrated_by_an_earlier_failed_upgrade_migrates(tmp_path: Path) -> None:
    """What the failed upgrade left: the columns of 0005 and 0006 committed one by one, the revision not."""
    engine = old_store(f"sqlite:///{tmp_path / 'old.db'}", "0004")
    with engine.begin() as connection:
        for table, column in (("evidence", "essentials"), ("dependencies", "essentials")):
            connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        for column in ("loop_lag_ms", "dns_queue_ms"):
            connection.exec_driver_sql(f"ALTER TABLE targets ADD COLUMN {column} FLOAT")
    before = counts(engine)
    engine.dispose()
    store = Store(tmp_path / "old.db")
    assert counts(store.engine) == before and "complete" in columns(store.engine, "attributions")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == "0007"


def test_a_failed_upgrade_leaves_the_store_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """All pending revisions run in one transaction, DDL included (pysqlite committed before each DDL
    statement): a failure in 0007 leaves the columns of 0005 and 0006 out, and the revision at 0004."""
    import alembic.op

    engine = old_store(f"sqlite:///{tmp_path / 'old.db'}", "0004")
    before = counts(engine)
    engine.dispose()
    added = alembic.op.add_column

    def failing(table: str, column: sa.Column[object], **kw: object) -> None:
        if table == "attributions":
            raise sa.exc.OperationalError("ALTER TABLE attributions", {}, Exception("disk I/O error"))
        added(table, column, **kw)

    monkeypatch.setattr(alembic.op, "add_column", failing)
    with pytest.raises(StoreError, match="cannot open or migrate: OperationalError"):
        Store(tmp_path / "old.db")
    monkeypatch.undo()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    assert counts(engine) == before
    assert "essentials" not in columns(engine, "evidence") and "loop_lag_ms" not in columns(engine, "targets")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == "0004"
    engine.dispose()
    store = Store(tmp_path / "old.db")  # and it upgrades once the cause is gone
    assert counts(store.engine) == before and "complete" in columns(store.engine, "attributions")


def test_an_upgrade_that_ends_with_broken_references_is_undone(tmp_path: Path) -> None:
    """Foreign keys are off while tables may be rebuilt, then checked before the commit."""
    engine = old_store(f"sqlite:///{tmp_path / 'old.db'}", "0004")
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    with engine.begin() as connection:  # a dependency row whose attribution does not exist
        connection.exec_driver_sql("UPDATE dependencies SET attribution_id = 99")
    engine.dispose()
    with pytest.raises(
        StoreError, match=r"from revision 0004, 1 references are broken \(first in table dependencies\)"
    ):
        Store(tmp_path / "old.db")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    assert "essentials" not in columns(engine, "evidence")
    engine.dispose()


def test_a_store_from_a_newer_souverain_is_refused_by_name(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    store.engine.dispose()
    with pytest.raises(
        StoreError, match=r"s\.db': schema revision 0099 is unknown to souverain .* up to [0-9]{4}\)"
    ):
        Store(tmp_path / "s.db")
