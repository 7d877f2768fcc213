"""The procurement pillar's Python API (what the CLI, the web dashboard and the open-data export call)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from souverain.errors import InputError, require_file
from souverain.procurement import resolve
from souverain.procurement.derive import DeriveSummary, derive
from souverain.procurement.measures import VIEWS, compute_shares
from souverain.procurement.reference import Reference, shipped_reference
from souverain.procurement.stage import StagedFile, stage_file
from souverain.procurement.store import connect, meta

__all__ = [
    "IngestResult",
    "default_db_path",
    "import_gleif",
    "import_legal_units",
    "import_territories",
    "ingest",
    "rederive",
    "shares",
    "summary",
]


def default_db_path() -> Path:
    """``$SOUVERAIN_HOME/procurement.duckdb``."""
    return (
        Path(os.environ.get("SOUVERAIN_HOME", "~/.local/share/souverain")).expanduser() / "procurement.duckdb"
    )


@dataclass(frozen=True, slots=True)
class IngestResult:
    files: list[StagedFile]
    summary: DeriveSummary
    kb_version: str
    db: Path
    stages: list[str] = field(default_factory=list)


def _kb(kb_extra: Sequence[Path]) -> Any:
    from souverain.kb.load import load_kb

    return load_kb(extra=list(kb_extra))


def ingest(
    db_path: Path,
    files: Sequence[Path],
    *,
    kb_extra: Sequence[Path] = (),
    replace: bool = False,
    reference: Reference | None = None,
    today: dt.date | None = None,
    on_file: Callable[[Path], None] = lambda _p: None,
    on_records: Callable[[int], None] = lambda _n: None,
    on_stage: Callable[[str], None] = lambda _s: None,
) -> IngestResult:
    """Stage ``files`` (files already staged with the same content are not read again), then rebuild the
    derived tables from every staged file. ``replace`` forgets previously staged files first."""
    if not files:
        raise InputError("ingest: give at least one DECP file")
    for f in files:
        require_file(f)
    ref = reference or shipped_reference()
    kb = _kb(kb_extra)
    con = connect(db_path)
    try:
        staged = []
        con.execute("BEGIN TRANSACTION")  # all files or none
        try:
            for f in files:
                on_file(f)
                staged.append(stage_file(con, f, on_records, transaction=False))
            if replace:  # keep only the files just given
                keep = [s.file_id for s in staged]
                marks = ", ".join("?" for _ in keep)
                for table in ("staging", "staging_report", "sources"):
                    con.execute(f"DELETE FROM {table} WHERE file_id NOT IN ({marks})", keep)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        summary = derive(con, ref, kb, today=today, progress=on_stage)
    finally:
        con.close()
    return IngestResult(staged, summary, kb.version, db_path)


def rederive(
    db_path: Path,
    *,
    kb_extra: Sequence[Path] = (),
    reference: Reference | None = None,
    today: dt.date | None = None,
) -> DeriveSummary | None:
    """Rebuild the derived tables (after a KB change or an import); None when nothing is staged yet."""
    con = connect(db_path)
    try:
        if not (con.execute("SELECT count(*) FROM sources").fetchone() or (0,))[0]:
            return None
        return derive(con, reference or shipped_reference(), _kb(kb_extra), today=today)
    finally:
        con.close()


def shares(
    db_path: Path,
    *,
    by: Sequence[str] = ("year",),
    views: Sequence[str] = VIEWS,
    where: dict[str, Any] | None = None,
    reference: Reference | None = None,
) -> list[dict[str, Any]]:
    """The three shares per group (see :mod:`souverain.procurement.measures`), against the trajectory."""
    con = connect(db_path, read_only=True)
    try:
        return compute_shares(con, (reference or shipped_reference()).policy, by, views=views, where=where)
    finally:
        con.close()


def summary(db_path: Path) -> dict[str, Any]:
    """What the database holds: sources, counts, report reasons, versions."""
    con = connect(db_path, read_only=True)
    try:
        sources = [
            dict(zip(("file_id", "path", "sha256", "bytes", "format", "records", "rows"), r, strict=True))
            for r in con.execute("SELECT * FROM sources ORDER BY file_id").fetchall()
        ]
        try:
            n, digital = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE digital) FROM contracts"
            ).fetchone() or (0, 0)
            reasons = con.execute(
                "SELECT reason, action, count(*) FROM ingest_report GROUP BY ALL ORDER BY reason, action"
            ).fetchall()
        except duckdb.CatalogException:  # derived tables absent: nothing ingested yet
            n, digital, reasons = 0, 0, []
        return {
            "sources": sources,
            "contracts": int(n),
            "digital_contracts": int(digital),
            "report": [{"reason": r, "action": a, "rows": int(c)} for r, a, c in reasons],
            "kb_version": meta(con, "kb_version"),
            "reference_digest": meta(con, "reference_digest"),
            "policy_version": meta(con, "policy_version"),
            "european_area": meta(con, "european_area"),
        }
    finally:
        con.close()


def import_gleif(
    db_path: Path, relationships: Path, entities: Path | None = None, *, kb_extra: Sequence[Path] = ()
) -> tuple[int, int]:
    """Import a GLEIF level-2 relationship file (and optionally level-1 records), then re-derive."""
    for f in (relationships, entities):
        if f is not None:
            require_file(f)
    con = connect(db_path)
    try:
        counts = resolve.import_gleif(con, relationships, entities)
    finally:
        con.close()
    rederive(db_path, kb_extra=kb_extra)
    return counts


def import_territories(db_path: Path, path: Path, *, kb_extra: Sequence[Path] = ()) -> int:
    """Import the official SIREN → INSEE table (BANATIC), then re-derive."""
    from souverain.portfolio.validate import departements

    require_file(path)
    con = connect(db_path)
    try:
        n = resolve.import_territories(con, path, departements())
    finally:
        con.close()
    rederive(db_path, kb_extra=kb_extra)
    return n


def import_legal_units(db_path: Path, path: Path, *, kb_extra: Sequence[Path] = ()) -> tuple[int, int]:
    """Import legal categories from SIRENE's StockUniteLegale (buyer kinds, foreign companies), then
    re-derive. Returns the legal units imported and the rows skipped (no 9-digit ``siren``)."""
    require_file(path)
    con = connect(db_path)
    try:
        counts = resolve.import_legal_units(con, path)
    finally:
        con.close()
    rederive(db_path, kb_extra=kb_extra)
    return counts
