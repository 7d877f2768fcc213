"""Command line: ``souverain scan | report | runs | assess | reassess | import-evidence | export | serve |
operator | token | portfolio | kb | lab | procurement`` (``souverain COMMAND --help`` for each)."""

from __future__ import annotations

import contextlib
import gc
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from souverain import __version__
from souverain.cliopts import LangOpt, StoreOpt, counted, out_folder
from souverain.errors import InputError, SouverainError
from souverain.opendata.cli import export as export_command
from souverain.processes import GC_THRESHOLDS, redeliver_lost_interrupts
from souverain.procurement.cli import procurement_app
from souverain.web.cli import register as register_web

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
kb_app = typer.Typer(help="The knowledge base: who operates what, under which law.", no_args_is_help=True)
app.add_typer(lab_app, name="lab")
app.add_typer(portfolio_app, name="portfolio")
app.add_typer(kb_app, name="kb")
app.add_typer(procurement_app, name="procurement")

console = Console(stderr=True, soft_wrap=True)
out = Console()


def home() -> Path:
    """Where souverain keeps its store and lab by default (``$SOUVERAIN_HOME``)."""
    return Path(os.environ.get("SOUVERAIN_HOME", "~/.local/share/souverain")).expanduser()


LabDirOpt = Annotated[Path | None, typer.Option("--dir", help="Lab folder (default $SOUVERAIN_HOME/lab).")]


def _resolver_opt(value: str | None) -> str | None:
    """``--resolver`` as given; an empty value is an error, not "use the system's resolver" (an unset
    variable in a script would otherwise send the lab's questions to the real internet)."""
    if value is not None and not value.strip():
        raise InputError("--resolver '': empty; give IP[:port], or leave the option out for /etc/resolv.conf")
    return value


def _ca_file_opt(path: Path | None) -> str | None:
    """``--ca-file``: a readable PEM file holding at least one certificate (OpenSSL must load it)."""
    if path is None:
        return None
    import ssl

    if not path.is_file():
        raise InputError(f"--ca-file '{path}': file not found")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"--ca-file '{path}': not a PEM trust store ({exc.__class__.__name__}: {exc})"
        ) from None
    return str(path)


def _procurement_opt(path: Path | None) -> Path | None:
    """``--procurement``: an ingested DECP database; when not given, the default one if it exists."""
    from souverain.procurement import default_db_path
    from souverain.procurement.store import is_duckdb

    if path is None:
        return default_db_path() if default_db_path().is_file() else None
    if not path.is_file():
        raise InputError(f"--procurement '{path}': no such file (run souverain procurement ingest)")
    if not is_duckdb(path):
        raise InputError(
            f"--procurement '{path}': not a DuckDB database (made by souverain procurement ingest)"
        )
    return path


def _store(value: str | Path | None, *, existing: bool = False) -> Any:
    """The store named by ``--store`` (a file or a SQLAlchemy URL: ``Store`` tells them apart). With
    ``existing`` (commands that read runs), a SQLite file that does not exist is an error, not created."""
    from souverain.store import Store

    target = value or home() / "souverain.db"
    if existing and "://" not in str(target):
        path = Path(target).expanduser()
        if not path.is_file():
            raise InputError(
                f"store '{path}': no such file (nothing scanned into it yet; give --store, or scan first)"
            )
    return Store(target)


