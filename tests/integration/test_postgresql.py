"""The store on PostgreSQL (`--store postgresql+psycopg://…`): a throwaway cluster of Debian's PostgreSQL on a
loopback port, the upgrades, and a lab scan whose report must equal the same scan's on SQLite."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cli_runner import run_cli
from souverain.store import Store
from store_revisions import columns, counts, old_store

pytestmark = [pytest.mark.slow]


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """The URL of a PostgreSQL server of our own (trust authentication, 127.0.0.1 only), stopped after."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("Debian's postgresql is not installed (scripts/setup.sh installs it)")
    pytest.importorskip(
        "psycopg", reason="the postgresql extra is not installed (scripts/setup.sh installs it)"
    )
    if os.geteuid() != 0:
        pytest.skip("starts PostgreSQL as the postgres user: needs root")
    base = Path(tempfile.mkdtemp(prefix="souverain-postgres-"))  # pytest's folders are root's alone
    data = base / "data"
    data.mkdir()
    shutil.chown(base, "postgres")
    shutil.chown(data, "postgres")
    port = _free_port()

    def as_postgres(*args: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{Path(args[0]).name}: {done.stderr or done.stdout}"

    try:
        as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        as_postgres(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"
        )
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
        finally:
            as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _database(server: str, name: str) -> str:
    """A new, empty database on ``server``; its URL."""
    engine = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return f"{server}/{name}"


def test_store_upgrades_on_postgresql_from_revision_0004(postgres: str) -> None:
    url = _database(postgres, "upgrade")
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
    store.engine.dispose()


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
    for name, store in (("sqlite", str(tmp_path / "s.db")), ("postgresql", _database(postgres, "scan"))):
        scanned = run_cli(
            "scan", "--lab", "--dir", str(lab.dir), "--store", store, home=tmp_path, cwd=tmp_path
        )
        assert scanned.returncode == 0, scanned.stderr[-2000:]
        if name == "postgresql":  # the command line took the URL for a URL (a Path folds its "//")
            on_server = Store(store)
            assert on_server.latest_run() == 1 and on_server.status_counts(1).get("pending", 0) == 0
            on_server.engine.dispose()
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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report-postgresql", "report-sqlite", "s.db"] + [
        n for n in ("s.db-shm", "s.db-wal") if (tmp_path / n).exists()
    ]  # nothing written where the URL would be a relative file name
