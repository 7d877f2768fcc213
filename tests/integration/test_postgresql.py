"""The store on PostgreSQL (`--store postgresql+psycopg://…`): a throwaway cluster of Debian's PostgreSQL on a
loopback port, the upgrades, and a lab scan whose report must equal the same scan's on SQLite."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cli_runner import run_cli
from souverain.store import Store
from store_revisions import columns, counts, new_database, old_store

pytestmark = [pytest.mark.slow]


def test_store_upgrades_on_postgresql_from_revision_0004(postgres: str) -> None:
    url = new_database(postgres, "upgrade")
    engine = old_store(url, "0004")
    before = counts(engine)
    engine.dispose()
    assert min(before.values()) == 1
    store = Store(url)
    assert counts(store.engine) == before
    assert {"essentials", "loop_lag_ms", "complete"} <= (
        columns(store.engine, "evidence")
        | columns(store.engine, "targets")
        | columns(store.engine, "attributions")
    )
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT complete FROM attributions").scalar_one() is True
    store.close()


_VOLATILE = re.compile(
    r"_ms$|_at$|^(ttl|seconds|x-amz-cf-id|via|akamai-grn|cf-ray|x-served-by|x-request-id|cached)$"
)


def _stable(value: Any) -> Any:
    """A report document without timings, dates, per-request CDN ids or scan-order marks."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not _VOLATILE.search(k)}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"[0-9a-f]{16}", "…", value)
    return value


@pytest.mark.lab
def test_lab_scan_on_postgresql_reports_as_on_sqlite(lab: Any, postgres: str, tmp_path: Path) -> None:
    """Scan, streamed attribution, assessment on two cores and report through PostgreSQL give the report
    the same scan gives through SQLite (organisations owning a hostile target aside: their time-outs
    depend on the resolver's state)."""
    reports = {}
    for name, store in (("sqlite", str(tmp_path / "s.db")), ("postgresql", new_database(postgres, "scan"))):
        scanned = run_cli(
            "scan", "--lab", "--dir", str(lab.dir), "--store", store, home=tmp_path, cwd=tmp_path
        )
        assert scanned.returncode == 0, scanned.stderr[-2000:]
        if name == "postgresql":  # the command line took the URL for a URL (a Path folds its "//")
            on_server = Store(store)
            assert on_server.latest_run() == 1 and on_server.status_counts(1).get("pending", 0) == 0
            on_server.close()
        out = tmp_path / f"report-{name}"
        written = run_cli("report", "latest", "--store", store, "--out", str(out), home=tmp_path)
        assert written.returncode == 0, written.stderr[-2000:]
        reports[name] = out
    hostile = {d for d, truth in lab.truth["domains"].items() if truth["hostile"]}
    compared = 0
    files = sorted(p.name for p in (reports["sqlite"] / "orgs").glob("*.json"))
    assert files == sorted(p.name for p in (reports["postgresql"] / "orgs").glob("*.json"))
    for name in files:
        on_sqlite = json.loads((reports["sqlite"] / "orgs" / name).read_text())
        if hostile & set(json.dumps(on_sqlite).split('"')):
            continue
        on_postgresql = json.loads((reports["postgresql"] / "orgs" / name).read_text())
        assert _stable(on_postgresql) == _stable(on_sqlite), name
        compared += 1
    assert compared >= 0.9 * len(files) and compared > 50
    expected = ["report-postgresql", "report-sqlite", "s.db", "s.db.runs.lock"]  # the SQLite scan's lock
    assert sorted(p.name for p in tmp_path.iterdir()) == expected + [
        n for n in ("s.db-shm", "s.db-wal") if (tmp_path / n).exists()
    ]  # nothing written where the URL would be a relative file name
