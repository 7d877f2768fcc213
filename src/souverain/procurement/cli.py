"""``souverain procurement …``: ingest DECP files, print the shares, write the report, import reference files,
generate synthetic DECP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from souverain.cliopts import counted, out_folder
from souverain.errors import InputError

__all__ = ["procurement_app"]

procurement_app = typer.Typer(
    help="Public procurement (DECP): shares of French and European suppliers, honestly measured.",
    no_args_is_help=True,
)

DbOpt = Annotated[
    Path | None, typer.Option("--db", help="DuckDB file (default $SOUVERAIN_HOME/procurement.duckdb).")
]
KbExtraOpt = Annotated[
    list[Path] | None,
    typer.Option("--kb-extra", help="Extra KB folder or file (overlay) loaded after the shipped KB."),
]


def _db(path: Path | None) -> Path:
    from souverain.procurement.api import default_db_path

    return (path or default_db_path()).expanduser()


@procurement_app.command("ingest")
def ingest_cmd(
    files: Annotated[
        list[Path], typer.Argument(help="DECP files: 2019/2022 JSON or XML, consolidated CSV/Parquet.")
    ],
    db: DbOpt = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Forget previously ingested files first.")
    ] = False,
    kb_extra: KbExtraOpt = None,
) -> None:
    """Read DECP files (streaming), apply modifications, de-duplicate across sources, clean, resolve suppliers
    and publishers; list every rejected, corrected or flagged value in the ingest report."""
    from souverain.cli import console, out, progress_bar
    from souverain.procurement.api import ingest

    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def on_file(path: Path) -> None:
            tasks["file"] = bar.add_task(f"read {path.name}", total=None)

        def on_records(n: int) -> None:
            bar.update(tasks["file"], completed=n)

        def on_stage(stage: str) -> None:
            if "stage" in tasks:
                bar.update(tasks["stage"], completed=1, total=1)
            tasks["stage"] = bar.add_task(stage, total=None)

        result = ingest(
            _db(db),
            files,
            kb_extra=kb_extra or [],
            replace=replace,
            on_file=on_file,
            on_records=on_records,
            on_stage=on_stage,
        )
        if "stage" in tasks:
            bar.update(tasks["stage"], completed=1, total=1)
    for f in result.files:
        state = (
            "unchanged, not read again"
            if f.reused
            else f"{counted(f.records, 'contract')}, {counted(f.rows, 'row')}"
        )
        console.print(f"{f.path} ({f.format}): {state}", highlight=False)
    s = result.summary
    report = ", ".join(f"{k} {v}" for k, v in s.report.items()) or "nothing to report"
    console.print(
        f"{counted(s.contracts, 'contract')} after de-duplication ({s.staged_contracts} published), "
        f"{s.digital} digital; "
        f"KB {result.kb_version}; ingest report: {report}",
        highlight=False,
    )
    out.print(str(result.db), soft_wrap=True, highlight=False)


@procurement_app.command("shares")
def shares_cmd(
    db: DbOpt = None,
    by: Annotated[
        str,
        typer.Option(
            help="Comma-separated groupings: year, buyer, buyer_kind, region, departement, commune, family."
        ),
    ] = "year",
    view: Annotated[str | None, typer.Option(help="Comma-separated views (default: all three).")] = None,
    year: Annotated[int | None, typer.Option(help="Only this year.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Shares by supplier registration, ultimate parent and named publisher, by number and amount, against the
    trajectory (with the gap)."""
    from rich.console import Console
    from rich.table import Table

    from souverain.cli import out
    from souverain.procurement.api import shares
    from souverain.procurement.measures import VIEWS

    dims = tuple(dict.fromkeys(d.strip() for d in by.split(",") if d.strip()))  # year,year is year
    if not dims:
        raise InputError(f"--by '{by}': give at least one grouping (year, buyer, region…)")
    views = tuple(v.strip() for v in view.split(",")) if view else VIEWS
    rows = shares(_db(db), by=dims, views=views, where={"year": year} if year is not None else None)
    if as_json:
        out.print_json(orjson.dumps(rows).decode())
        return
    if not rows:
        from souverain.cli import console

        years = sorted({r["year"] for r in shares(_db(db), by=("year",), views=views[:1]) if r["year"]})
        held = f"it holds {years[0]}–{years[-1]}" if years else "it holds no digital contract yet"
        scope = f" notified in {year}" if year is not None else ""
        console.print(f"no digital contract{scope} in the procurement database ({held})", highlight=False)
        return

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f}%"

    table = Table(
        title="European share (France + rest of the European area) among determined contracts",
        caption="n: by number of contracts, €: by amount; gap: share by number minus target",
    )
    for col in (*dims, "view", "contracts", "n", "€", "coverage", "target", "gap"):
        left = col in (*dims, "view")
        table.add_column(col, justify="left" if left else "right", no_wrap=True)
    for r in rows:
        gap = r["gap_contracts"]
        table.add_row(
            *(str(r[d]) for d in dims),
            r["view"],
            str(r["contracts"]),
            pct(r["share_european_contracts"]),
            pct(r["share_european_amount"]),
            pct(r["coverage_contracts"]),
            pct(r["target"]),
            "–" if gap is None else f"{100 * gap:+.1f}",
        )
    wide = out if out.is_terminal else Console(width=120, soft_wrap=True)
    wide.print(table)


@procurement_app.command("report")
def report_cmd(
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", parser=out_folder, help="Folder to write index.html and procurement.json into."
        ),
    ],
    db: DbOpt = None,
) -> None:
    """Write the procurement report (HTML + JSON)."""
    from souverain.cli import out
    from souverain.procurement.report import write_report

    out.print(str(write_report(_db(db), out_dir).resolve()), soft_wrap=True, highlight=False)


