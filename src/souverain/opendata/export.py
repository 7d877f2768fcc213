"""``export_run``: a run's open data as CSV, Parquet and SQLite files with a ``datapackage.json``.

Reproducible: the same run exported twice (same store, KB, policy and souverain version) gives the same
bytes in every file; the only dates written are the run's own.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from souverain.errors import InputError
from souverain.kb.load import KB
from souverain.opendata.package import ExportFile, datapackage, datasette_metadata, describe_file
from souverain.opendata.read import (
    RunData,
    organisation_dependencies,
    read_chunks,
    read_run,
    targets_recorded,
)
from souverain.opendata.rows import RowBuilder, iso
from souverain.opendata.tables import (
    BUILTIN,
    DEPENDENCIES,
    DOMAINS,
    FINDINGS,
    HYGIENE_CHECKS,
    ORGANISATIONS,
    PROVIDERS,
    RUN,
    TABLE_NAME,
    TRAJECTORIES,
    ExtraTable,
    TableSpec,
)
from souverain.opendata.writers import TableWriter, open_sqlite, to_parquet
from souverain.policy.load import Policy, load_policy
from souverain.store import RunInfo, Store

__all__ = ["ExportResult", "export_run"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote: paths (absolute), row counts per table, and what the run lacked."""

    run_id: int
    out_dir: Path
    datapackage: Path
    metadata: Path
    sqlite: Path
    csv: dict[str, Path] = field(default_factory=dict)
    parquet: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _extra_specs(extra_tables: Mapping[str, ExtraTable]) -> list[TableSpec]:
    builtin = {spec.name for spec in BUILTIN}
    specs = []
    for name in sorted(extra_tables):
        table = extra_tables[name]
        if not TABLE_NAME.match(name):
            raise InputError(f"extra table '{name}': name must be lower-case letters, digits and '_'")
        if name in builtin:
            raise InputError(f"extra table '{name}': a built-in table already has this name")
        names = [f.name for f in table.fields]
        if not names:
            raise InputError(f"extra table '{name}': no field")
        bad = next((n for n in names if not TABLE_NAME.match(n)), None)
        if bad is not None:
            raise InputError(f"extra table '{name}': field '{bad}': lower-case letters, digits and '_' only")
        if len(set(names)) != len(names):
            raise InputError(f"extra table '{name}': duplicate field names")
        missing = [k for k in table.primary_key if k not in names]
        if missing:
            raise InputError(f"extra table '{name}': primary key column '{missing[0]}' is not a field")
        for f in table.fields:
            if f.type not in ("string", "integer", "number", "boolean", "date", "datetime"):
                raise InputError(f"extra table '{name}': field '{f.name}': unknown type '{f.type}'")
            if not f.description.strip():
                raise InputError(f"extra table '{name}': field '{f.name}': no description")
        specs.append(
            TableSpec(name, table.title, table.description, tuple(table.fields), tuple(table.primary_key))
        )
    return specs


def _sorted_rows(spec: TableSpec, rows: Any) -> list[Any]:
    items = list(rows)
    if not spec.primary_key:
        return items

    def key(row: Mapping[str, Any]) -> tuple[tuple[bool, Any], ...]:
        return tuple((row.get(k) is None, row.get(k)) for k in spec.primary_key)

    try:
        return sorted(items, key=key)
    except TypeError:
        raise InputError(
            f"extra table '{spec.name}': primary key values of mixed types cannot be ordered"
        ) from None


