"""The procurement database: one DuckDB file holding the staged sources, the derived tables (contracts in
their current state, suppliers, allocations for the shares, the ingest report) and the versions used.

Tables (docs/procurement.md § 6)::

    sources             one row per ingested file: path, sha256, format, records, staged rows
    staging             current state of each published contract, one row per supplier, raw values
    staging_report      problems found while reading a file (record level)
    contracts           contracts after cleaning and de-duplication (current state)
    contract_suppliers  one row per contract × supplier: identifier, registration, ultimate parent
    contract_publishers publishers named in the objet of digital contracts
    allocations         contract × view × bloc weights (what the shares sum)
    ingest_report       every rejected, corrected or flagged value, with its reason
    entities            the KB entities (id, name, label, country) the derivation used
    meta                versions: KB, reference rules, schema
    gleif_relationships, gleif_entities, territories_imported, legal_units   imported reference files
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from souverain.errors import InputError, StoreError

__all__ = ["SCHEMA_VERSION", "STAGING_COLUMNS", "connect", "is_duckdb", "load_rows", "meta", "set_meta"]

SCHEMA_VERSION = "1"

STAGING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("file_id", "INTEGER"),
    ("record_no", "BIGINT"),
    ("location", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("source_key", "VARCHAR"),
    ("id", "VARCHAR"),
    ("buyer_id", "VARCHAR"),
    ("buyer_name", "VARCHAR"),
    ("buyer_category", "VARCHAR"),
    ("buyer_commune", "VARCHAR"),
    ("buyer_departement", "VARCHAR"),
    ("buyer_region", "VARCHAR"),
    ("nature", "VARCHAR"),
    ("objet", "VARCHAR"),
    ("cpv", "VARCHAR"),
    ("procedure", "VARCHAR"),
    ("techniques", "VARCHAR"),
    ("framework_id", "VARCHAR"),
    ("amount", "VARCHAR"),
    ("duration", "VARCHAR"),
    ("notified", "VARCHAR"),
    ("published", "VARCHAR"),
    ("supplier_pos", "INTEGER"),
    ("n_suppliers", "INTEGER"),
    ("supplier_type", "VARCHAR"),
    ("supplier_id", "VARCHAR"),
    ("supplier_name", "VARCHAR"),
    ("modifications", "INTEGER"),
)
"""One staged row: a contract in its current state (modifications applied) × one of its suppliers."""

REPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("file_id", "INTEGER"),
    ("record_no", "BIGINT"),
    ("location", "VARCHAR"),
    ("source_key", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("action", "VARCHAR"),
    ("field", "VARCHAR"),
    ("value", "VARCHAR"),
    ("detail", "VARCHAR"),
)

_DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS sources (
    file_id INTEGER PRIMARY KEY, path VARCHAR, sha256 VARCHAR UNIQUE, bytes BIGINT, format VARCHAR,
    records BIGINT, rows BIGINT);
CREATE TABLE IF NOT EXISTS staging ({", ".join(f"{n} {t}" for n, t in STAGING_COLUMNS)});
CREATE TABLE IF NOT EXISTS staging_report ({", ".join(f"{n} {t}" for n, t in REPORT_COLUMNS)});
CREATE TABLE IF NOT EXISTS gleif_relationships (
    start_lei VARCHAR, end_lei VARCHAR, relationship_type VARCHAR, status VARCHAR, source VARCHAR);
CREATE TABLE IF NOT EXISTS gleif_entities (
    lei VARCHAR PRIMARY KEY, legal_name VARCHAR, country VARCHAR, siren VARCHAR, status VARCHAR,
        source VARCHAR);
CREATE TABLE IF NOT EXISTS territories_imported (
    siren VARCHAR PRIMARY KEY, kind VARCHAR, name VARCHAR, commune VARCHAR, departement VARCHAR,
    region VARCHAR, source VARCHAR);
CREATE TABLE IF NOT EXISTS legal_units (siren VARCHAR PRIMARY KEY, legal_category VARCHAR, name VARCHAR,
    source VARCHAR);
"""


def is_duckdb(path: Path) -> bool:
    """DuckDB's file header: a checksum (8 bytes), then the magic ``DUCK``; an empty file is a new one."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError:
        return True  # let DuckDB report it
    return not head or head[8:12] == b"DUCK"


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (and create) the database; bounded memory, two threads, schema checked."""
    path = path.expanduser()
    if read_only and not path.is_file():
        raise InputError(
            f"--db '{path}': no procurement database there; run: souverain procurement ingest FILES"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and not is_duckdb(path):
        raise InputError(
            f"--db '{path}': not a DuckDB database (the file made by souverain procurement ingest)"
        )
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise StoreError(f"{path}: cannot open the procurement database: {exc}") from None
    con.execute("SET memory_limit = '1200MB'")
    con.execute(f"SET threads = {min(2, os.cpu_count() or 1)}")
    con.execute("SET preserve_insertion_order = false")
    if not read_only:
        con.execute(_DDL)
        found = meta(con, "schema_version")
        if found not in (None, SCHEMA_VERSION):
            raise StoreError(f"{path}: procurement schema {found}, this souverain expects {SCHEMA_VERSION}")
        set_meta(con, "schema_version", SCHEMA_VERSION)
    return con


def meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    try:
        row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    except duckdb.CatalogException:
        return None
    return None if row is None else str(row[0])


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


def load_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[Any]],
    *,
    create: bool = False,
) -> int:
    """Bulk-load Python rows into ``table`` through a temporary CSV file (much faster than executemany).
    ``None`` becomes NULL; strings are written as they are."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        count = 0
        for row in rows:
            writer.writerow(["\\N" if v is None else v for v in row])
            count += 1
        tmp = fh.name
    try:
        if create:
            ddl = ", ".join(f'"{n}" {t}' for n, t in columns)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({ddl})")
        if count:
            spec = ", ".join(f"'{n}': '{t}'" for n, t in columns)
            con.execute(
                f"INSERT INTO {table} SELECT * FROM read_csv('{tmp}', columns = {{{spec}}}, header = false, "
                "auto_detect = false, delim = ',', quote = '\"', escape = '\"', nullstr = '\\N', "
                "allow_quoted_nulls = true, strict_mode = false)"
            )
    finally:
        os.unlink(tmp)
    return count