def progress_bar() -> Progress:
    """A bar on a terminal, lines in a log (``souverain.progress``)."""
    from souverain.progress import progress_bar as make

    return make(console)


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
    resume: Annotated[
        int | None, typer.Option(min=1, max=2**63 - 1, help="Resume an interrupted run by id.")
    ] = None,
    store: StoreOpt = None,
    concurrency: Annotated[int, typer.Option(min=1, max=5000, help="Targets in flight at once.")] = 200,
    per_ip: Annotated[
        int | None,
        typer.Option(min=1, max=100, help="Concurrent connections per destination IP.  [default: 4]"),
    ] = None,
    target_budget: Annotated[
        float | None, typer.Option(min=1.0, help="Seconds allowed per target.  [default: 60]")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=0, max=64, help="Scanning processes (0: automatic, 2 from 1,000 targets).")
    ] = 0,
    only: Annotated[str | None, typer.Option(help="Comma-separated probes to run (default: all).")] = None,
    user_agent: Annotated[str | None, typer.Option(help="User-Agent for HTTP requests.")] = None,
    origin_lookup: Annotated[
        bool, typer.Option("--origin-lookup", help="Ask a Team Cymru style DNS zone for the AS of addresses.")
    ] = False,
    tenant_probe: Annotated[
        bool,
        typer.Option("--tenant-probe", help="Ask Microsoft's identity platform if a domain has a tenant."),
    ] = False,
) -> None:
    """Scan a portfolio (or the lab's world) and record evidence in a new run.

    --resume RUN scans what an interrupted run left, with the run's own settings (resolver, trust store,
    probes, budgets, caps…): only --concurrency, --workers and --store may be given with it."""
    from souverain.portfolio import load_portfolio
    from souverain.probes import REGISTRY
    from souverain.scan import ScanOptions
    from souverain.scan.memory import trim_heap
    from souverain.scan.run import net_config_from

    # what makes a run one measurement, as the run records it: a resumed run keeps its own
    measured: dict[str, tuple[Any, Callable[[], Any], str]] = {
        "--resolver": (resolver, lambda: net_config_from({"resolver": resolver}).resolver, "resolver"),
        "--ca-file": (ca_file, lambda: _ca_file_opt(ca_file), "ca_file"),
        "--lab": (lab or None, lambda: str(_lab_dir(lab_dir)), "lab_dir"),
        "--dir": (lab_dir, lambda: str(_lab_dir(lab_dir)), "lab_dir"),
        "--per-ip": (per_ip, lambda: per_ip, "per_ip_limit"),
        "--target-budget": (target_budget, lambda: target_budget, "target_budget_s"),
        "--only": (only, lambda: sorted(_only_opt(str(only), REGISTRY)), "only"),
        "--user-agent": (user_agent, lambda: user_agent, "user_agent"),
        "--origin-lookup": (origin_lookup or None, lambda: True, "origin_lookup"),
        "--tenant-probe": (tenant_probe or None, lambda: True, "tenant_probe"),
    }
    db = _store(store)
    config: dict[str, Any]
    if resume is not None:
        if portfolio is not None:
            raise InputError("scan: give either a portfolio or --resume RUN, not both")
        config = dict(_resumable(db, resume).config)
        recorded = _RECORDED_DEFAULTS | {k: v for k, v in config.items() if v is not None}
        changed = [  # the run's own value given again is no change
            name
            for name, (value, as_recorded, key) in measured.items()
            if value is not None and as_recorded() != recorded.get(key)
        ]
        if changed:
            raise InputError(
                f"--resume {resume}: {', '.join(changed)} cannot be changed in a run: its remaining targets "
                f"are scanned with its own settings ({_settings(config)}); resume without "
                f"{'it' if len(changed) == 1 else 'them'}, or scan in a new run"
            )
        run_id = resume
    else:
        config = {}
        if lab:
            lab_info = _lab_info(lab_dir)
            config.update(resolver=lab_info["resolver"], ca_file=lab_info["ca_file"])
            config["lab_dir"] = str(_lab_dir(lab_dir))
            portfolio = portfolio or Path(lab_info["portfolio"])
        if portfolio is None:
            raise InputError("scan: a portfolio file is required (or --lab, or --resume RUN)")
        orgs = load_portfolio(portfolio)
        run_id = 0
        config.setdefault("resolver", None)
        config.setdefault("ca_file", None)
        if _resolver_opt(resolver) is not None:
            config["resolver"] = resolver
        if ca_file is not None:
            config["ca_file"] = _ca_file_opt(ca_file)
        if user_agent is not None:
            config["user_agent"] = _user_agent_opt(user_agent)
        config["per_ip_limit"] = per_ip or 4
        config["target_budget_s"] = target_budget or 60.0
        if origin_lookup:
            config["origin_lookup"] = True
        if tenant_probe:
            config["tenant_probe"] = True
        config["only"] = sorted(_only_opt(only, REGISTRY)) if only is not None else None
    # runs recorded before 2026-11-25 kept neither the budget nor the probes: the defaults, as then
    probes = frozenset(config["only"]) if config.get("only") else None
    net_config = net_config_from(config)
    config["resolver"] = net_config.resolver
    if resume is None:
        run_id = db.create_run(str(portfolio), orgs, config)
    lock = db.hold_run(run_id)  # RunBusy when another process scans it (two `--resume` at once)
    try:
        try:
            if resume is None:
                console.print(
                    f"run [bold]{run_id}[/]: {len(orgs)} organisations, resolver {net_config.resolver}"
                )
                del orgs  # stored with the run; ~10 KB per organisation would otherwise be held
                gc.collect()
                trim_heap()
            else:
                _resumable(
                    db, run_id
                )  # again, held: the process that held it until now may have completed it
            options = ScanOptions(
                concurrency=concurrency,
                target_budget_s=float(config.get("target_budget_s") or 60.0),
                only=probes,
                workers=workers,
            )
            summary, context, stream = _scan_held_run(db, run_id, config, net_config, options, resume)
        except KeyboardInterrupt:  # before run_scan took care of it (KB loading…): the run stays resumable
            db.set_run_status(run_id, "interrupted")
            console.print(
                f"[yellow]run {run_id} interrupted before its scan started; resume with: souverain scan "
                f"--resume {run_id}[/]"
            )
            sys.exit(130)
        _conclude_scan(db, run_id, config, summary, context, stream, concurrency)
    finally:
        lock.release()


