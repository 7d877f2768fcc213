"""Procurement pillar (issue 6): DECP contracts → digital perimeter (CPV, keywords) → supplier → ultimate
parent / named publisher (KB, GLEIF) → shares of French and European suppliers against the trajectory.

Public API (docs/procurement.md)::

    ingest(db_path, files, *, kb_extra=(), replace=False) -> IngestResult
    shares(db_path, *, by=("year",), views=VIEWS, where=None) -> list[dict]
    tables(db_path) -> dict[str, ProcurementTable]          # open-data tables (Table Schema fields)
    extra_tables(db_path) -> dict[str, opendata.ExtraTable]  # the same, for souverain.opendata.export_run
    summary(db_path) -> dict
    write_report(db_path, out_dir) -> Path
    import_gleif(db_path, relationships, entities=None) / import_territories(db_path, file)
    import_legal_units(db_path, file) / rederive(db_path)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from souverain.procurement.api import (
        IngestResult,
        default_db_path,
        import_gleif,
        import_legal_units,
        import_territories,
        ingest,
        rederive,
        shares,
        summary,
    )
    from souverain.procurement.derive import REASONS
    from souverain.procurement.measures import BLOCS, DIMENSIONS, VIEWS
    from souverain.procurement.opendata import ProcurementTable, extra_tables, tables
    from souverain.procurement.report import write_report

_WHERE = {
    "IngestResult": "api",
    "default_db_path": "api",
    "import_gleif": "api",
    "import_legal_units": "api",
    "import_territories": "api",
    "ingest": "api",
    "rederive": "api",
    "shares": "api",
    "summary": "api",
    "REASONS": "derive",
    "BLOCS": "measures",
    "DIMENSIONS": "measures",
    "VIEWS": "measures",
    "write_report": "report",
    "ProcurementTable": "opendata",
    "extra_tables": "opendata",
    "tables": "opendata",
}
"""Imported on first use: the ``souverain`` command line loads this package for every command, and DuckDB
only when a procurement command runs."""

__all__ = [
    "BLOCS",
    "DIMENSIONS",
    "REASONS",
    "VIEWS",
    "IngestResult",
    "ProcurementTable",
    "default_db_path",
    "extra_tables",
    "import_gleif",
    "import_legal_units",
    "import_territories",
    "ingest",
    "rederive",
    "shares",
    "summary",
    "tables",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"souverain.procurement.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'souverain.procurement' has no attribute {name!r}")
