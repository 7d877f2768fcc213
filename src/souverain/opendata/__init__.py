"""Open data of a run: CSV, Parquet and SQLite (datasette-ready) files described by a ``datapackage.json``
under the Licence Ouverte / Open Licence 2.0 (docs/opendata.md).

``export_run`` is imported on first use, so that the command line does not load DuckDB to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from souverain.opendata.tables import ExtraTable, TableField

if TYPE_CHECKING:
    from souverain.opendata.export import ExportResult, export_run

__all__ = ["ExportResult", "ExtraTable", "TableField", "export_run"]


def __getattr__(name: str) -> Any:
    if name in ("ExportResult", "export_run"):
        from souverain.opendata import export

        return getattr(export, name)
    raise AttributeError(f"module 'souverain.opendata' has no attribute {name!r}")
