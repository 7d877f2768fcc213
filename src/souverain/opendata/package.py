"""``datapackage.json`` (Frictionless Data Package) and the datasette ``metadata.json`` of an export."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from souverain.opendata.tables import TableSpec

__all__ = ["LICENSE", "ExportFile", "datapackage", "datasette_metadata", "describe_file"]

LICENSE = {
    "name": "etalab-2.0",
    "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    "title": "Licence Ouverte / Open Licence 2.0",
}
CSV_DIALECT = {
    "delimiter": ",",
    "lineTerminator": "\r\n",
    "quoteChar": '"',
    "doubleQuote": True,
    "header": True,
}
FORMATS = {
    "csv": ("text/csv", "CSV"),
    "parquet": ("application/vnd.apache.parquet", "Parquet"),
    "sqlite": ("application/vnd.sqlite3", "SQLite"),
}


@dataclass(frozen=True, slots=True)
class ExportFile:
    path: str
    """Relative to the export folder, with '/' separators."""
    bytes: int
    sha256: str


def describe_file(root: Path, relative: str) -> ExportFile:
    digest = hashlib.sha256()
    size = 0
    with (root / relative).open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return ExportFile(relative, size, digest.hexdigest())


def _schema(spec: TableSpec) -> dict[str, Any]:
    fields = []
    for f in spec.fields:
        field: dict[str, Any] = {"name": f.name, "type": f.type, "description": f.description}
        if f.required:
            field["constraints"] = {"required": True}
        fields.append(field)
    schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
    if spec.primary_key:
        schema["primaryKey"] = list(spec.primary_key)
    return schema


def _resource(spec: TableSpec, fmt: str, file: ExportFile) -> dict[str, Any]:
    mediatype, label = FORMATS[fmt]
    out: dict[str, Any] = {
        "name": f"{spec.name.replace('_', '-')}-{fmt}",
        "title": f"{spec.title} ({label})",
        "description": spec.description,
        "profile": "tabular-data-resource",
        "path": file.path,
        "format": fmt,
        "mediatype": mediatype,
    }
    if fmt == "csv":
        out["encoding"] = "utf-8"
        out["dialect"] = CSV_DIALECT
    if fmt == "sqlite":
        out["dialect"] = {"table": spec.name}
    out["bytes"] = file.bytes
    out["hash"] = f"sha256:{file.sha256}"
    out["schema"] = _schema(spec)
    return out


def datapackage(
    run_id: int,
    title: str,
    description: str,
    created: str,
    sources: Sequence[dict[str, str]],
    specs: Sequence[TableSpec],
    files: dict[tuple[str, str], ExportFile],
) -> dict[str, Any]:
    """The package: one resource per table and format; ``files`` maps (table, format) to its file."""
    return {
        "profile": "data-package",
        "name": f"souverain-run-{run_id}",
        "title": title,
        "description": description,
        "created": created,
        "keywords": [
            "souveraineté numérique",
            "digital sovereignty",
            "cybersecurity",
            "public bodies",
            "secteur public",
        ],
        "licenses": [LICENSE],
        "sources": list(sources),
        "resources": [_resource(spec, fmt, files[(spec.name, fmt)]) for fmt in FORMATS for spec in specs],
    }


def datasette_metadata(
    database: str, title: str, description: str, source: str, specs: Sequence[TableSpec]
) -> dict[str, Any]:
    """``metadata.json`` for ``datasette souverain-RUN.sqlite --metadata metadata.json``."""
    return {
        "title": title,
        "description": description,
        "license": LICENSE["title"],
        "license_url": LICENSE["path"],
        "source": source,
        "databases": {
            database: {
                "tables": {
                    spec.name: {
                        "description": spec.description,
                        "columns": {f.name: f.description for f in spec.fields},
                    }
                    for spec in specs
                }
            }
        },
    }
