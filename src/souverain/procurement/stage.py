"""Stage DECP files: detect the format, read each contract's current state into ``staging`` (one row per
supplier) and record record-level problems in ``staging_report``. A file already staged (same SHA-256) is
not read again, so re-ingesting the same files leaves the database unchanged."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from souverain.errors import InputError
from souverain.procurement.records import Record, iter_json, iter_xml, stage_record
from souverain.procurement.store import REPORT_COLUMNS, STAGING_COLUMNS, load_rows

__all__ = ["FLAT_COLUMNS", "StagedFile", "detect_format", "stage_file"]

_BATCH = 50_000

FLAT_COLUMNS = (
    "uid",
    "id",
    "nature",
    "acheteur_id",
    "acheteur_nom",
    "titulaire_id",
    "titulaire_typeIdentifiant",
    "titulaire_nom",
    "objet",
    "montant",
    "codeCPV",
    "procedure",
    "techniques",
    "dureeMois",
    "dateNotification",
    "datePublicationDonnees",
    "idAccordCadre",
    "acheteur_categorie",
    "acheteur_commune_code",
    "acheteur_departement_code",
    "acheteur_region_code",
    "modification_id",
)
"""Columns of the consolidated table that souverain reads (its Table Schema has about 60)."""
_FLAT_REQUIRED = ("acheteur_id", "titulaire_id", "montant", "codeCPV", "dateNotification")


@dataclass(frozen=True, slots=True)
class StagedFile:
    file_id: int
    path: Path
    format: str
    records: int
    rows: int
    reused: bool
    """True when the same content was already staged (nothing read)."""


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def detect_format(path: Path) -> str:
    """``json``, ``xml``, ``parquet`` or ``csv`` (the consolidated table), from the content."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return "xml"
    if text.startswith((b"{", b"[")):
        return "json"
    first = text.split(b"\n", 1)[0].decode("utf-8", "replace")
    if "acheteur_id" in first and "titulaire_id" in first:
        return "csv"
    if not head:
        raise InputError(f"{path}: empty file")
    raise InputError(
        f"{path}: not a DECP file (expected DECP JSON or XML, or the consolidated table as CSV or Parquet "
        "with acheteur_id and titulaire_id columns)"
    )


def _nested_variant(record: Record) -> str:
    """2019 files name buyers and suppliers; 2022 files carry identifiers only."""
    buyer = record.data.get("acheteur") or record.data.get("autoriteConcedante")
    return "2019" if isinstance(buyer, dict) and "nom" in buyer else "2022"


