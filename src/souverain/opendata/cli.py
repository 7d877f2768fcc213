"""``souverain export RUN --out DIR`` (registered in ``souverain.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from souverain.cliopts import StoreOpt, out_folder
from souverain.errors import SouverainError

__all__ = ["export"]


def export(
    run: Annotated[str, typer.Argument(help="Run id, or 'latest'.")],
    out_dir: Annotated[
        Path, typer.Option("--out", parser=out_folder, help="Folder to write the open data into.")
    ],
    store: StoreOpt = None,
    procurement: Annotated[
        Path | None,
        typer.Option(
            "--procurement",
            help="Ingested DECP database whose tables (shares, contracts, suppliers…) are exported too "
            "(default: $SOUVERAIN_HOME/procurement.duckdb when it exists).",
        ),
    ] = None,
) -> None:
    """Publish a run as open data: CSV, Parquet, a SQLite file for datasette and datapackage.json
    (Licence Ouverte 2.0), with the procurement pillar's tables when DECP were ingested."""
    from souverain import cli
    from souverain.opendata import export_run
    from souverain.procurement import extra_tables

    procurement = cli._procurement_opt(procurement)
    extra = extra_tables(procurement) if procurement is not None else {}
    cli._run_arg(run)
    db = cli._store(store, existing=True)
    run_id = cli._run_id(db, run)
    info = db.run(run_id)
    try:
        kb, _ = cli._attribution_context(dict(info.config))
    except SouverainError as exc:
        cli.console.print(
            f"[yellow]the KB cannot be loaded ({exc}); operators are exported by id[/]", highlight=False
        )
        kb = None
    with cli.progress_bar() as bar:
        task = bar.add_task(f"export run {run_id}", total=None)
        result = export_run(
            db,
            run_id,
            out_dir,
            kb=kb,
            extra_tables=extra,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for note in result.notes:
        cli.console.print(f"[yellow]note[/]: {note}", highlight=False)
    counts = ", ".join(f"{n} {t}" for t, n in result.rows.items())
    cli.console.print(f"export of run {run_id}: {counts}", highlight=False)
    cli.out.print(str(result.datapackage), highlight=False, soft_wrap=True)
