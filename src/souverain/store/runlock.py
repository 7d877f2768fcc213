"""Which process scans a run.

A scan holds its run with a lock that the operating system (SQLite store: a lock on a byte of a file beside
the database) or the database server (PostgreSQL: a session advisory lock) releases when the holder ends,
however it ends — Ctrl-C, ``kill -9``, a crash. So a second ``scan --resume`` of a run being scanned is
refused instead of scanning and assessing it a second time, and a run left ``running`` by a killed scan can
be told from one being scanned (``Store.run_held``).

SQLite: one file ``<store>.runs.lock``; run N's lock is an open-file-description lock (Linux ``F_OFD_SETLK``:
owned by the open file, so two holders in one process exclude each other too) on bytes [8N, 8N+8), in which
the holder writes its process id for the message of whoever finds it taken. PostgreSQL:
``pg_try_advisory_lock(namespace, run)`` on a connection kept open while the run is held, named after the
holding process (``application_name``) for the same message.
"""

from __future__ import annotations

import fcntl
import os
import struct
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from souverain.errors import InputError

__all__ = ["RunBusy", "RunLock", "hold", "is_held"]

_PG_NAMESPACE = 0x736F7572  # first key of the runs' advisory locks ("sour"); the second is the run id
_SLOT = 8  # bytes per run in the lock file: the holder's process id
_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", None)  # Linux ≥ 3.15; elsewhere per-process POSIX locks


class RunBusy(InputError):
    """Another process is scanning the run."""


class RunLock:
    """A held run; ``release()`` (idempotent) lets another process have it."""

    def __init__(self, release: Callable[[], None] | None) -> None:
        self._release = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


def _flock(kind: int, start: int) -> bytes:
    # struct flock on Linux: l_type, l_whence (short), l_start, l_len (off_t), l_pid (pid_t), padded to 8
    return struct.pack("hhqqixxxx", kind, os.SEEK_SET, start, _SLOT, 0)


def _try_lock_range(fd: int, start: int) -> bool:
    try:
        if _OFD_SETLK is not None:
            fcntl.fcntl(fd, _OFD_SETLK, _flock(fcntl.F_WRLCK, start))
        else:  # pragma: no cover - not Linux
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, _SLOT, start)
    except OSError:
        return False
    return True


def _lock_file(database: str) -> Path:
    return Path(database + ".runs.lock")


def _busy(run_id: int, holder: str) -> RunBusy:
    return RunBusy(
        f"run {run_id} is being scanned by another process ({holder}); wait for it to end, or stop it "
        "and resume the run then"
    )


def _hold_file(database: str, run_id: int) -> RunLock:
    path = _lock_file(database)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    start = run_id * _SLOT
    if not _try_lock_range(fd, start):
        raw = os.pread(fd, _SLOT, start)
        os.close(fd)
        pid = int.from_bytes(raw, "little") if len(raw) == _SLOT else 0
        raise _busy(run_id, f"process {pid}" if pid else "a process starting")
    os.pwrite(fd, os.getpid().to_bytes(_SLOT, "little"), start)
    return RunLock(lambda: os.close(fd))  # closing the descriptor releases its locks


def _hold_postgresql(engine: Engine, run_id: int) -> RunLock:
    connection = engine.connect()
    try:
        connection.exec_driver_sql(f"SET application_name = 'souverain scan, process {os.getpid()}'")
        taken = connection.execute(
            sa.text("SELECT pg_try_advisory_lock(:ns, :run)"), {"ns": _PG_NAMESPACE, "run": run_id}
        ).scalar_one()
        connection.commit()
        if not taken:
            holder = connection.execute(
                sa.text(
                    "SELECT a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.classid = :ns "
                    "AND l.objid = :run AND l.objsubid = 2 AND l.granted"
                ),
                {"ns": _PG_NAMESPACE, "run": run_id},
            ).first()
            connection.close()
            name = holder[0] if holder is not None and holder[0] else "another client of the database"
            where = f" at {holder[1]}" if holder is not None and holder[1] else ""
            raise _busy(run_id, f"{name}{where}")
    except sa.exc.SQLAlchemyError:
        connection.close()
        raise

    def release() -> None:
        try:  # the lock ends with the session; invalidate rather than return it to the pool
            connection.invalidate()
        finally:
            connection.close()

    return RunLock(release)


def hold(engine: Engine, run_id: int) -> RunLock:
    """Hold ``run_id`` for this process until ``release()`` or the process's end; ``RunBusy`` (naming the
    holder) when another holds it. An in-memory SQLite store has no other process: nothing to hold."""
    database = engine.url.database
    if engine.dialect.name == "postgresql":
        return _hold_postgresql(engine, run_id)
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        return _hold_file(database, run_id)
    return RunLock(None)


def is_held(engine: Engine, run_id: int) -> bool:
    """Whether some process holds ``run_id`` now (this one included, through another ``hold``)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and not _lock_file(database).exists():
        return False  # no run was ever held here (a read creates no file)
    try:
        lock = hold(engine, run_id)
    except RunBusy:
        return True
    lock.release()
    return False
