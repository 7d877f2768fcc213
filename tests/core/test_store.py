from pathlib import Path

import pytest
import sqlalchemy as sa

from souverain.errors import RunNotFound
from souverain.evidence import Evidence, Status
from souverain.portfolio import Domain, Organisation, Territory
from souverain.store import Store, Writer
from souverain.store.schema import evidence

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