def _only_opt(only: str, known: Any) -> frozenset[str]:
    probes = frozenset(p.strip() for p in only.split(",") if p.strip())
    if not probes:
        raise InputError(f"--only '{only}': no probe named (known: {', '.join(sorted(known))})")
    if unknown := probes - set(known):
        raise InputError(
            f"--only: unknown probe(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})"
        )
    return probes


def _user_agent_opt(value: str) -> str:
    """The User-Agent goes into every HTTP request: a header value of visible ASCII characters and spaces."""
    if not value.strip():
        raise InputError("--user-agent '': empty; leave the option out for souverain's own")
    if bad := next((c for c in value if not " " <= c <= "~"), None):
        what = "a control character" if ord(bad) < 32 or ord(bad) == 127 else "a non-ASCII character"
        raise InputError(f"--user-agent {value!r}: {what} ({bad!r}) cannot go into an HTTP header")
    return value


_RECORDED_DEFAULTS: dict[str, Any] = {"per_ip_limit": 4, "target_budget_s": 60.0}
"""Settings as a run recorded before 2026-11-25 had them without saying so."""


def _settings(config: dict[str, Any]) -> str:
    """A run's recorded settings, as ``--resume`` names them."""
    parts = [f"resolver {config.get('resolver') or 'of the system'}"]
    if config.get("lab_dir"):
        parts.append(f"lab {config['lab_dir']}")
    elif config.get("ca_file"):
        parts.append(f"trust store {config['ca_file']}")
    parts.append(f"probes {','.join(config['only'])}" if config.get("only") else "all probes")
    parts.append(f"per-ip {config.get('per_ip_limit', 4)}")
    parts.append(f"target budget {config.get('target_budget_s') or 60.0:g} s")
    if config.get("user_agent"):
        parts.append(f"user agent {config['user_agent']!r}")
    parts += [
        option
        for option, key in (("origin lookup", "origin_lookup"), ("tenant probe", "tenant_probe"))
        if config.get(key)
    ]
    return ", ".join(parts)


def _resumable(db: Any, run_id: int) -> Any:
    """The run to resume (``RunInfo``); an error when there is no such run or it is completed."""
    info = db.run(run_id)
    if info.status == "completed":
        raise InputError(f"--resume {run_id}: run {run_id} is already completed")
    return info


def _scan_held_run(
    db: Any, run_id: int, config: dict[str, Any], net_config: Any, options: Any, resumed: int | None
) -> tuple[Any, Any, Any]:
    """Scan the run's pending targets (``scan``, the run held); its summary, the attribution context (None
    when the KB cannot be loaded: said after the scan) and the attribution streamed while scanning."""
    from souverain.scan import run_scan
    from souverain.scan.run import ScanInterrupted

    context = stream = None
    with contextlib.suppress(SouverainError):  # reported after the scan: the evidence is worth collecting
        context = _attribution_context(config)
    if context is not None and resumed is None:  # a resumed run is attributed from its stored evidence
        from souverain.attribution.run import StreamedAttribution

        stream = StreamedAttribution(db, run_id, *context)

    with progress_bar() as bar:
        task = bar.add_task(f"scan run {run_id}", total=None)

        def on_start(pending: int, total: int) -> None:
            bar.update(task, total=total, completed=total - pending, baseline=total - pending)

        try:
            summary = run_scan(
                db,
                run_id,
                net_config,
                options,
                on_start=on_start,
                on_result=lambda _r: bar.advance(task),
                on_batch=stream.add if stream is not None else None,
            )
        except ScanInterrupted as exc:
            console.print(f"[yellow]{exc}[/]")
            sys.exit(130)
    return summary, context, stream


