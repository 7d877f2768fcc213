"""Command line: ``souverain scan | report | runs | portfolio | lab``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from souverain import __version__
from souverain.errors import InputError, SouverainError

app = typer.Typer(
    help="souverain — observatory of digital sovereignty and security for public bodies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
lab_app = typer.Typer(
    help="The lab: a simulated internet on 127.0.0.0/8 for tests, demo and benchmarks.", no_args_is_help=True
)
portfolio_app = typer.Typer(help="Check portfolio files.", no_args_is_help=True)
app.add_typer(lab_app, name="lab")
app.add_typer(portfolio_app, name="portfolio")

console = Console(stderr=True, soft_wrap=True)
out = Console()


def home() -> Path:
    """Where souverain keeps its store and lab by default (``$SOUVERAIN_HOME``)."""
    return Path(os.environ.get("SOUVERAIN_HOME", "~/.local/share/souverain")).expanduser()


StoreOpt = Annotated[
    Path | None, typer.Option("--store", help="SQLite file (default $SOUVERAIN_HOME/souverain.db).")
]
LabDirOpt = Annotated[Path | None, typer.Option("--dir", help="Lab folder (default $SOUVERAIN_HOME/lab).")]


def _store(path: Path | None) -> Any:
    from souverain.store import Store

    return Store(path or home() / "souverain.db")


class RateColumn(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f}/s" if speed else "–/s", style="progress.data.speed")


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal and os.environ.get("SOUVERAIN_PROGRESS") != "1",
    )


def _print_version(value: bool) -> None:
    if value:
        out.print(f"souverain {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Observatory of digital sovereignty and security for public bodies."""


# scan -------------------------------------------------------------------------------------------------
@app.command()
def scan(
    portfolio: Annotated[Path | None, typer.Argument(help="Portfolio file (.yaml, .yml or .csv).")] = None,
    resolver: Annotated[
        str | None, typer.Option(help="Recursive resolver IP[:port] (default: /etc/resolv.conf).")
    ] = None,
    ca_file: Annotated[Path | None, typer.Option(help="PEM trust store for certificate chains.")] = None,
    lab: Annotated[
        bool, typer.Option("--lab", help="Scan the running lab's world with its resolver and CA.")
    ] = False,
    lab_dir: LabDirOpt = None,
    resume: Annotated[int | None, typer.Option(help="Resume an interrupted run by id.")] = None,
    store: StoreOpt = None,
    concurrency: Annotated[int, typer.Option(min=1, max=5000, help="Targets in flight at once.")] = 200,
    per_ip: Annotated[
        int, typer.Option(min=1, max=100, help="Concurrent connections per destination IP.")
    ] = 4,
    target_budget: Annotated[float, typer.Option(min=1.0, help="Seconds allowed per target.")] = 60.0,
    workers: Annotated[
        int, typer.Option(min=0, max=64, help="Scanning processes (0: automatic, 2 from 1,000 targets).")
    ] = 0,
    only: Annotated[str | None, typer.Option(help="Comma-separated probes to run (default: all).")] = None,
    user_agent: Annotated[str | None, typer.Option(help="User-Agent for HTTP requests.")] = None,
) -> None:
    """Scan a portfolio (or the lab's world) and record evidence in a new run."""
    from souverain.portfolio import load_portfolio
    from souverain.probes import REGISTRY
    from souverain.scan import ScanOptions, run_scan
    from souverain.scan.run import ScanInterrupted, net_config_from

    db = _store(store)
    config: dict[str, Any]
    if resume is not None:
        if portfolio is not None:
            raise InputError("scan: give either a portfolio or --resume RUN, not both")
        info = db.run(resume)
        if info.status == "completed":
            raise InputError(f"--resume {resume}: run {resume} is already completed")
        config = dict(info.config)
        run_id = resume
    else:
        config = {}
        if lab:
            lab_info = _lab_info(lab_dir)
            config.update(resolver=lab_info["resolver"], ca_file=lab_info["ca_file"])
            portfolio = portfolio or Path(lab_info["portfolio"])
        if portfolio is None:
            raise InputError("scan: a portfolio file is required (or --lab, or --resume RUN)")
        orgs = load_portfolio(portfolio)
        run_id = 0
        config.setdefault("resolver", None)
        config.setdefault("ca_file", None)
    if resolver:
        config["resolver"] = resolver
    if ca_file:
        if not ca_file.is_file():
            raise InputError(f"--ca-file '{ca_file}': file not found")
        config["ca_file"] = str(ca_file)
    if user_agent:
        config["user_agent"] = user_agent
    config["per_ip_limit"] = per_ip
    probes = frozenset(p.strip() for p in only.split(",")) if only else None
    if probes and (unknown := probes - set(REGISTRY)):
        raise InputError(
            f"--only: unknown probe(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(REGISTRY))})"
        )
    net_config = net_config_from(config)
    config["resolver"] = net_config.resolver
    if resume is None:
        run_id = db.create_run(str(portfolio), orgs, config)
        console.print(f"run [bold]{run_id}[/]: {len(orgs)} organisations, resolver {net_config.resolver}")

    with progress_bar() as bar:
        task = bar.add_task(f"scan run {run_id}", total=None)

        def on_start(pending: int, total: int) -> None:
            bar.update(task, total=total, completed=total - pending)

        try:
            summary = run_scan(
                db,
                run_id,
                net_config,
                ScanOptions(
                    concurrency=concurrency, target_budget_s=target_budget, only=probes, workers=workers
                ),
                on_start=on_start,
                on_result=lambda _r: bar.advance(task),
            )
        except ScanInterrupted as exc:
            console.print(f"[yellow]{exc}[/]")
            raise typer.Exit(130) from None
    table = Table(title=f"run {run_id}: {summary.scanned} domains in {summary.seconds:.1f}s")
    table.add_column("status")
    table.add_column("domains", justify="right")
    for status, count in sorted(summary.counts.items()):
        table.add_row(status, str(count))
    console.print(table)
    out.print(run_id)