def _notes(info: RunInfo, data: RunData, recorded: int, kb: KB | None, policy: Policy | None) -> list[str]:
    run_id = info.id
    notes = []
    if info.config.get("lab_dir"):
        notes.append(
            "This run scanned the souverain lab, a simulated internet: its bodies and domains are not real, "
            "and providers marked lab_fictional are invented."
        )
    if info.status != "completed":
        notes.append(
            f"Run {run_id} is {info.status}: {len(data.targets) - recorded} of {len(data.targets)} domains "
            "were never scanned (scan_status pending)."
        )
    if data.attribution is None:
        notes.append(
            f"Run {run_id} has no attribution: the dependencies and providers tables are empty "
            f"(souverain reassess {run_id} computes one)."
        )
    if data.assessment is None:
        notes.append(
            f"Run {run_id} has no assessment: scores, levels, findings, hygiene checks and trajectories are "
            f"empty (souverain assess {run_id} computes one)."
        )
    if data.newer_attribution is not None and data.attribution is not None:
        notes.append(
            f"Attribution {data.newer_attribution} is newer than the assessed one and has no assessment: the "
            f"dependencies are those of attribution {data.attribution['id']}, which the assessment used."
        )
    if data.attribution is not None:
        if kb is None:
            notes.append(
                "The knowledge base could not be loaded: operator and provider names are empty and the "
                "providers' laws are those recorded by the attribution."
            )
        elif kb.version != data.attribution["kb_version"]:
            notes.append(
                f"Names and control chains of operators and providers come from knowledge base {kb.version}; "
                f"the dependencies were attributed with knowledge base {data.attribution['kb_version']}."
            )
    if (
        data.assessment is not None
        and policy is not None
        and policy.methodology != data.assessment["methodology"]
    ):
        notes.append(
            f"Finding titles and texts come from methodology {policy.methodology}; the assessment used "
            f"{data.assessment['methodology']}."
        )
    return notes


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"