def _conclude_scan(
    db: Any, run_id: int, config: dict[str, Any], summary: Any, context: Any, stream: Any, concurrency: int
) -> None:
    """The scan's table of statuses, then the run's attribution (finished, or done now) and assessment."""
    table = Table(title=f"run {run_id}: {summary.scanned} domains in {summary.seconds:.1f}s")
    table.add_column("status")
    table.add_column("domains", justify="right")
    for status, count in sorted(summary.counts.items()):
        table.add_row(status, str(count))
    console.print(table)
    if summary.busy:
        _warn_scanner_busy(summary, concurrency)
    try:
        context = context or _attribution_context(config)
        if stream is not None and stream.error is None:
            _report_attribution(stream.finish(), run_id)
        else:
            _attribute(db, run_id, config, context=context)
            db.drop_incomplete_attributions(run_id)  # the interrupted scan's, or this one's that failed
        _assess(db, run_id, config, context=context)
    except SouverainError as exc:
        console.print(
            f"[red]attribution failed[/]: {exc}\nThe evidence of run {run_id} is recorded; once fixed, run: "
            f"souverain reassess {run_id}",
            highlight=False,
        )
        out.print(run_id)
        raise typer.Exit(1) from None
    out.print(run_id)


def _warn_scanner_busy(summary: Any, concurrency: int) -> None:
    """The scanner delayed its own work: its failures then may not be the targets'."""
    busy: dict[str, int] = summary.busy
    failed = {s: n for s, n in busy.items() if s in ("timeout", "error")}
    message = (
        f"[yellow]note[/]: the scanner was overloaded while {sum(busy.values())} domain(s) were scanned "
        f"(its DNS questions queued up to {summary.worst_queue_ms / 1000:.1f} s on average, its event loop "
        f"ran up to {summary.worst_lag_ms / 1000:.1f} s late)"
    )
    if failed:
        message += (
            f"; {', '.join(f'{n} {s}' for s, n in sorted(failed.items()))} among them may be the scanner's "
            "own slowness, not the targets' (the report marks them). Scan again with a lower --concurrency "
            f"(now {concurrency}) or on a less busy machine."
        )
    console.print(message, highlight=False)


# attribution ------------------------------------------------------------------------------------------
KbExtraOpt = Annotated[
    list[Path] | None,
    typer.Option("--kb-extra", help="Extra KB folder or file (overlay) loaded after the shipped KB."),
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Date (YYYY-MM-DD) for ownership chains (default: today).")
]


def _as_of(value: str | None) -> Any:
    import datetime as dt

    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of '{value}': expected a date YYYY-MM-DD") from None


def _attribution_context(config: dict[str, Any], kb_extra: list[Path] | None = None) -> Any:
    from souverain.attribution.run import context_for_run

    return context_for_run(config, home(), kb_extra or [])


def _attribute(db: Any, run_id: int, config: dict[str, Any], kb_extra: list[Path] | None = None,
               as_of: Any = None, context: Any = None) -> Any:  # fmt: skip
    """Attribute a run; ``context`` is the (KB, networks) pair when the caller loaded it already."""
    from souverain.attribution.run import attribute_run

    kb, networks = context or _attribution_context(config, kb_extra)
    total = sum(db.status_counts(run_id).values())
    with progress_bar() as bar:
        task = bar.add_task(f"attribute run {run_id}", total=total)
        result = attribute_run(db, run_id, kb, networks, on=as_of, progress=lambda n: bar.advance(task, n))
    _report_attribution(result, run_id)
    return result


def _report_attribution(result: Any, run_id: int) -> None:
    determined = sum(n for c in result.by_role.values() for conf, n in c.items() if conf != "none")
    console.print(
        f"attribution {result.attribution_id} of run {run_id} (KB {result.kb_version}): "
        f"{counted(result.dependencies, 'dependency', 'dependencies')} over "
        f"{counted(result.targets, 'domain')}, {determined} with an operator"
    )