def _stage_nested(
    con: duckdb.DuckDBPyConnection, file_id: int, path: Path, fmt: str, progress: Callable[[int], None]
) -> tuple[str, int, int]:
    records: Iterator[Record] = iter_json(path) if fmt == "json" else iter_xml(path)
    rows: list[tuple[Any, ...]] = []
    report: list[tuple[Any, ...]] = []
    variant = ""
    count = staged = 0
    for rec in records:
        if not variant:
            variant = _nested_variant(rec)
        count += 1
        location = f"line {rec.line} (contract {rec.number})"
        staged_rows, issues = stage_record(rec)
        rows += [(file_id, rec.number, location, *r) for r in staged_rows]
        source_key = staged_rows[0][1] if staged_rows else None
        report += [(file_id, rec.number, location, source_key, *i) for i in issues]
        if len(rows) >= _BATCH:
            staged += load_rows(con, "staging", STAGING_COLUMNS, rows)
            rows = []
            progress(count)
    staged += load_rows(con, "staging", STAGING_COLUMNS, rows)
    load_rows(con, "staging_report", REPORT_COLUMNS, report)
    progress(count)
    return f"decp-{variant or '2022'}-{fmt}", count, staged


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _stage_flat(con: duckdb.DuckDBPyConnection, file_id: int, path: Path, fmt: str) -> tuple[str, int, int]:
    """The consolidated table has one row per contract × version (modification_id) × supplier: keep each
    contract's latest version (amount and duration from the latest version that gives them, notification
    date from the first), one row per supplier; repeated rows are reported as duplicates."""
    if fmt == "parquet":
        source = f"read_parquet('{_quote(path)}', file_row_number = true)"
        row_number = "file_row_number + 1"
    else:
        source = (
            f"read_csv('{_quote(path)}', all_varchar = true, header = true, store_rejects = true, "
            "ignore_errors = true, rejects_table = 'flat_rejects', rejects_scan = 'flat_scans')"
        )
        row_number = "row_number() OVER ()"
    con.execute("DROP TABLE IF EXISTS flat_rejects; DROP TABLE IF EXISTS flat_scans")
    try:
        present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as {fmt.upper()}: {str(exc).splitlines()[0]}") from None
    if missing := [c for c in _FLAT_REQUIRED if c not in present]:
        raise InputError(f"{path}: missing column(s) of the consolidated DECP table: {', '.join(missing)}")
    if "uid" not in present and "id" not in present:
        raise InputError(f"{path}: missing column(s) of the consolidated DECP table: uid or id")
    cols = ", ".join(
        f'CAST("{c}" AS VARCHAR) AS "{c}"' if c in present else f'CAST(NULL AS VARCHAR) AS "{c}"'
        for c in FLAT_COLUMNS
    )
    con.execute("DROP TABLE IF EXISTS flat_rejects; DROP TABLE IF EXISTS flat_scans")
    if fmt == "csv":  # row_number() OVER () must follow the file's order
        con.execute("SET preserve_insertion_order = true")
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE flat_raw AS
            SELECT *, row_number() OVER (PARTITION BY k, m, coalesce(titulaire_typeIdentifiant, ''),
                                         coalesce(titulaire_id, '') ORDER BY rn) AS dup
            FROM (SELECT *,
                         CASE WHEN nullif(trim(uid), '') IS NOT NULL THEN trim(uid)
                              WHEN nullif(trim(id), '') IS NOT NULL THEN coalesce(trim(acheteur_id),
                                  '') || trim(id)
                              ELSE 'row ' || rn END AS k,
                         coalesce(try_cast(modification_id AS INTEGER), 0) AS m
                  FROM (SELECT {row_number} AS rn, {cols} FROM {source}))
        """)
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as {fmt.upper()}: {str(exc).splitlines()[0]}") from None
    finally:
        con.execute("SET preserve_insertion_order = false")
    if fmt == "csv":
        con.execute(
            "INSERT INTO staging_report SELECT ?, line - 1, 'line ' || line, NULL, 'unreadable-row', "
            "'rejected', "
            "'row', left(csv_line, 200), error_type || ': ' || error_message FROM flat_rejects",
            [file_id],
        )
    where = "'line ' || ({} + 1)" if fmt == "csv" else "'row ' || {}"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE flat_versions AS
        SELECT k, max(m) AS last_m, count(DISTINCT m) - 1 AS n_mods, min(rn) AS first_rn,
               arg_max(montant, m) FILTER (WHERE nullif(trim(montant), '') IS NOT NULL) AS montant_cur,
               arg_max(dureeMois, m) FILTER (WHERE nullif(trim(dureeMois), '') IS NOT NULL) AS duree_cur,
               arg_min(dateNotification, m) FILTER (WHERE nullif(trim(dateNotification), '') IS NOT NULL)
                   AS notified_first
        FROM flat_raw WHERE dup = 1 GROUP BY k;
        INSERT INTO staging_report
        SELECT {file_id}, rn, {where.format("rn")}, k, 'duplicate', 'rejected', 'row', titulaire_id,
               'same contract, version and supplier repeated in the file'
        FROM flat_raw WHERE dup > 1;
        INSERT INTO staging
        SELECT {file_id}, v.first_rn, {where.format("v.first_rn")}, 'marche', r.k, r.id, r.acheteur_id,
               r.acheteur_nom, r.acheteur_categorie, r.acheteur_commune_code, r.acheteur_departement_code,
               r.acheteur_region_code, r.nature, r.objet, r.codeCPV, r.procedure, r.techniques,
                   r.idAccordCadre,
               v.montant_cur, v.duree_cur, v.notified_first, r.datePublicationDonnees,
               row_number() OVER (PARTITION BY r.k ORDER BY r.rn), count(*) OVER (PARTITION BY r.k),
               r.titulaire_typeIdentifiant, r.titulaire_id, r.titulaire_nom, v.n_mods
        FROM flat_raw r JOIN flat_versions v ON r.k = v.k AND r.m = v.last_m
        WHERE r.dup = 1;
    """)
    records, rows = con.execute(
        "SELECT count(DISTINCT record_no), count(*) FROM staging WHERE file_id = ?", [file_id]
    ).fetchone() or (0, 0)
    con.execute("DROP TABLE IF EXISTS flat_raw; DROP TABLE IF EXISTS flat_versions")
    return f"consolidated-{fmt}", int(records), int(rows)


def stage_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    progress: Callable[[int], None] = lambda _n: None,
    *,
    transaction: bool = True,
) -> StagedFile:
    """Stage one file (or recognise it as already staged); in its own transaction unless the caller holds
    one (``transaction=False``)."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    fmt = detect_format(path)
    sha, size = _sha256(path)
    known = con.execute(
        "SELECT file_id, format, records, rows FROM sources WHERE sha256 = ?", [sha]
    ).fetchone()
    if known:
        con.execute("UPDATE sources SET path = ? WHERE file_id = ?", [str(path), known[0]])
        return StagedFile(int(known[0]), path, str(known[1]), int(known[2]), int(known[3]), True)
    file_id = int((con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM sources").fetchone() or (1,))[0])
    if transaction:
        con.execute("BEGIN TRANSACTION")
    try:
        if fmt in ("json", "xml"):
            name, records, rows = _stage_nested(con, file_id, path, fmt, progress)
        else:
            name, records, rows = _stage_flat(con, file_id, path, fmt)
        con.execute(
            "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)",
            [file_id, str(path), sha, size, name, records, rows],
        )
        if transaction:
            con.execute("COMMIT")
    except BaseException:
        if transaction:
            con.execute("ROLLBACK")
        raise
    return StagedFile(file_id, path, name, records, rows, False)
