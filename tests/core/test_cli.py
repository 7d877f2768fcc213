import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import run_cli as souverain
from souverain.store import Store

COMMANDS = [
    [],
    ["scan"],
    ["report"],
    ["runs"],
    ["portfolio"],
    ["portfolio", "check"],
    ["lab"],
    ["lab", "up"],
    ["lab", "down"],
    ["lab", "status"],
    ["lab", "accuracy"],
    ["reassess"],
    ["import-evidence"],
    ["kb"],
    ["kb", "check"],
    ["kb", "show"],
    ["kb", "update"],
    ["kb", "import-table"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_help_everywhere(command: list[str], tmp_path: Path) -> None:
    result = souverain(*command, "--help", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "portfolio.yaml")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "missing.yaml"], "missing.yaml: file not found"),
        # an empty value (an unset variable in a script) is not "the default": the system's resolver would
        # take the lab's questions to the internet, the current folder would receive a report
        (["scan", EXAMPLE, "--resolver", ""], "--resolver '': empty"),
        (["report", "1", "--out", ""], "--out '': empty"),
        (["report", "1", "--out", "r", "--lang", "de"], "--lang 'de': expected fr (the default) or en"),
        (["scan", EXAMPLE, "--ca-file", EXAMPLE], "not a PEM trust store"),
        (["scan", EXAMPLE, "--only", ",,"], "--only ',,': no probe named"),
        (["lab", "status", "--dir", "nolab"], "no lab there"),
        # beyond the store's 64-bit integers: an OverflowError (internal error, exit 70) before
        (["assess", "9" * 24], "no such run (run ids go up to"),
        (["export", "9" * 24, "--out", "x"], "no such run (run ids go up to"),
        (["scan", "--resume", "9" * 24], "Invalid value for '--resume'"),
        (["lab", "up", "--dir", EXAMPLE], "a file, not a folder"),
        (["import-evidence", "."], "a folder, not a file"),
        # typer's usage errors too: one line, not its boxed usage text
        (["scan", EXAMPLE, "--concurrency", "0"], "Invalid value for '--concurrency'"),
        (["report"], "Missing argument 'run'. (see: souverain report --help)"),
        (["nosuch"], "No such command 'nosuch'"),
        (["scan"], "a portfolio file is required"),
        (["scan", "--resume", "7"], "run 7: no such run"),
        (["report", "abc", "--out", "r"], "RUN 'abc': expected a run id"),
        (["report", "latest", "--out", "r"], "souverain.db': no such file (nothing scanned into it yet"),
        (["runs"], "souverain.db': no such file (nothing scanned into it yet"),
        (["scan", "--lab", "--dir", "nolab"], "no lab there"),
        (["portfolio", "check", "missing.csv"], "missing.csv: file not found"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = souverain(*args, home=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_error_text_in_square_brackets_is_printed_as_written(tmp_path: Path) -> None:
    """Messages quote the user's input: rich markup in it (``[bold]``, ``[/]``) is shown, not applied."""
    result = souverain("scan", "missing[bold]x[/].yaml", home=tmp_path)
    assert result.returncode == 2
    assert "missing[bold]x[/].yaml: file not found" in result.stderr


def test_a_portfolio_with_several_problems_is_one_line_that_says_how_to_list_them(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("siren,name,kind,domains\n213700017,A,commune,a.fr\n213700016,B,mairie,b.fr\n")
    result = souverain("scan", str(bad), home=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"{bad}:2: siren: '213700017': checksum (Luhn) fails" in result.stderr
    assert "(and 1 more problem(s); `souverain portfolio check FILE` lists them)" in result.stderr
    listed = souverain("portfolio", "check", str(bad), home=tmp_path)
    assert listed.returncode != 0
    assert f"{bad}:2: siren" in listed.stdout + listed.stderr
    assert f"{bad}:3: kind: 'mairie'" in listed.stdout + listed.stderr


def test_bad_resolver_names_the_option(tmp_path: Path) -> None:
    portfolio = Path(__file__).parents[2] / "examples" / "portfolio.yaml"
    result = souverain("scan", str(portfolio), "--resolver", "not-an-ip", home=tmp_path)
    assert result.returncode == 2
    assert "--resolver 'not-an-ip': expected an IP address" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = souverain("--debug", "scan", "missing.yaml", home=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_version(tmp_path: Path) -> None:
    result = souverain("--version", home=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("souverain ")


def test_lab_failure_is_a_user_error_not_a_bug(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A lab that cannot start (busy port, missing binary) is reported as such, not as an internal error."""
    import souverain.lab
    from souverain import cli
    from souverain.lab import LabError

    def busy(*_args: object, **_kwargs: object) -> None:
        raise LabError("127.53.0.53:53 is already in use (another lab? stop it first)")

    monkeypatch.setattr(souverain.lab, "up", busy)
    monkeypatch.setenv("SOUVERAIN_HOME", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["souverain", "lab", "up", "--dir", str(tmp_path / "lab")])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    err = capfd.readouterr().err
    assert "error: 127.53.0.53:53 is already in use" in err
    assert "internal error" not in err


def test_scan_warns_when_the_scanner_was_overloaded(capsys: pytest.CaptureFixture[str]) -> None:
    from souverain.cli import _warn_scanner_busy
    from souverain.scan.run import ScanSummary

    summary = ScanSummary(1, busy={"ok": 30, "timeout": 12}, worst_lag_ms=90.0, worst_queue_ms=2400.0)
    _warn_scanner_busy(summary, 2000)
    err = " ".join(capsys.readouterr().err.split())
    assert "overloaded while 42 domain(s)" in err and "queued up to 2.4 s" in err
    assert "12 timeout among them may be the scanner's own slowness" in err and "(now 2000)" in err
    _warn_scanner_busy(ScanSummary(1, busy={"ok": 3}, worst_lag_ms=300.0), 200)
    err = " ".join(capsys.readouterr().err.split())
    assert "overloaded while 3 domain(s)" in err and "lower --concurrency" not in err


def test_main_runs_commands_with_the_batch_gc_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command runs with the collector's thresholds for batch work (souverain.processes)."""
    import gc

    from souverain import cli
    from souverain.processes import GC_THRESHOLDS

    seen: list[tuple[int, ...]] = []
    monkeypatch.setattr(cli, "app", lambda **_options: seen.append(gc.get_threshold()))
    previous = gc.get_threshold()
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        gc.set_threshold(*previous)
    assert seen == [GC_THRESHOLDS] and exited.value.code == 0


def test_store_option_takes_a_url_or_a_file(tmp_path: Path) -> None:
    """``--store`` is a string: as a Path, ``sqlite:////a/s.db`` became the relative ``sqlite:/a/s.db``."""
    (tmp_path / "work").mkdir()
    as_url = tmp_path / "by-url.db"
    done = souverain("runs", "--store", f"sqlite:///{as_url}", home=tmp_path, cwd=tmp_path / "work")
    assert done.returncode == 0, done.stderr
    assert as_url.is_file() and list((tmp_path / "work").iterdir()) == []
    done = souverain("runs", "--store", "by-file.db", home=tmp_path, cwd=tmp_path / "work")
    # a command that reads runs does not create a missing store (it would show an empty table)
    assert done.returncode == 2 and "store 'by-file.db': no such file" in done.stderr, done.stderr
    assert list((tmp_path / "work").iterdir()) == []
    Store(tmp_path / "work" / "by-file.db").close()
    done = souverain("runs", "--store", "by-file.db", home=tmp_path, cwd=tmp_path / "work")
    assert done.returncode == 0, done.stderr
    done = souverain("runs", "--store", "postgresql+psycopg://nobody@127.0.0.1:1/none", home=tmp_path)
    assert done.returncode == 1 and "store 'postgresql+psycopg://nobody@127.0.0.1:1/none'" in done.stderr
    done = souverain("runs", "--store", "postgresql+psycopg://u:secret@127.0.0.1:1/none", home=tmp_path)
    assert done.returncode == 1 and "u:***@127.0.0.1" in done.stderr and "secret" not in done.stderr
    done = souverain("runs", "--store", "mysql://u@h/db", home=tmp_path)
    assert done.returncode == 1 and "store 'mysql://u@h/db': no driver for this database here" in done.stderr


def test_ctrl_c_before_the_scan_starts_leaves_a_resumable_run_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Ctrl-C after the run is created but before the scan takes care of it (here: while the KB loads)
    marked nothing and printed nothing (typer turns it into a silent exit 130): the run stayed `running`."""
    import sys

    from souverain import cli

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    store = tmp_path / "s.db"
    monkeypatch.setattr(cli, "_attribution_context", interrupted)
    monkeypatch.setenv("SOUVERAIN_HOME", str(tmp_path))
    monkeypatch.setattr(
        sys, "argv", ["souverain", "scan", EXAMPLE, "--resolver", "127.0.0.1", "--store", str(store)]
    )
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 130
    err = " ".join(capsys.readouterr().err.split())
    assert "run 1 interrupted before its scan started; resume with: souverain scan --resume 1" in err
    reopened = Store(store)
    assert reopened.run(1).status == "interrupted"
    reopened.close()


def test_ctrl_c_anywhere_else_says_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    import typer

    from souverain import cli

    app = typer.Typer()

    @app.command()
    def slow() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", app)
    monkeypatch.setattr(sys, "argv", ["souverain"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_more_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    """Found by a black-box audit of the commands beside scan/report/lab: each was an internal error (exit
    70), a silent wrong result or a misleading message."""
    (tmp_path / "empty.json").write_text("[]")
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "header-only.csv").write_text("siren,insee\n")
    (tmp_path / "binary.csv").write_bytes(b"\xbe\xef\x00\xff" * 100)
    (tmp_path / "az.json").write_text(
        '{"values": [{"name": "x", "properties": {"addressPrefixes": ["<b>"]}}]}'
    )
    (tmp_path / "letters.jsonl").write_text(
        '{"domain": "a.fr", "siren": "213700016", "name": "A", "mx": "mx.fr"}\n'
    )
    (tmp_path / "ip.jsonl").write_text(
        '{"domain": "a.fr", "siren": "213700016", "name": "A", "web_addresses": ["999.1.1.1"]}\n'
        '{"domain": 5}\n{"domain": "b.fr"}\n'
    )
    cases = [
        (
            ["kb", "import-table", "google-cloud", "empty.json", "--out", "kbn"],
            "empty.json: not a google-cloud table",
        ),
        (["kb", "import-table", "azure", "az.json", "--out", "kbn"], "az.json: no rows in this azure table"),
        (["kb", "import-table", "aws", "empty.json", "--name", "../../evil"], "--name '../../evil'"),
        (
            ["kb", "import-table", "aws", "empty.json", "--out", "a-file"],
            "--out 'a-file': a file, not a folder",
        ),
        (["procurement", "generate", "missing/x.csv"], "folder 'missing' does not exist"),
        (["procurement", "generate", "."], "a folder; give the file to write"),
        (["procurement", "report", "--out", "a-file"], "--out 'a-file': a file, not a folder"),
        (["procurement", "import-territories", "binary.csv"], "binary.csv: not UTF-8 text"),
        (["import-evidence", "letters.jsonl"], "letters.jsonl:1: mx: expected a list"),
        (
            ["import-evidence", "ip.jsonl"],
            "ip.jsonl:1: web_addresses: '999.1.1.1' is not an IP address (and 1 more, line(s) 2)",
        ),
    ]
    for args, message in cases:
        result = souverain(*args, home=tmp_path, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not list((tmp_path / "kbn").glob(".new-*"))  # nothing left behind by the refused tables
    for args, message in [
        (["token", "create", ""], "NAME '': say what the token is for"),
        (["kb", "show", ""], "entity '': empty"),
        (["procurement", "ingest", "."], ".: a folder, not a file"),
        (["procurement", "import-territories", "header-only.csv"], "header-only.csv: no row"),
        (["procurement", "shares", "--by", ""], "--by '': give at least one grouping"),
        (["operator", "add", "alice"], "no terminal to ask it on; pipe it with --password-stdin"),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "souverain.cli", *args],
            stdin=subprocess.DEVNULL,  # not a terminal, whatever runs the tests
            capture_output=True,
            text=True,
            env={"SOUVERAIN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_run_being_scanned_is_not_resumed_twice(tmp_path: Path) -> None:
    """`scan --resume N` while another process scans run N is refused (both scanned and assessed it);
    `runs` tells a run being scanned from one whose scan was killed."""
    from souverain.portfolio import load_portfolio

    store_path = tmp_path / "s.db"
    store = Store(store_path)
    store.create_run(EXAMPLE, load_portfolio(Path(EXAMPLE)), {"resolver": "127.0.0.1"})
    listed = souverain("runs", "--store", str(store_path), home=tmp_path)
    assert "stopped" in listed.stdout, listed.stdout  # running, but nobody scans it
    assert "resume with: souverain scan --resume 1" in " ".join(listed.stderr.split())
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom souverain.store import Store\n"
            "Store(sys.argv[1]).hold_run(1)\nprint('held', flush=True)\ntime.sleep(120)",
            str(store_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = souverain("scan", "--resume", "1", "--store", str(store_path), home=tmp_path)
        listed = souverain("runs", "--store", str(store_path), home=tmp_path)
    finally:
        holder.kill()
        holder.communicate()
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"run 1 is being scanned by another process (process {holder.pid})" in lines[0]
    assert "running" in listed.stdout and "stopped" not in listed.stdout
    assert store.status_counts(1) == {"pending": len(store.targets(1))}  # nothing scanned twice


def test_a_resumed_run_keeps_its_own_settings(tmp_path: Path) -> None:
    """`scan --resume` took a new --resolver, --only, --per-ip, --target-budget… for the targets left (and the
    run still showed its first settings; --only was not even recorded): one run, two measurements."""
    from souverain.portfolio import load_portfolio

    store_path = tmp_path / "s.db"
    store = Store(store_path)
    settings = {
        "resolver": "127.0.0.1:9",
        "only": ["dns"],
        "target_budget_s": 3.0,
        "per_ip_limit": 2,
        "user_agent": "audit/1",
    }
    store.create_run(EXAMPLE, load_portfolio(Path(EXAMPLE)), settings)
    store.set_run_status(1, "interrupted")
    for extra, named in (
        (["--resolver", "127.0.0.2"], "--resolver cannot be changed"),
        (["--only", "dns,tls", "--per-ip", "4"], "--per-ip, --only cannot be changed"),
        (["--lab"], "--lab cannot be changed"),
        (["--target-budget", "60", "--tenant-probe"], "--target-budget, --tenant-probe cannot be changed"),
        (["--only", "dns", "--per-ip", "2", "--resolver", "127.0.0.1:10"], "--resolver cannot be changed"),
    ):
        refused = souverain("scan", "--resume", "1", "--store", str(store_path), *extra, home=tmp_path)
        assert refused.returncode == 2 and named in refused.stderr, (extra, refused.stderr)
        said = " ".join(refused.stderr.split())
        assert "resolver 127.0.0.1:9, probes dns, per-ip 2, target budget 3 s, user agent 'audit/1'" in said
    assert store.status_counts(1) == {"pending": len(store.targets(1))}
    # the run's own values given again change nothing: accepted
    same = ["--only", "dns", "--per-ip", "2", "--target-budget", "3", "--resolver", "127.0.0.1:9"]
    resumed = souverain(
        "scan", "--resume", "1", "--store", str(store_path), "--concurrency", "4", *same, home=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    evidence = store.evidence_for([t.id for t in store.targets(1)])
    assert evidence and {ev.probe for found in evidence.values() for ev in found} == {
        "dns"
    }  # the run's --only
    assert store.run(1).config["resolver"] == "127.0.0.1:9"


def test_a_new_run_records_every_setting_and_refuses_a_header_breaking_user_agent(tmp_path: Path) -> None:
    refused = souverain(
        "scan", EXAMPLE, "--user-agent", "x\r\nX-Evil: 1", "--resolver", "127.0.0.1:9", home=tmp_path
    )
    assert (
        refused.returncode == 2 and "--user-agent 'x\\r\\nX-Evil: 1': a control character" in refused.stderr
    )
    assert (
        not (tmp_path / "souverain.db").exists() or not Store(tmp_path / "souverain.db").runs()
    )  # no run made
    store_path = tmp_path / "s.db"
    args = ["--resolver", "127.0.0.1:9", "--only", "dns", "--target-budget", "3", "--user-agent", "audit/1.0"]
    made = souverain("scan", EXAMPLE, "--store", str(store_path), *args, home=tmp_path)
    assert made.returncode == 0, made.stderr
    config = Store(store_path).run(1).config
    assert {k: config[k] for k in ("resolver", "only", "target_budget_s", "per_ip_limit", "user_agent")} == {
        "resolver": "127.0.0.1:9",
        "only": ["dns"],
        "target_budget_s": 3.0,
        "per_ip_limit": 4,
        "user_agent": "audit/1.0",
    }


def test_latest_is_the_latest_portfolio_scan_not_an_on_demand_one(tmp_path: Path) -> None:
    """`export latest` exported the one-organisation run of an API scan made after the portfolio's; `serve`
    publishes the portfolio's."""
    from souverain import cli
    from souverain.errors import InputError
    from souverain.portfolio import load_portfolio

    store = Store(tmp_path / "s.db")
    with pytest.raises(InputError, match="no run yet"):
        cli._run_id(store, "latest")
    orgs = load_portfolio(Path(EXAMPLE))
    scanned = store.create_run(EXAMPLE, orgs, {})
    store.create_run("on-demand:1", orgs[:1], {"on_demand": True})
    assert cli._run_id(store, "latest") == scanned


def test_command_lists_show_each_summary_as_one_paragraph() -> None:
    """Group help kept docstring line breaks: "…clean, resolve suppliers" / "and publishers; list…"."""
    from souverain import cli

    cli._one_line_summaries(cli.app)
    procurement = next(g.typer_instance for g in cli.app.registered_groups if g.name == "procurement")
    assert procurement is not None
    ingest = next(
        c for c in procurement.registered_commands if c.callback and c.callback.__name__.startswith("ingest")
    )
    assert ingest.short_help is not None and "\n" not in ingest.short_help
    assert "resolve suppliers and publishers; list every rejected" in ingest.short_help