@app.command()
def reassess(
    run: Annotated[str, typer.Argument(help="Run id, or 'latest'.")],
    store: StoreOpt = None,
    kb_extra: KbExtraOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Recompute a run's dependencies and assessment from its stored evidence with the current KB and policy
    (no network)."""
    _run_arg(run)
    db = _store(store, existing=True)
    run_id = _run_id(db, run)
    info = db.run(run_id)
    context = _attribution_context(dict(info.config), kb_extra)
    _attribute(db, run_id, dict(info.config), kb_extra, _as_of(as_of), context)
    _assess(db, run_id, dict(info.config), kb_extra, None, _as_of(as_of), context=context)
    out.print(run_id)


PolicyOpt = Annotated[Path | None, typer.Option("--policy", help="Policy folder (default: the shipped one).")]


def _assess(db: Any, run_id: int, config: dict[str, Any], kb_extra: list[Path] | None = None,
            policy_dir: Path | None = None, as_of: Any = None,
            tls_baseline: str | None = None, context: Any = None) -> Any:  # fmt: skip
    from souverain.assessment.run import assess_run
    from souverain.policy.load import load_policy
    from souverain.processes import available_cores

    policy = load_policy(policy_dir, tls_baseline=tls_baseline)
    kb, networks = context or _attribution_context(config, kb_extra)
    total = db.count_run_organisations(run_id)
    with progress_bar() as bar:
        task = bar.add_task(f"assess run {run_id}", total=total)
        result = assess_run(
            db,
            run_id,
            kb,
            networks,
            policy,
            on=as_of,
            progress=lambda n: bar.advance(task, n),
            processes=min(2, available_cores()),
        )
    score = result.summary["score"]
    mean = "no score (nothing could be assessed)" if score["mean"] is None else f"mean score {score['mean']}"
    console.print(
        f"assessment {result.assessment_id} of run {run_id} (methodology {result.methodology}): "
        f"{counted(result.organisations, 'organisation')}, {mean}, "
        f"{score['provisional']} provisional"
    )
    return result


@app.command()
def assess(
    run: Annotated[str, typer.Argument(help="Run id, or 'latest'.")],
    store: StoreOpt = None,
    policy: PolicyOpt = None,
    kb_extra: KbExtraOpt = None,
    as_of: AsOfOpt = None,
    tls_baseline: Annotated[
        str | None,
        typer.Option(
            "--tls-baseline",
            help="TLS baseline profile of the policy's baselines/ folder (anssi-tls, mozilla-intermediate); "
            "default: the one policy.yaml names.",
        ),
    ] = None,
) -> None:
    """Assess a run with the current policy: levels, scores with coverage, findings, history, trajectories."""
    _run_arg(run)
    db = _store(store, existing=True)
    run_id = _run_id(db, run)
    info = db.run(run_id)
    _assess(db, run_id, dict(info.config), kb_extra, policy, _as_of(as_of) if as_of else None, tls_baseline)
    out.print(run_id)


@app.command("import-evidence")
def import_evidence(
    file: Annotated[Path, typer.Argument(help="JSON Lines file: one domain's observations per line.")],
    portfolio: Annotated[
        Path | None, typer.Option(help="Portfolio naming the organisations (else each line has siren, name).")
    ] = None,
    store: StoreOpt = None,
    kb_extra: KbExtraOpt = None,
) -> None:
    """Load recorded evidence gathered elsewhere into a new run and attribute it offline (docs/kb.md)."""
    from souverain.attribution.importer import import_observations

    db = _store(store)
    run_id, count = import_observations(db, file, portfolio)
    console.print(f"run {run_id}: {count} domains imported from {file}")
    config = {"kb_extra": [str(p) for p in kb_extra or []]}
    context = _attribution_context(config)
    _attribute(db, run_id, config, context=context)
    _assess(db, run_id, config, context=context)
    out.print(run_id)


@kb_app.command("check")
def kb_check(kb_extra: KbExtraOpt = None) -> None:
    """Validate the KB: schema of every file, then consistency (one ASN → one operator, no dangling
    parent, ordered dates, patterns that compile, no signature claimed twice unless declared)."""
    from souverain.errors import KBError
    from souverain.kb.check import consistency_problems
    from souverain.kb.load import load_kb

    try:
        kb = load_kb(extra=list(kb_extra or []))
    except KBError as exc:
        for problem in exc.problems:
            console.print(f"[red]✗[/] {problem}", highlight=False)
        raise typer.Exit(1) from None
    problems = consistency_problems(kb)
    for problem in problems:
        console.print(f"[red]✗[/] {problem}", highlight=False)
    facts = list(kb.facts())
    unverified = sum(1 for _, src in facts if not src.verified)
    console.print(
        f"KB {kb.version}: {len(kb.entities)} entities, {len(kb.signatures)} signatures, "
        f"{len(kb.laws)} laws, {len(facts)} sourced facts ({unverified} unverified), {len(kb.files)} files"
    )
    if problems:
        raise typer.Exit(1)


@kb_app.command("show")
def kb_show(
    entity: Annotated[str, typer.Argument(help="Entity id (e.g. microsoft), or part of a name.")],
    as_of: AsOfOpt = None,
    kb_extra: KbExtraOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Explain an entity: identity, ownership chain, exposures (with the path that brings each), offers,
    signatures — every fact with its source, checked date and verified mark."""
    from souverain.kb.explain import explain, find_entity, render_text
    from souverain.kb.load import load_kb

    kb = load_kb(extra=list(kb_extra or []))
    found = find_entity(kb, entity)
    doc = explain(kb, found, _as_of(as_of))
    if as_json:
        out.print_json(orjson.dumps(doc, default=str).decode())
    else:
        out.print(render_text(doc), markup=False, highlight=False, soft_wrap=True)


# report -----------------------------------------------------------------------------------------------
_MAX_RUN_ID = 2**63 - 1


def _run_arg(run: str) -> None:
    """Check the RUN argument before the store is opened (a typo is named before a missing store)."""
    if run != "latest" and not run.isdigit():
        raise InputError(f"RUN '{run}': expected a run id (a number) or 'latest'")
    if run != "latest" and int(run) > _MAX_RUN_ID:  # the store's integers are 64-bit
        raise InputError(f"RUN '{run}': no such run (run ids go up to {_MAX_RUN_ID})")


def _run_id(db: Any, run: str) -> int:
    _run_arg(run)
    if run == "latest":  # the latest scan of a portfolio, as `serve` publishes: not an on-demand scan
        latest = next((r.id for r in reversed(db.runs()) if not r.config.get("on_demand")), None)
        if latest is None:
            raise InputError("RUN 'latest': the store has no run yet (on-demand scans aside: give their id)")
        return int(latest)
    return int(run)


@app.command()
def report(
    run: Annotated[str, typer.Argument(help="Run id, or 'latest'.")],
    out_dir: Annotated[
        Path, typer.Option("--out", parser=out_folder, help="Folder to write the report into.")
    ],
    store: StoreOpt = None,
    procurement: Annotated[
        Path | None,
        typer.Option(
            "--procurement",
            help="Ingested DECP database to report on too (default: $SOUVERAIN_HOME/procurement.duckdb "
            "when it exists).",
        ),
    ] = None,
    lang: LangOpt = "fr",
) -> None:
    """Write the HTML + JSON report of a run (and of the procurement pillar when DECP were ingested).

    Pages in French (--lang en for English); the JSON files, with codes and English texts, are the same in
    both (docs/report.md)."""
    from souverain.report import build_report

    procurement = _procurement_opt(procurement)
    _run_arg(run)
    db = _store(store, existing=True)
    run_id = _run_id(db, run)
    info = db.run(run_id)
    try:
        kb, _ = _attribution_context(dict(info.config))
    except SouverainError as exc:
        console.print(
            f"[yellow]the KB cannot be loaded ({exc}); operators are shown by id[/]", highlight=False
        )
        kb = None
    with progress_bar() as bar:
        task = bar.add_task(f"report run {run_id}", total=None)
        result = build_report(
            db,
            run_id,
            out_dir,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            kb=kb,
            procurement_db=procurement,
            lang=lang,
        )
    console.print(f"report of run {run_id}: {result.organisations} organisations, {result.targets} domains")
    if procurement is not None:
        console.print(f"procurement report from {procurement}: {out_dir / 'procurement' / 'index.html'}")
    out.print(str((out_dir / "index.html").resolve()))


app.command("export")(export_command)  # souverain.opendata.cli
register_web(app)  # souverain.web.cli: serve, operator, token


@app.command()
def runs(store: StoreOpt = None) -> None:
    """List the runs in the store."""
    db = _store(store, existing=True)
    table = Table()
    for column in ("run", "status", "started (UTC)", "domains", "portfolio"):
        table.add_column(column)
    import time

    stopped = []
    for info in db.runs():
        counts = db.status_counts(info.id)
        status = info.status
        if status == "running" and not db.run_held(info.id):  # no process scans it: killed, or crashed
            status = "stopped"
            stopped.append(info.id)
        table.add_row(
            str(info.id),
            status,
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(info.created_at)),
            str(sum(counts.values())),
            info.portfolio,
        )
    out.print(table)
    if stopped:
        console.print(
            f"stopped: its scan ended without finishing (killed or crashed); resume with: souverain scan "
            f"--resume {stopped[-1]}",
            highlight=False,
        )


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
            console.print(f"[red]error[/]: {escape(str(problem))}", highlight=False)
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
    """Generate the world and start nsd, unbound, nginx and the hostile servers on 127.0.0.0/8.

    One lab per machine (its addresses are fixed): a lab running from another folder is stopped first, and
    said so; a scan still using it then meets a different world."""
    from souverain.lab import up

    if size is not None and domains is not None:
        raise InputError("lab up: give --size or --domains, not both")
    if size is None and domains is None:
        size = 200
    if _lab_dir(lab_dir).exists() and not _lab_dir(lab_dir).is_dir():
        raise InputError(f"--dir '{_lab_dir(lab_dir)}': a file, not a folder")
    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        info = up(_lab_dir(lab_dir), seed=seed, size=size, domains=domains, progress=progress)
    if info.replaced:
        console.print(
            f"[yellow]stopped the lab that was running in {info.replaced}: one lab per machine (fixed "
            "addresses)[/]",
            highlight=False,
        )
    console.print(f"lab up in {_lab_dir(lab_dir)}: {info.domains} domains, resolver {info.resolver}")
    out.print(str(_lab_dir(lab_dir)))


