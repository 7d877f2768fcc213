"""``souverain procurement …`` as a user runs it (subprocesses with their own SOUVERAIN_HOME)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import run_cli

from .conftest import EXAMPLES, hand_checked


def test_ingest_shares_json_report_and_status(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = hand_checked(tmp_path)
    done = run_cli("procurement", "ingest", str(data), str(EXAMPLES / "example_v1.5_paquet.json"), home=home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(home / "procurement.duckdb")
    assert "8 contracts after de-duplication" in done.stderr and "5 digital" in done.stderr
    shares = run_cli("procurement", "shares", "--json", home=home)
    assert shares.returncode == 0, shares.stderr
    rows = json.loads(shares.stdout)
    parent = next(r for r in rows if r["year"] == 2024 and r["view"] == "parent")
    assert parent["share_european_contracts"] == 0.4 and parent["target"] == 0.2
    table = run_cli("procurement", "shares", "--by", "year,buyer_kind", "--view", "publisher", home=home)
    assert table.returncode == 0 and "commune" in table.stdout and "publisher" in table.stdout
    years = sorted({r["year"] for r in rows})
    empty = run_cli("procurement", "shares", "--year", "1800", home=home)  # was an empty table
    assert empty.returncode == 0 and empty.stdout == "", empty.stdout
    assert " ".join(empty.stderr.split()) == (
        f"no digital contract notified in 1800 in the procurement database (it holds {years[0]}–{years[-1]})"
    )
    report = run_cli("procurement", "report", "--out", str(tmp_path / "report"), home=home)
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert (
        "Société mère" in html
        and "40.0 %" in html
        and "<script" not in html
        and "http" not in html.split("<body>")[0]
    )
    doc = json.loads((tmp_path / "report" / "procurement.json").read_text(encoding="utf-8"))
    assert {p["entity"] for p in doc["publishers"]} == {"microsoft", "oracle", "bluemind", "sap"}
    assert doc["trajectory"]["verified"] is False and doc["trajectory"]["targets"]["2027"] == 0.5
    status = json.loads(run_cli("procurement", "status", home=home).stdout)
    assert status["contracts"] == 8 and len(status["sources"]) == 2 and status["kb_version"]
    rejects = run_cli("procurement", "ingest-report", "--reason", "absurd-amount", "--json", home=home)
    assert [r["contract"] for r in json.loads(rejects.stdout)] == ["C5"]


def test_bad_input_is_one_line_naming_the_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = tmp_path / "broken.json"
    bad.write_text('{"marches": [ {"id": 1,', encoding="utf-8")
    done = run_cli("procurement", "ingest", str(bad), home=home)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(bad) in lines[0] and "invalid JSON" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    missing = run_cli("procurement", "ingest", str(tmp_path / "nope.csv"), home=home)
    assert missing.returncode == 2 and "nope.csv: file not found" in missing.stderr
    none = run_cli("procurement", "shares", home=home)
    assert none.returncode == 2 and "run: souverain procurement ingest" in none.stderr
    wrong = run_cli("procurement", "ingest-report", "--reason", "bogus", home=tmp_path)
    assert wrong.returncode == 2 and "--reason 'bogus': unknown" in wrong.stderr


def test_generate_then_ingest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = tmp_path / "synthetic.xml"
    done = run_cli(
        "procurement",
        "generate",
        str(out),
        "--contracts",
        "50",
        "--format",
        "xml",
        "--variant",
        "2019",
        home=home,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").startswith("<?xml")
    ingested = run_cli("procurement", "ingest", str(out), "--db", str(tmp_path / "x.duckdb"), home=home)
    assert ingested.returncode == 0, ingested.stderr
    assert "(decp-2019-xml): 50 contracts" in ingested.stderr


def test_report_and_export_name_a_missing_procurement_database(tmp_path: Path) -> None:
    for command in ("report", "export"):
        done = run_cli(
            command, "latest", "--out", str(tmp_path / "o"), "--procurement", str(tmp_path / "no.duckdb"),
            home=tmp_path,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert f"--procurement '{tmp_path / 'no.duckdb'}': no such file" in done.stderr


def test_counts_are_said_in_the_right_number() -> None:
    from souverain.cliopts import counted

    assert [counted(n, "contract") for n in (0, 1, 2)] == ["0 contracts", "1 contract", "2 contracts"]
    assert (
        counted(1, "dependency", "dependencies") == "1 dependency"
    )  # "5 dependencies over 1 domains" before
    assert counted(5, "dependency", "dependencies") == "5 dependencies"