def _write_atomic(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


class _Export:
    def __init__(self, out: Path, db: sqlite3.Connection, progress: Progress | None, total: int) -> None:
        self.out, self.db, self.progress, self.total = out, db, progress, total
        self.done = 0
        self.writers: dict[str, TableWriter] = {}
        self.rows: dict[str, int] = {}

    def open(self, spec: TableSpec) -> TableWriter:
        writer = TableWriter(spec, self.out / "csv" / f"{spec.name}.csv", self.db)
        self.writers[spec.name] = writer
        return writer

    def close(self, spec: TableSpec) -> None:
        writer = self.writers[spec.name]
        writer.close()
        del self.writers[spec.name]
        self.rows[spec.name] = writer.rows

    def table(self, spec: TableSpec, rows: Any) -> None:
        writer = self.open(spec)
        for row in rows:
            writer.write(row)
        self.close(spec)

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.abort()


def _remove_stale_files(out: Path, tables: set[str], sqlite_name: str) -> None:
    """Remove what an earlier export into the same folder left and this one does not write (the procurement
    tables of an export that had them, another run's SQLite file): the folder then holds what its
    ``datapackage.json`` lists. Only files named like an export's own are touched."""
    for folder, suffix in (("csv", ".csv"), ("parquet", ".parquet")):
        for path in (out / folder).glob(f"*{suffix}"):
            if path.stem not in tables and path.is_file():
                path.unlink()
    for path in out.glob("souverain-*.sqlite"):
        if path.name != sqlite_name and path.is_file():
            path.unlink()


def export_run(
    store: Store,
    run_id: int,
    out: Path,
    *,
    extra_tables: Mapping[str, ExtraTable] | None = None,
    kb: KB | None = None,
    policy: Policy | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the open data of ``run_id`` into ``out`` (created if needed; files of a previous export are
    replaced). ``kb`` names operators and providers (ids only without it); ``policy`` gives the finding
    texts (the shipped policy by default). ``progress(done, total)`` is called as organisations and files
    are written."""
    info = store.run(run_id)
    extra = dict(extra_tables or {})
    extra_specs = _extra_specs(extra)
    data = read_run(store, run_id)
    if policy is None and data.assessment is not None:
        policy = load_policy()
    try:
        (out / "csv").mkdir(parents=True, exist_ok=True)
        (out / "parquet").mkdir(exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out '{out}': cannot create the folder: {exc.strerror}") from None
    (out / "datapackage.json").unlink(missing_ok=True)  # written last: its presence means a complete export
    recorded = targets_recorded(store, run_id)
    notes = _notes(info, data, recorded, kb, policy)
    specs = [*BUILTIN, *extra_specs]
    builder = RowBuilder(data, kb, policy)
    sqlite_name = f"souverain-{run_id}.sqlite"
    sqlite_tmp = out / (sqlite_name + ".tmp")
    db = open_sqlite(sqlite_tmp)
    job = _Export(out, db, progress, len(data.orgs) + len(specs))
    try:
        job.table(RUN, [builder.run(info, recorded)])
        per_org = [ORGANISATIONS, DOMAINS, DEPENDENCIES, FINDINGS, HYGIENE_CHECKS]
        writers = [job.open(spec) for spec in per_org]
        own = organisation_dependencies(store, data.attribution["id"]) if data.attribution else {}
        for chunk in read_chunks(store, data):
            for org in chunk.orgs:
                doc = chunk.assessed.get(org.siren)
                writers[0].write(builder.organisation(org, doc))
                batches = (
                    builder.domains(org, chunk, doc),
                    builder.dependencies(org, chunk, own.get(org.siren, []), doc),
                    builder.findings(org, doc),
                    builder.hygiene_checks(org, doc),
                )
                for writer, rows in zip(writers[1:], batches, strict=True):
                    for row in rows:
                        writer.write(row)
            job.step(len(chunk.orgs))
        for spec in per_org:
            job.close(spec)
        job.table(PROVIDERS, builder.providers())
        job.table(TRAJECTORIES, builder.trajectories())
        for spec in extra_specs:
            job.table(spec, _sorted_rows(spec, extra[spec.name].rows))
        db.execute("COMMIT")
        db.close()
        os.replace(sqlite_tmp, out / sqlite_name)
        for spec in specs:
            to_parquet(spec, out / "csv" / f"{spec.name}.csv", out / "parquet" / f"{spec.name}.parquet")
            job.step()
    except BaseException:
        job.abort()
        db.close()
        sqlite_tmp.unlink(missing_ok=True)
        raise
    return _describe(out, info, data, kb, policy, specs, notes, job.rows, sqlite_name)


def _describe(
    out: Path,
    info: RunInfo,
    data: RunData,
    kb: KB | None,
    policy: Policy | None,
    specs: list[TableSpec],
    notes: list[str],
    rows: dict[str, int],
    sqlite_name: str,
) -> ExportResult:
    run_id = info.id
    files: dict[tuple[str, str], ExportFile] = {}
    sqlite_file = describe_file(out, sqlite_name)
    for spec in specs:
        files[(spec.name, "csv")] = describe_file(out, f"csv/{spec.name}.csv")
        files[(spec.name, "parquet")] = describe_file(out, f"parquet/{spec.name}.parquet")
        files[(spec.name, "sqlite")] = sqlite_file
    started, finished = iso(info.created_at), iso(info.finished_at)
    title = f"souverain — run {run_id}: digital sovereignty and security of public bodies"
    description = (
        f"Open data of souverain run {run_id} (started {started}): which operators run the digital "
        "dependencies of public bodies (mail, web hosting, DNS, certificates, third parties in their pages), "
        "the laws with extraterritorial reach over them, each body's sovereignty score with its coverage, "
        "and the security hygiene of their domains. Every level can be traced to its evidence signals; "
        "unknown stays unknown (null). Tables are given in CSV, Parquet and one SQLite file."
    )
    if notes:
        description += " Notes: " + " ".join(notes)
    sources = [
        {
            "title": f"souverain run {run_id}: network evidence (DNS, mail, TLS, HTTP, home page resources) "
            f"recorded from {started} to {finished or 'an unfinished end'}"
        },
    ]
    if data.attribution is not None:
        sources.append(
            {
                "title": f"souverain knowledge base {data.attribution['kb_version']}: operators, "
                "ownership and control chains, laws, each fact with its source"
            }
        )
    if data.assessment is not None:
        sources.append({"title": f"souverain assessment methodology {data.assessment['methodology']}"})
    package = datapackage(run_id, title, description, finished or started or "", sources, specs, files)
    database = sqlite_name.removesuffix(".sqlite")
    metadata = datasette_metadata(database, title, description, f"souverain run {run_id}", specs)
    _write_atomic(out / "metadata.json", _json(metadata))
    _remove_stale_files(out, {s.name for s in specs}, sqlite_name)
    _write_atomic(out / "datapackage.json", _json(package))
    root = out.resolve()
    return ExportResult(
        run_id=run_id,
        out_dir=root,
        datapackage=root / "datapackage.json",
        metadata=root / "metadata.json",
        sqlite=root / sqlite_name,
        csv={s.name: root / "csv" / f"{s.name}.csv" for s in specs},
        parquet={s.name: root / "parquet" / f"{s.name}.parquet" for s in specs},
        rows=rows,
        notes=tuple(notes),
    )