@lab_app.command("down")
def lab_down(lab_dir: LabDirOpt = None) -> None:
    """Stop every server of the lab."""
    from souverain.lab import down

    down(_lab_dir(lab_dir))
    console.print("lab down")


@lab_app.command("status")
def lab_status(
    lab_dir: LabDirOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole status (every address) as JSON.")
    ] = False,
) -> None:
    """Show which lab servers run, and the world they serve (exit code 1 when one is not running)."""
    from souverain.lab import status

    _lab_info(lab_dir)  # a folder without a lab is an error, not a document of nulls
    doc = status(_lab_dir(lab_dir))
    if as_json:
        out.print_json(orjson.dumps(doc, default=str).decode())
    else:
        state = "running" if doc["running"] else "[red]not running[/] (souverain lab up starts it again)"
        out.print(
            f"lab {doc['lab_dir']}: {doc['size']} organisations, {doc['domains']} domains "
            f"(seed {doc['seed']}), resolver {doc['resolver']}: {state}",
            highlight=False,
            soft_wrap=True,
        )
        table = Table("service", "state", "pid", "addresses")
        for name, svc in doc["services"].items():
            addresses = svc["address"] if isinstance(svc["address"], list) else [svc["address"]]
            shown = ", ".join(str(a) for a in addresses[:2] if a) + (
                f" and {len(addresses) - 2} more" if len(addresses) > 2 else ""
            )
            running = "running" if svc["running"] else "[red]stopped[/]"
            table.add_row(name, running, str(svc["pid"] or "—"), shown or "—")
        out.print(table)
    if not doc["running"]:
        raise typer.Exit(1)