@procurement_app.command("ingest-report")
def ingest_report_cmd(
    db: DbOpt = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List rows of the ingest report: file, location, contract, reason, action, field, value, detail."""
    from souverain.cli import out
    from souverain.procurement.derive import REASONS
    from souverain.procurement.store import connect

    if reason is not None and reason not in REASONS:
        raise InputError(f"--reason '{reason}': unknown (known: {', '.join(REASONS)})")
    con = connect(_db(db), read_only=True)
    try:
        sql = "SELECT file, location, contract, reason, action, field, value, detail FROM ingest_report"
        params: list[Any] = []
        if reason:
            sql += " WHERE reason = ?"
            params.append(reason)
        cur = con.execute(sql + " ORDER BY file_id, record_no, reason, field LIMIT ?", [*params, limit])
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    if as_json:
        out.print_json(orjson.dumps(rows).decode())
        return
    for r in rows:
        out.print(
            f"{r['file']}:{r['location']}: {r['contract']}: {r['reason']} ({r['action']}) {r['field']}"
            f" = {r['value']!r}: {r['detail']}",
            highlight=False,
            markup=False,
        )


@procurement_app.command("status")
def status_cmd(db: DbOpt = None) -> None:
    """What the database holds: sources, contracts, report counts, versions (JSON)."""
    from souverain.cli import out
    from souverain.procurement.api import summary

    out.print_json(orjson.dumps(summary(_db(db))).decode())


@procurement_app.command("import-gleif")
def import_gleif_cmd(
    relationships: Annotated[
        Path, typer.Argument(help="GLEIF level-2 relationship records (RR CSV or JSON).")
    ],
    level1: Annotated[
        Path | None, typer.Option("--level1", help="GLEIF level-1 CSV (LEI → name, country, SIREN).")
    ] = None,
    db: DbOpt = None,
    kb_extra: KbExtraOpt = None,
) -> None:
    """Import GLEIF parent relationships (a second source of ultimate parents after the KB), then
    re-derive."""
    from souverain.cli import console
    from souverain.procurement.api import import_gleif

    rels, ents = import_gleif(_db(db), relationships, level1, kb_extra=kb_extra or [])
    console.print(f"GLEIF: {rels} relationships, {ents} level-1 records imported", highlight=False)


@procurement_app.command("import-territories")
def import_territories_cmd(
    file: Annotated[Path, typer.Argument(help="BANATIC SIREN/INSEE table as CSV (siren, insee[, nom_com]).")],
    db: DbOpt = None,
    kb_extra: KbExtraOpt = None,
) -> None:
    """Import the official SIREN → INSEE table of communes (over the vendored one), then re-derive."""
    from souverain.cli import console
    from souverain.procurement.api import import_territories

    console.print(f"{import_territories(_db(db), file, kb_extra=kb_extra or [])} territories imported")


@procurement_app.command("import-legal-units")
def import_legal_units_cmd(
    file: Annotated[
        Path, typer.Argument(help="SIRENE StockUniteLegale CSV (siren, categorieJuridiqueUniteLegale).")
    ],
    db: DbOpt = None,
    kb_extra: KbExtraOpt = None,
) -> None:
    """Import legal categories (foreign companies 31xx/32xx, kinds of buyer), then re-derive."""
    from souverain.cli import console
    from souverain.procurement.api import import_legal_units

    imported, skipped = import_legal_units(_db(db), file, kb_extra=kb_extra or [])
    note = f" ({skipped} row(s) without a 9-digit siren skipped)" if skipped else ""
    console.print(f"{imported} legal units imported{note}", highlight=False)


@procurement_app.command("generate")
def generate_cmd(
    out_file: Annotated[Path, typer.Argument(help="File to write.")],
    contracts: Annotated[int, typer.Option(min=1, help="Number of contracts.")] = 1000,
    fmt: Annotated[
        str, typer.Option("--format", help="csv, parquet (consolidated table), json or xml.")
    ] = "csv",
    variant: Annotated[str, typer.Option(help="2019 or 2022 (json and xml).")] = "2022",
    seed: Annotated[int, typer.Option(help="Same seed, same contracts.")] = 1,
) -> None:
    """Write synthetic DECP of realistic shape, with the known defects (for tests, demos, benchmarks)."""
    from souverain.cli import console
    from souverain.procurement.generator import Manifest
    from souverain.procurement.generator import contracts as synth
    from souverain.procurement.writers import write_flat, write_nested

    if fmt not in ("csv", "parquet", "json", "xml"):
        raise InputError(f"--format '{fmt}': expected csv, parquet, json or xml")
    if variant not in ("2019", "2022"):
        raise InputError(f"--variant '{variant}': expected 2019 or 2022")
    if out_file.is_dir():
        raise InputError(f"OUT_FILE '{out_file}': a folder; give the file to write")
    if not out_file.parent.is_dir():
        raise InputError(f"OUT_FILE '{out_file}': folder '{out_file.parent}' does not exist")
    manifest = Manifest()
    source = synth(contracts, seed=seed, manifest=manifest)
    if fmt in ("csv", "parquet"):
        write_flat(out_file, source, fmt=fmt, manifest=manifest)
    else:
        write_nested(out_file, source, fmt=fmt, variant=variant, manifest=manifest)
    defects = ", ".join(f"{k} {v}" for k, v in sorted(manifest.defects.items()))
    console.print(
        f"{out_file}: {manifest.contracts} contracts, {manifest.rows} rows; defects: {defects}",
        highlight=False,
    )