# report -----------------------------------------------------------------------------------------------
def _run_id(db: Any, run: str) -> int:
    if run == "latest":
        latest = db.latest_run()
        if latest is None:
            raise InputError("RUN 'latest': the store has no run yet")
        return int(latest)
    if not run.isdigit():
        raise InputError(f"RUN '{run}': expected a run id (a number) or 'latest'")
    return int(run)


@app.command()
def report(
    run: Annotated[str, typer.Argument(help="Run id, or 'latest'.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the report into.")],
    store: StoreOpt = None,
) -> None:
    """Write the HTML + JSON report of a run."""
    from souverain.report import build_report

    db = _store(store)
    run_id = _run_id(db, run)
    db.run(run_id)
    with progress_bar() as bar:
        task = bar.add_task(f"report run {run_id}", total=None)
        result = build_report(
            db, run_id, out_dir, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    console.print(f"report of run {run_id}: {result.organisations} organisations, {result.targets} domains")
    out.print(str((out_dir / "index.html").resolve()))


@app.command()
def runs(store: StoreOpt = None) -> None:
    """List the runs in the store."""
    db = _store(store)
    table = Table()
    for column in ("run", "status", "started (UTC)", "domains", "portfolio"):
        table.add_column(column)
    import time

    for info in db.runs():
        counts = db.status_counts(info.id)
        table.add_row(
            str(info.id),
            info.status,
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(info.created_at)),
            str(sum(counts.values())),
            info.portfolio,
        )
    out.print(table)


# portfolio --------------------------------------------------------------------------------------------
@portfolio_app.command("check")
def portfolio_check(file: Annotated[Path, typer.Argument(help="Portfolio file to validate.")]) -> None:
    """Validate a portfolio file and summarise it; every problem is listed with file, line and field."""
    from souverain.errors import PortfolioError
    from souverain.portfolio import load_portfolio

    try:
        orgs = load_portfolio(file)
    except PortfolioError as exc:
        for problem in exc.problems:
            console.print(f"[red]error[/]: {problem}", highlight=False)
        raise typer.Exit(2) from None
    domains = {d.name for org in orgs for d in org.domains}
    out.print(f"{file}: {len(orgs)} organisations, {len(domains)} distinct domains: OK")


# lab --------------------------------------------------------------------------------------------------
def _lab_dir(lab_dir: Path | None) -> Path:
    return (lab_dir or home() / "lab").expanduser().resolve()


def _lab_info(lab_dir: Path | None) -> dict[str, Any]:
    path = _lab_dir(lab_dir) / "lab.json"
    if not path.is_file():
        raise InputError(f"lab '{path.parent}': no lab there; start it with: souverain lab up")
    info: dict[str, Any] = orjson.loads(path.read_bytes())
    return info


@lab_app.command("up")
def lab_up(
    seed: Annotated[int, typer.Option(help="World seed (same seed, same world).")] = 1,
    size: Annotated[int | None, typer.Option(min=1, help="Number of organisations.")] = None,
    domains: Annotated[
        int | None, typer.Option(min=1, help="Number of domains instead of organisations.")
    ] = None,
    lab_dir: LabDirOpt = None,
) -> None:
    """Generate the world and start nsd, unbound, nginx and the hostile servers on 127.0.0.0/8."""
    from souverain.lab import up

    if size is not None and domains is not None:
        raise InputError("lab up: give --size or --domains, not both")
    if size is None and domains is None:
        size = 200
    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        info = up(_lab_dir(lab_dir), seed=seed, size=size, domains=domains, progress=progress)
    console.print(f"lab up in {_lab_dir(lab_dir)}: {info.domains} domains, resolver {info.resolver}")
    out.print(str(_lab_dir(lab_dir)))


@lab_app.command("down")
def lab_down(lab_dir: LabDirOpt = None) -> None:
    """Stop every server of the lab."""
    from souverain.lab import down

    down(_lab_dir(lab_dir))
    console.print("lab down")


@lab_app.command("status")
def lab_status(lab_dir: LabDirOpt = None) -> None:
    """Show which lab servers run, and the world they serve."""
    from souverain.lab import status

    out.print_json(orjson.dumps(status(_lab_dir(lab_dir)), default=str).decode())


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        app()
    except SouverainError as exc:
        if debug:
            raise
        console.print(f"[red]error[/]: {exc}", highlight=False)
        sys.exit(2 if isinstance(exc, InputError) else 1)
    except KeyboardInterrupt:
        if debug:
            raise
        console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        console.print(
            f"[red]internal error[/] (a bug in souverain, please report it): {type(exc).__name__}: "
            f"{exc} — rerun with --debug for the traceback",
            highlight=False,
        )
        sys.exit(70)


if __name__ == "__main__":
    main()