@kb_app.command("update")
def kb_update(
    lab: Annotated[
        bool, typer.Option("--lab", help="Fetch from the running lab (its resolver and CA).")
    ] = False,
    lab_dir: LabDirOpt = None,
    resolver: Annotated[str | None, typer.Option(help="Recursive resolver IP[:port].")] = None,
    ca_file: Annotated[Path | None, typer.Option(help="PEM trust store.")] = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated table names (default: all).")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder (default $SOUVERAIN_HOME/kb/networks).")
    ] = None,
) -> None:
    """Refresh the prefix tables and cloud IP ranges (online), recording source URL, date and digest."""
    from souverain.kb.update import SOURCES, update_tables
    from souverain.scan.run import net_config_from

    config: dict[str, Any] = {"resolver": _resolver_opt(resolver), "ca_file": _ca_file_opt(ca_file)}
    names = [n.strip() for n in only.split(",")] if only else []
    if lab:
        from souverain.lab.kbfiles import DATA_HOSTS

        info = _lab_info(lab_dir)
        config.update(
            resolver=config["resolver"] or info["resolver"], ca_file=config["ca_file"] or info["ca_file"]
        )
        served = [s.name for s in SOURCES if s.name in {name for name, *_ in DATA_HOSTS.values()}]
        if not_served := [n for n in names if n and n not in served and n in {s.name for s in SOURCES}]:
            raise InputError(
                f"--only: the lab does not serve {', '.join(not_served)} (it serves {', '.join(served)})"
            )
        if not names and (left := [s.name for s in SOURCES if s.name not in served]):
            console.print(
                f"the lab serves {len(served)} of the {len(SOURCES)} tables; not fetched: {', '.join(left)}",
                highlight=False,
            )
        names = names or served
    target = out_dir or home() / "kb" / "networks"
    failed = 0

    def report(outcome: Any) -> None:
        nonlocal failed
        failed += not outcome.ok
        mark = "[green]✓[/]" if outcome.ok else "[red]✗[/]"
        console.print(f"{mark} {outcome.name}: {outcome.detail}", highlight=False)

    update_tables(net_config_from(config), target, only=names, report=report)
    out.print(str(target))
    if failed:
        raise typer.Exit(1)


