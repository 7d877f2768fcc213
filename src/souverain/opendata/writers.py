"""Writing one table to CSV (RFC 4180, UTF-8) and to the SQLite file at once, then to Parquet with DuckDB.

Values are checked against the column's Table Schema type on the way; empty strings are written as null (a
CSV cannot tell them apart). Every file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import duckdb

from souverain.errors import InputError
from souverain.opendata.tables import TableField, TableSpec

__all__ = ["TableWriter", "open_sqlite", "to_parquet"]

SQLITE_TYPES = {
    "string": "TEXT",
    "integer": "INTEGER",
    "number": "REAL",
    "boolean": "INTEGER",
    "date": "TEXT",
    "datetime": "TEXT",
}
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
}
FAST_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float}
"""Python type of the values that need no conversion, per column type."""
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
BATCH = 2_000


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check(table: str, line: int, field: TableField, value: Any) -> Any:
    """The value as the column's type wants it (or a one-line error naming table, row and column)."""

    def wrong(expected: str) -> InputError:
        return InputError(
            f"table '{table}' row {line} column '{field.name}': expected {expected}, got "
            f"{type(value).__name__} {str(value)[:40]!r}"
        )

    if value is None or value == "":
        if field.required:
            raise InputError(f"table '{table}' row {line} column '{field.name}': required value missing")
        return None
    kind = field.type
    if kind == "string":
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise wrong("a boolean")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise wrong("a finite number")
        return float(value)
    if kind == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        if not isinstance(value, str) or not DATE.match(value):
            raise wrong("a date YYYY-MM-DD")
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if not isinstance(value, str) or not DATETIME.match(value):
        raise wrong("a UTC datetime YYYY-MM-DDThh:mm:ssZ")
    return value


def open_sqlite(path: Path) -> sqlite3.Connection:
    """A fresh SQLite file for the export (any previous file at ``path`` is removed)."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    return conn


class TableWriter:
    """Rows of one table into its CSV file and its SQLite table."""

    def __init__(self, spec: TableSpec, csv_path: Path, db: sqlite3.Connection) -> None:
        self.spec, self.csv_path, self.db = spec, csv_path, db
        self.rows = 0
        self._names = [f.name for f in spec.fields]
        self._known = frozenset(self._names)
        self._plan = [(f, FAST_TYPES.get(f.type)) for f in spec.fields]
        self._tmp = csv_path.with_name(csv_path.name + ".tmp")
        self._file: IO[str] = self._tmp.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file, lineterminator="\r\n")
        self._csv.writerow(self._names)
        self._batch: list[tuple[Any, ...]] = []
        columns = [
            f"{_quote(f.name)} {SQLITE_TYPES[f.type]}{' NOT NULL' if f.required else ''}" for f in spec.fields
        ]
        if spec.primary_key:
            columns.append(f"PRIMARY KEY ({', '.join(_quote(c) for c in spec.primary_key)})")
        db.execute(f"CREATE TABLE {_quote(spec.name)} ({', '.join(columns)})")
        self._insert = f"INSERT INTO {_quote(spec.name)} VALUES ({', '.join('?' for _ in spec.fields)})"

    def write(self, row: Mapping[str, Any]) -> None:
        """Check and write one row (the common types take a fast path; the rest goes through ``_check``)."""
        self.rows += 1
        if not self._known.issuperset(row):
            unknown = sorted(set(row) - self._known)
            raise InputError(
                f"table '{self.spec.name}' row {self.rows}: unknown column(s) {', '.join(unknown)}"
            )
        cells: list[str] = []
        values: list[Any] = []
        cell, keep, get = cells.append, values.append, row.get
        for field, expected in self._plan:
            value: Any = get(field.name)
            kind: type = type(value)
            if kind is expected and value != "" and (kind is not float or math.isfinite(value)):
                cell(value if kind is str else repr(value) if kind is float else str(value))
                keep(value)
                continue
            value = _check(self.spec.name, self.rows, field, value)
            kind = type(value)
            if value is None:
                cell("")
            elif kind is bool:
                cell("true" if value else "false")
                value = int(value)
            elif kind is float:
                cell(repr(value))
            else:
                cell(str(value))
            keep(value)
        self._csv.writerow(cells)
        self._batch.append(tuple(values))
        if len(self._batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        try:
            self.db.executemany(self._insert, self._batch)
        except sqlite3.IntegrityError as exc:
            raise InputError(
                f"table '{self.spec.name}': {exc} (primary key {', '.join(self.spec.primary_key)})"
            ) from None
        self._batch = []

    def close(self) -> None:
        """Finish the table: last rows, indexes on siren/domain, CSV renamed into place."""
        self._flush()
        self._file.close()
        first_key = self.spec.primary_key[:1]
        for column in self.spec.indexed:
            if (column,) != first_key:
                name = _quote(f"ix_{self.spec.name}_{column}")
                self.db.execute(f"CREATE INDEX {name} ON {_quote(self.spec.name)} ({_quote(column)})")
        os.replace(self._tmp, self.csv_path)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


def to_parquet(spec: TableSpec, csv_path: Path, parquet_path: Path) -> None:
    """Convert the table's CSV file to Parquet with the column types of its schema (one thread, so that the
    bytes are the same from one export to the next)."""
    tmp = parquet_path.with_name(parquet_path.name + ".tmp")
    columns = "{" + ", ".join(f"'{f.name}': '{DUCKDB_TYPES[f.type]}'" for f in spec.fields) + "}"
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET threads=1")
        con.execute("SET preserve_insertion_order=true")
        source = (
            f"read_csv(?, header=true, auto_detect=false, delim=',', quote='\"', escape='\"', "
            f"new_line='\\r\\n', columns={columns}, timestampformat='%Y-%m-%dT%H:%M:%SZ', "
            f"dateformat='%Y-%m-%d')"
        )
        con.execute(
            f"COPY (SELECT * FROM {source}) TO '{_sql_string(str(tmp))}' (FORMAT parquet, COMPRESSION zstd)",
            [str(csv_path)],
        )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    os.replace(tmp, parquet_path)


def _sql_string(text: str) -> str:
    return text.replace("'", "''")
