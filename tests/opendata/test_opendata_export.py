"""Open-data export of a small real run: every table in CSV, Parquet and SQLite with the same content, a valid
datapackage.json under Licence Ouverte 2.0, rows that follow the store, byte-identical re-exports, partial
runs, extra tables from other modules, errors."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from opendata_checks import Exported, by, check_export, file_hashes, make_store

import souverain.opendata
from cli_runner import run_cli
from souverain.attribution.run import attribute_run
from souverain.errors import InputError, RunNotFound
from souverain.kb.load import KB
from souverain.kb.netdata import NetworkData
from souverain.opendata import ExtraTable, TableField, export_run
from souverain.opendata.tables import BUILTIN

ROOT = Path(__file__).resolve().parents[2]


def test_every_table_in_three_formats_with_the_same_rows(exported: Exported) -> None:
    tables = check_export(exported.out)
    assert set(tables) == {spec.name for spec in BUILTIN}
    assert {name: len(rows) for name, rows in tables.items()} == exported.result.rows
    result = exported.result
    assert result.datapackage == exported.out.resolve() / "datapackage.json"
    assert result.sqlite.name == f"souverain-{exported.run_id}.sqlite" and result.sqlite.is_file()
    assert all(result.csv[t].is_file() and result.parquet[t].is_file() for t in tables)
    assert not list(exported.out.rglob("*.tmp"))
    db = sqlite3.connect(result.sqlite)
    indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    db.close()
    assert {
        "ix_dependencies_siren",
        "ix_dependencies_domain",
        "ix_domains_domain",
        "ix_findings_siren",
    } <= indexes


def test_rows_follow_the_store(exported: Exported) -> None:
    tables = check_export(exported.out)
    store, run_id = exported.store, exported.run_id
    orgs = store.run_organisations(run_id)
    assessment = store.latest_assessment(run_id)
    attribution = store.latest_attribution(run_id)
    assert assessment is not None and attribution is not None
    docs = store.org_assessments_of(assessment["id"])

    organisations = by(tables["organisations"], "siren")
    assert [r["siren"] for r in tables["organisations"]] == sorted(o.siren for o in orgs)
    for org in orgs:
        row, doc = organisations[(org.siren,)], docs[org.siren]
        assert (row["name"], row["kind"], row["departement"]) == (
            org.name,
            org.kind,
            org.territory.departement,
        )
        assert (row["score"], row["coverage"], row["provisional"]) == (
            doc["score"],
            doc["coverage"],
            doc["provisional"],
        )
        statuses = Counter(f["status"] for f in doc["findings"])
        assert (row["findings_fail"], row["findings_warn"]) == (statuses["fail"], statuses["warn"])
        assert row["level_mailbox"] == (doc["roles"].get("mailbox") or {}).get("level")
    commune = organisations[("213700016",)]
    assert commune["name"].startswith('Commune de "Saint-Éloi", Lès-Bains\n')
    assert (commune["worst_level"], commune["worst_operator"]) == ("extraterritorial", "microsoft")

    domains = by(tables["domains"], "siren", "domain")
    assert sorted(domains) == sorted((o.siren, d.name) for o in orgs for d in o.domains)
    assert domains[("213700016", "shared.fr")]["roles"] == "web"
    assert domains[("223700014", "shared.fr")]["roles"] == "mail;web"
    a = domains[("213700016", "a.fr")]
    assert a["dnssec_validated"] is True and a["mx_hosts"] == "a-fr.mail.protection.outlook.com"
    assert (a["tls_version"], a["tls_issuer"], a["tls_chain_valid"]) == ("TLSv1.3", "Let's Encrypt", True)
    assert (a["hsts"], a["hsts_max_age"], a["dmarc_policy"]) == (True, 31536000, "reject")
    assert a["third_party_hosts"] == "www.googletagmanager.com" and a["scanned_at"] == "2026-11-24T02:40:00Z"
    assert domains[("213700016", "shared.fr")]["dnssec_validated"] is False
    timeout = domains[("223700014", "b.fr")]
    assert (timeout["scan_status"], timeout["dns_status"], timeout["dnssec_validated"]) == (
        "timeout",
        "timeout",
        None,
    )
    assert domains[("200000172", "c.fr")]["scan_status"] == "pending"
    busy = {(s, d): row["scanner_busy"] for (s, d), row in domains.items()}
    assert busy[("213700016", "a.fr")] is False and busy[("223700014", "b.fr")] is True
    assert busy[("213700016", "shared.fr")] is None and busy[("200000172", "c.fr")] is None

    stored = store.dependencies_of(attribution["id"])
    expected = sum(
        sum(1 for d in stored if d["domain"] in {x.name for x in o.domains} or d["siren"] == o.siren)
        for o in orgs
    )
    deps = tables["dependencies"]
    assert len(deps) == expected and [d["dependency_id"] for d in deps] == list(range(1, expected + 1))
    assert all(d["level"] is not None for d in deps)
    mailbox = by(deps, "siren", "domain", "role")[("213700016", "a.fr", "mailbox")]
    assert (mailbox["operator"], mailbox["operator_name"], mailbox["operator_country"]) == (
        "microsoft",
        "Microsoft",
        "US",
    )
    assert mailbox["level"] == "extraterritorial" and "us-cloud-act" in mailbox["laws"].split(";")
    assert "us-cloud-act via microsoft (US, operator)" in mailbox["exposures"]
    assert mailbox["signals"] == "mx=a-fr.mail.protection.outlook.com"
    contact = [d for d in deps if d["scope"] == "contact"]
    assert [(c["siren"], c["domain"], c["subject"]) for c in contact] == [
        ("213700016", None, "mairie.a@wanadoo.fr")
    ]
    shared = [d for d in deps if d["domain"] == "shared.fr" and d["role"] == "dns-hosting"]
    assert sorted(d["siren"] for d in shared) == ["213700016", "223700014"]

    findings = tables["findings"]
    assert len(findings) == sum(len(d["findings"]) for d in docs.values())
    assert [f["finding_id"] for f in findings] == list(range(1, len(findings) + 1))
    assert all(f["title_fr"] and f["title_en"] and f["text_fr"] and f["text_en"] for f in findings)
    sov = [f for f in findings if f["rule"] == "SOV-EXTRATERRITORIAL" and f["subject"] == "a.fr"]
    assert sov and "Microsoft" in sov[0]["text_fr"] and "Microsoft" in sov[0]["text_en"]

    checks = tables["hygiene_checks"]
    assert len(checks) == sum(
        len(h["checks"]) for d in docs.values() for h in d["hygiene"]["domains"].values()
    )
    assert by(checks, "siren", "domain", "check")[("213700016", "a.fr", "DNS-DNSSEC")]["status"] == "pass"

    providers = by(tables["providers"], "provider")
    named = {d[k] for d in stored for k in ("operator", "infrastructure")} - {None, "self"}
    assert set(p for (p,) in providers) == named
    ms = providers[("microsoft",)]
    assert (ms["country"], ms["organisations"], ms["operator_of"]) == ("US", 1, 1)
    assert "us-cloud-act" in ms["laws"].split(";") and ms["lab_fictional"] is False and ms["source"]
    assert providers[("google",)]["organisations"] == 2

    national = {r["indicator"]: r for r in tables["trajectories"] if r["scope"] == "national"}
    summary = assessment["summary"]["trajectories"]
    assert set(national) == set(summary)
    for indicator, row in national.items():
        share = summary[indicator]["national"]
        assert (row["value"], row["numerator"], row["denominator"]) == (
            share["value"],
            share["numerator"],
            share["denominator"],
        )
    (run,) = tables["run"]
    assert (run["run_id"], run["status"], run["organisations"], run["domains"], run["domains_scanned"]) == (
        exported.run_id,
        "interrupted",
        3,
        4,
        3,
    )
    assert (run["attribution_id"], run["assessment_id"]) == (attribution["id"], assessment["id"])
    assert run["portfolio"] == "portfolio.yaml" and run["methodology"] == assessment["methodology"]
    assert run["kb_version"] == attribution["kb_version"] == run["names_from"] == exported.kb.version


def test_datapackage_describes_the_licence_and_what_is_missing(exported: Exported) -> None:
    import json

    package = json.loads(exported.result.datapackage.read_text(encoding="utf-8"))
    assert package["licenses"][0]["name"] == "etalab-2.0"
    assert package["name"] == f"souverain-run-{exported.run_id}"
    assert "interrupted" in package["description"] and "never scanned" in package["description"]
    assert package["created"] == dt.datetime.fromtimestamp(
        exported.store.run(exported.run_id).created_at, dt.UTC
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    formats = Counter(r["format"] for r in package["resources"])
    assert formats == {"csv": len(BUILTIN), "parquet": len(BUILTIN), "sqlite": len(BUILTIN)}
    organisations = next(r for r in package["resources"] if r["name"] == "organisations-csv")
    assert organisations["schema"]["primaryKey"] == ["siren"] and organisations["mediatype"] == "text/csv"


def test_same_run_gives_the_same_bytes(exported: Exported, tmp_path: Path) -> None:
    before = file_hashes(exported.out)
    export_run(exported.store, exported.run_id, tmp_path / "again", kb=exported.kb)
    assert file_hashes(tmp_path / "again") == before
    export_run(exported.store, exported.run_id, exported.out, kb=exported.kb)  # over the previous export
    assert file_hashes(exported.out) == before


def test_command_line_export_matches_the_api(exported: Exported, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    home = tmp_path / "home"
    result = run_cli(
        "export", str(exported.run_id), "--out", str(out), "--store", str(exported.db), home=home
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out.resolve() / "datapackage.json")
    assert "is interrupted" in result.stderr and "3 organisations" in result.stderr
    assert file_hashes(out) == file_hashes(exported.out)


def test_unknown_run_is_one_clear_line(exported: Exported, tmp_path: Path) -> None:
    with pytest.raises(RunNotFound, match=r"^run 99: no such run in store"):
        export_run(exported.store, 99, tmp_path / "x")
    result = run_cli("export", "99", "--out", str(tmp_path / "x"), "--store", str(exported.db), home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: run 99: no such run in store")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_out_under_a_file_is_an_input_error(exported: Exported, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(InputError, match="cannot create the folder"):
        export_run(exported.store, exported.run_id, tmp_path / "file" / "x")
    bad = run_cli(
        "export", "1", "--out", str(tmp_path / "file" / "x"), "--store", str(exported.db), home=tmp_path
    )
    assert bad.returncode == 2 and "--out" in bad.stderr and "Traceback" not in bad.stderr


def test_run_without_attribution_exports_what_exists(tmp_path: Path) -> None:
    store, run_id = make_store(tmp_path / "s.db", None, attribute=False)
    result = export_run(store, run_id, tmp_path / "out")
    tables = check_export(tmp_path / "out")
    for empty in ("dependencies", "findings", "hygiene_checks", "providers", "trajectories"):
        assert tables[empty] == [], empty
    assert len(tables["organisations"]) == 3 and all(r["score"] is None for r in tables["organisations"])
    assert by(tables["domains"], "siren", "domain")[("213700016", "a.fr")]["dnssec_validated"] is True
    assert tables["run"][0]["attribution_id"] is None and tables["run"][0]["assessment_id"] is None
    assert any("has no attribution" in n for n in result.notes)
    assert any("has no assessment" in n for n in result.notes)
    description = result.datapackage.read_text(encoding="utf-8")
    assert "has no attribution" in description and "souverain reassess" in description


def test_run_attributed_but_not_assessed(kb: KB, tmp_path: Path) -> None:
    store, run_id = make_store(tmp_path / "s.db", kb, assess=False)
    result = export_run(store, run_id, tmp_path / "out", kb=kb)
    tables = check_export(tmp_path / "out")
    assert tables["dependencies"] and all(d["level"] is None for d in tables["dependencies"])
    assert tables["providers"] and tables["findings"] == [] and tables["trajectories"] == []
    assert [n for n in result.notes if "has no assessment" in n]


def test_a_newer_attribution_without_assessment_is_not_mixed_in(kb: KB, tmp_path: Path) -> None:
    store, run_id = make_store(tmp_path / "s.db", kb)
    assessed = store.latest_assessment(run_id)
    assert assessed is not None
    newer = attribute_run(store, run_id, kb, NetworkData(), on=dt.date(2026, 11, 24))
    result = export_run(store, run_id, tmp_path / "out", kb=kb)
    tables = check_export(tmp_path / "out")
    assert tables["run"][0]["attribution_id"] == assessed["attribution_id"] != newer.attribution_id
    assert all(d["level"] is not None for d in tables["dependencies"])
    assert [n for n in result.notes if f"Attribution {newer.attribution_id} is newer" in n]


def test_without_a_kb_operators_are_ids(exported: Exported, tmp_path: Path) -> None:
    result = export_run(exported.store, exported.run_id, tmp_path / "out")
    tables = check_export(tmp_path / "out")
    assert all(
        d["operator_name"] is None for d in tables["dependencies"] if d["operator"] not in (None, "self")
    )
    ms = by(tables["providers"], "provider")[("microsoft",)]
    assert ms["name"] is None and "us-cloud-act" in ms["laws"].split(";")
    assert any("knowledge base could not be loaded" in n for n in result.notes)


def _shares(rows: list[dict[str, object]]) -> ExtraTable:
    return ExtraTable(
        "Procurement shares",
        "Share of digital purchases from European suppliers (test table).",
        [
            TableField("siren", "string", "SIREN of the buyer.", required=True),
            TableField("year", "integer", "Year of the contracts.", required=True),
            TableField("share_eu", "number", "Share 0–1 of the amount going to European suppliers."),
            TableField("measured_on", "date", "Date of the measure."),
        ],
        rows,
        primary_key=("siren", "year"),
    )


def test_extra_tables_join_every_format(exported: Exported, tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"siren": "223700014", "year": 2025, "share_eu": 0.4},
        {"siren": "213700016", "year": 2026, "share_eu": 1, "measured_on": dt.date(2026, 11, 1)},
        {"siren": "213700016", "year": 2025},
    ]
    result = export_run(
        exported.store,
        exported.run_id,
        tmp_path / "out",
        kb=exported.kb,
        extra_tables={"procurement_shares": _shares(rows)},
    )
    tables = check_export(tmp_path / "out")
    assert [(r["siren"], r["year"]) for r in tables["procurement_shares"]] == [
        ("213700016", 2025),
        ("213700016", 2026),
        ("223700014", 2025),
    ]
    assert tables["procurement_shares"][1]["measured_on"] == "2026-11-01"
    assert tables["procurement_shares"][1]["share_eu"] == 1.0
    assert result.rows["procurement_shares"] == 3
    for name in BUILTIN:
        assert (tmp_path / "out" / "csv" / f"{name.name}.csv").read_bytes() == (
            exported.out / "csv" / f"{name.name}.csv"
        ).read_bytes()


def test_an_export_over_another_leaves_only_what_its_package_lists(
    exported: Exported, tmp_path: Path
) -> None:
    """An export with procurement tables, then one without into the same folder: the first one's
    procurement files went on lying beside a datapackage.json that no longer listed them."""
    out = tmp_path / "out"
    rows: list[dict[str, object]] = [{"siren": "213700016", "year": 2025, "share_eu": 0.5}]
    export_run(
        exported.store,
        exported.run_id,
        out,
        kb=exported.kb,
        extra_tables={"procurement_shares": _shares(rows)},
    )
    assert (out / "csv" / "procurement_shares.csv").is_file()
    (out / "souverain-999.sqlite").write_text("another run's export")
    (out / "notes.txt").write_text("the user's own file")
    export_run(exported.store, exported.run_id, out, kb=exported.kb)
    listed = {r["path"] for r in json.loads((out / "datapackage.json").read_text())["resources"]}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert on_disk - listed == {"datapackage.json", "metadata.json", "notes.txt"}, on_disk - listed
    assert not (out / "parquet" / "procurement_shares.parquet").exists()


@pytest.mark.parametrize(
    ("name", "rows", "message"),
    [
        ("Bad-Name", [], "name must be lower-case"),
        ("domains", [], "a built-in table already has this name"),
        (
            "shares",
            [{"siren": "213700016", "year": "2025"}],
            r"table 'shares' row 1 column 'year': expected an integer",
        ),
        ("shares", [{"siren": "213700016", "year": 2025, "bogus": 1}], "unknown column"),
        ("shares", [{"year": 2025}], "column 'siren': required value missing"),
        ("shares", [{"siren": "1", "year": 1}, {"siren": "1", "year": 1}], "UNIQUE constraint failed"),
    ],
)
def test_bad_extra_tables_are_input_errors(
    exported: Exported, tmp_path: Path, name: str, rows: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        export_run(exported.store, exported.run_id, tmp_path / "out", extra_tables={name: _shares(rows)})
    assert not list(tmp_path.rglob("*.tmp"))


def test_progress_reaches_its_total(exported: Exported, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    export_run(
        exported.store,
        exported.run_id,
        tmp_path / "out",
        kb=exported.kb,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen and seen[-1][0] == seen[-1][1] == 3 + len(BUILTIN)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_docs_describe_every_table_and_column() -> None:
    text = (ROOT / "docs" / "opendata.md").read_text(encoding="utf-8")
    for spec in BUILTIN:
        match = re.search(rf"^### `{spec.name}`\n(.*?)(?=^#{{2,3}} |\Z)", text, re.M | re.S)
        assert match, f"docs/opendata.md has no section for {spec.name}"
        for f in spec.fields:
            assert f"`{f.name}`" in match.group(1), f"{spec.name}.{f.name} is not documented"


def test_public_api() -> None:
    assert souverain.opendata.__all__ == ["ExportResult", "ExtraTable", "TableField", "export_run"]
    for name in souverain.opendata.__all__:
        assert getattr(souverain.opendata, name) is not None
    with pytest.raises(AttributeError):
        _ = souverain.opendata.nothing_here  # type: ignore[attr-defined]


def test_a_failed_export_leaves_no_package_behind(exported: Exported, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_run(exported.store, exported.run_id, out, kb=exported.kb)
    assert (out / "datapackage.json").is_file()
    bad = _shares([{"siren": "213700016", "year": "2025"}])
    with pytest.raises(InputError):
        export_run(exported.store, exported.run_id, out, kb=exported.kb, extra_tables={"shares": bad})
    assert not (out / "datapackage.json").exists(), "a stale package would not match the files"
    assert not list(out.rglob("*.tmp"))