@kb_app.command("import-table")
def kb_import_table(
    fmt: Annotated[
        str,
        typer.Argument(
            help="Format: iptoasn, prefix-tsv, aws, google-cloud, azure, fastly, cloudflare, oracle."
        ),
    ],
    file: Annotated[Path, typer.Argument(help="The table file (downloaded elsewhere).")],
    name: Annotated[str | None, typer.Option(help="Table name (default: the format).")] = None,
    source: Annotated[str | None, typer.Option(help="Where the file came from (URL).")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder (default $SOUVERAIN_HOME/kb/networks).")
    ] = None,
) -> None:
    """Install a network table from a local file (offline), e.g. Azure's weekly Service Tags JSON."""
    from souverain.kb.netdata import TABLE_FORMATS
    from souverain.kb.update import import_table

    if fmt not in TABLE_FORMATS:
        raise InputError(f"FORMAT '{fmt}': unknown (known: {', '.join(TABLE_FORMATS)})")
    target = out_dir or home() / "kb" / "networks"
    rows = import_table(target, name or fmt, fmt, file, source)
    console.print(f"{name or fmt}: {rows} rows installed in {target}")


@lab_app.command("accuracy")
def lab_accuracy(
    run: Annotated[str, typer.Argument(help="Run id (a scan of the lab), or 'latest'.")],
    store: StoreOpt = None,
    lab_dir: LabDirOpt = None,
) -> None:
    """Precision and recall of the run's attribution per role against the lab's truth.json (JSON)."""
    from souverain.lab.accuracy import grade

    _run_arg(run)
    db = _store(store, existing=True)
    run_id = _run_id(db, run)
    info = db.run(run_id)
    lab = (
        Path(info.config["lab_dir"]) if lab_dir is None and info.config.get("lab_dir") else _lab_dir(lab_dir)
    )
    truth_path = lab / "truth.json"
    if not truth_path.is_file():
        raise InputError(f"lab '{lab}': no truth.json (was run {run_id} a scan of the lab?)")
    attribution = db.latest_attribution(run_id)
    if attribution is None:
        raise InputError(f"run {run_id}: not attributed yet; run: souverain reassess {run_id}")
    result = grade(db.dependencies_of(attribution["id"]), orjson.loads(truth_path.read_bytes()))
    result["run"] = run_id
    result["attribution"] = attribution["id"]
    result["kb_version"] = attribution["kb_version"]
    out.print_json(orjson.dumps(result).decode())


def _one_line_summaries(group: typer.Typer) -> None:
    """A command's line in its group's list is the first paragraph of its docstring, joined: typer kept the
    docstring's line breaks there, cutting sentences ("…resolve suppliers" / "and publishers")."""
    for info in group.registered_commands:
        doc = info.help or inspect.getdoc(info.callback) or ""
        if info.short_help is None and doc:
            info.short_help = " ".join(doc.split("\n\n")[0].split())
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _one_line_summaries(sub.typer_instance)


def _run_app() -> int:
    """Run the command line; its exit code. typer runs in non-standalone mode so that a usage error (an
    option out of range, a missing argument) is one line like every other error, not typer's boxed usage
    text, and a Ctrl-C that typer sees (it turns it into exit 130, silently) is said."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # typer's own click

    try:
        code = app(standalone_mode=False, prog_name="souverain")
    except NoArgsIsHelpError as exc:  # a command group alone (`souverain lab`): its help
        exc.show()
        return exc.exit_code
    except UsageError as exc:
        see = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        console.print(f"[red]error[/]: {escape(exc.format_message())}{see}", highlight=False)
        return exc.exit_code
    except ClickException as exc:
        console.print(f"[red]error[/]: {escape(exc.format_message())}", highlight=False)
        return exc.exit_code
    except typer.Abort:
        console.print("[yellow]aborted[/]")
        return 1
    if code == 130:  # typer's conversion of a KeyboardInterrupt (the scan exits with its own message)
        console.print("[yellow]interrupted[/]")
    return code if isinstance(code, int) else 0


_one_line_summaries(app)  # every command is registered by now


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)  # batch work: the collector's default passes cost ~15 % (processes.py)
    redeliver_lost_interrupts()
    debug = "--debug" in sys.argv
    try:
        code = _run_app()
    except SouverainError as exc:
        if debug:
            raise
        console.print(f"[red]error[/]: {escape(str(exc))}", highlight=False)
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
            f"{escape(str(exc))} — rerun with --debug for the traceback",
            highlight=False,
        )
        sys.exit(70)
    sys.exit(code)


if __name__ == "__main__":
    main()
