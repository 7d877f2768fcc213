"""Ingest of every published form of DECP: the official examples, XML, the consolidated table (CSV and
Parquet) with its versions, cross-source de-duplication, idempotency, and clear errors on bad files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from souverain.errors import InputError
from souverain.procurement.generator import Manifest, contracts
from souverain.procurement.stage import detect_format
from souverain.procurement.writers import write_flat, write_nested

from .conftest import EXAMPLES, PARIS, SME, contract, siret, write_2019

Query = Callable[..., list[tuple[Any, ...]]]


def test_official_examples_2019_and_2022(ingest_files: Callable[..., Any], query: Query) -> None:
    result = ingest_files(
        EXAMPLES / "example_v1.5_paquet.json", EXAMPLES / "example_v2_marches_avec_modifications.json"
    )
    assert [f.format for f in result.files] == ["decp-2019-json", "decp-2022-json"]
    assert [f.records for f in result.files] == [2, 2]
    rows = query("SELECT id, kind, amount, notified, n_suppliers, modifications FROM contracts ORDER BY id")
    assert rows == [
        ("200103452112", "concession", 27860000.0, __import__("datetime").date(2001, 2, 21), 1, 0),
        ("2010345211200", "marche", 127000.0, __import__("datetime").date(2007, 8, 13), 2, 0),
        ("TEST2022", "marche", 123457.87, __import__("datetime").date(2024, 5, 15), 1, 1),
        ("TEST2022Bis", "marche", 123457.87, __import__("datetime").date(2024, 5, 15), 1, 1),
    ]
    # the modification replaced the supplier: its 15-digit SIRET is reported, not silently dropped
    suppliers = query(
        "SELECT supplier_id, identifier_valid FROM contract_suppliers cs "
        "JOIN contracts c USING (contract_key) WHERE c.id = 'TEST2022'"
    )
    assert suppliers == [("868768687576575", False)]
    report = query(
        "SELECT contract, reason, action, field FROM ingest_report ORDER BY contract, reason, field"
    )
    assert ("TEST2022", "bad-date", "flagged", "modifications[0].dateNotificationModification") in report
    assert ("TEST2022", "malformed-supplier-id", "flagged", "titulaires[1]") in report
    assert ("TEST2022", "malformed-buyer-id", "flagged", "acheteur.id") in report  # 21750001630066 fails Luhn
    assert ("200103452112", "invalid-cpv", "flagged", "codeCPV") in report  # concessions carry no CPV
    # the 2019 example names a German supplier by VAT number
    assert query(
        "SELECT registration_country, registration_bloc FROM contract_suppliers WHERE id_type = 'vat'"
    ) == [("DE", "eu")]


def test_report_rows_name_file_and_line(ingest_files: Callable[..., Any], query: Query) -> None:
    ingest_files(EXAMPLES / "example_v2_marches_avec_modifications.json")
    (file, location), *_ = query("SELECT file, location FROM ingest_report WHERE contract = 'TEST2022'")
    assert file.endswith("example_v2_marches_avec_modifications.json")
    assert location == "line 4 (contract 1)"


def test_xml_2019_and_2022_match_json(tmp_path: Path, ingest_files: Callable[..., Any], query: Query) -> None:
    for variant in ("2019", "2022"):
        write_nested(
            tmp_path / f"m{variant}.xml", contracts(40, seed=5, rates={}), fmt="xml", variant=variant
        )
        write_nested(
            tmp_path / f"m{variant}.json", contracts(40, seed=5, rates={}), fmt="json", variant=variant
        )
    assert detect_format(tmp_path / "m2019.xml") == "xml"
    result = ingest_files(*(tmp_path / f"m{v}.{e}" for v in ("2019", "2022") for e in ("xml", "json")))
    assert [f.format for f in result.files] == [
        "decp-2019-xml",
        "decp-2019-json",
        "decp-2022-xml",
        "decp-2022-json",
    ]
    assert {f.records for f in result.files} == {40}
    assert result.summary.contracts == 40  # four copies of the same 40 contracts
    dup = query("SELECT count(*) FROM ingest_report WHERE reason = 'duplicate'")[0][0]
    assert dup == 3 * 40
    # the copy kept is one that names buyers and suppliers (the 2019 format)
    assert query("SELECT count(*) FROM contract_suppliers WHERE name IS NULL")[0][0] == 0


def test_flat_table_keeps_the_latest_version_and_reports_repeated_rows(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query
) -> None:
    header = (
        "uid,id,acheteur_id,titulaire_id,titulaire_typeIdentifiant,titulaire_nom,objet,montant,codeCPV,"
        "dateNotification,datePublicationDonnees,modification_id,acheteur_departement_code\n"
    )
    s1, s2 = siret(SME), siret("327733184")
    rows = [
        f"{PARIS}A1,A1,{PARIS},{s1},SIRET,PME,Logiciel de paie,1000,48000000,2023-01-10,2023-01-12,0,75",
        f"{PARIS}A1,A1,{PARIS},{s1},SIRET,PME,Logiciel de paie,1500,48000000,2024-02-01,2024-02-03,1,75",
        f"{PARIS}A1,A1,{PARIS},{s2},SIRET,MICROSOFT,Logiciel de paie,,48000000,2024-03-01,2024-03-03,2,75",
        f"{PARIS}A1,A1,{PARIS},{s2},SIRET,MICROSOFT,Logiciel de paie,,48000000,2024-03-01,2024-03-03,2,75",
        f"{PARIS}B2,B2,{PARIS},{s1},SIRET,PME,Travaux,20,45000000,2023-05-05,2023-05-06,0,75",
    ]
    (tmp_path / "flat.csv").write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    result = ingest_files(tmp_path / "flat.csv")
    assert result.files[0].format == "consolidated-csv" and result.files[0].records == 2
    a1 = query("SELECT amount, notified, modifications, n_suppliers FROM contracts WHERE id = 'A1'")
    # amount from the latest version giving one (1), notification date from the first (0),
    # supplier of version 2
    assert a1 == [(1500.0, __import__("datetime").date(2023, 1, 10), 2, 1)]
    assert query(
        "SELECT siren FROM contract_suppliers cs JOIN contracts c USING (contract_key) WHERE c.id = 'A1'"
    ) == [("327733184",)]
    assert query("SELECT location, reason, action FROM ingest_report WHERE reason = 'duplicate'") == [
        ("line 5", "duplicate", "rejected")
    ]


def test_parquet_and_csv_give_the_same_contracts(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query
) -> None:
    rates = {"amount_negative": 0.05, "cpv_check_digit": 0.05}
    write_flat(tmp_path / "a.csv", contracts(300, seed=9, rates=rates), fmt="csv")
    write_flat(tmp_path / "a.parquet", contracts(300, seed=9, rates=rates), fmt="parquet")
    result = ingest_files(tmp_path / "a.parquet", tmp_path / "a.csv")
    assert result.files[0].records == result.files[1].records == 300
    assert result.summary.contracts == 300
    assert query("SELECT count(*) FROM ingest_report WHERE reason = 'duplicate'")[0][0] == 300


def _digest(query: Query) -> str:
    h = hashlib.sha256()
    for table, order in (
        ("contracts", "contract_key"),
        ("contract_suppliers", "contract_key, pos"),
        ("allocations", "contract_key, view, subject, bloc"),
        ("ingest_report", "file_id, record_no, reason, field, value, detail"),
    ):
        h.update(repr(query(f"SELECT * FROM {table} ORDER BY {order}")).encode())
    return h.hexdigest()


def test_reingest_is_idempotent(tmp_path: Path, ingest_files: Callable[..., Any], query: Query) -> None:
    write_flat(tmp_path / "x.csv", contracts(200, seed=3), fmt="csv")
    write_nested(tmp_path / "y.json", contracts(200, seed=3), fmt="json")
    first = ingest_files(tmp_path / "x.csv", tmp_path / "y.json")
    before = _digest(query)
    again = ingest_files(tmp_path / "y.json", tmp_path / "x.csv")
    assert all(f.reused for f in again.files)
    assert _digest(query) == before
    assert again.summary == first.summary


def test_json_lines_and_bare_arrays(tmp_path: Path, ingest_files: Callable[..., Any]) -> None:
    items = [
        contract(
            f"L{i}",
            buyer=PARIS,
            objet="Logiciel",
            cpv="48000000",
            amount=10,
            notified="2024-01-02",
            suppliers=[("SIRET", siret(SME), "PME")],
        )
        for i in range(3)
    ]
    (tmp_path / "lines.json").write_text("\n".join(json.dumps(i) for i in items) + "\n", encoding="utf-8")
    (tmp_path / "array.json").write_text(json.dumps(items[:2]), encoding="utf-8")
    result = ingest_files(tmp_path / "lines.json", tmp_path / "array.json")
    assert [f.records for f in result.files] == [3, 2]
    assert result.summary.contracts == 3


def test_large_json_is_read_in_chunks(tmp_path: Path, ingest_files: Callable[..., Any]) -> None:
    big = "x" * 300_000  # values spanning the 1 MiB read window
    items = [
        contract(
            f"B{i}",
            buyer=PARIS,
            objet=f"Logiciel {i} {big}",
            cpv="48000000",
            amount=10,
            notified="2024-01-02",
            suppliers=[("SIRET", siret(SME), "PME")],
        )
        for i in range(12)
    ]
    write_2019(tmp_path / "big.json", items)
    assert ingest_files(tmp_path / "big.json").files[0].records == 12


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.json", "", "empty file"),
        ("truncated.json", '{"marches": [{"id": "1", "objet": "x"', "truncated.json:1: invalid JSON"),
        ("nokey.json", '{"autre": []}', "not DECP JSON: no 'marches' key"),
        ("bad.xml", "<marches><marche><id>1</id></marches>", "bad.xml:1: invalid XML"),
        ("root.xml", "<contrats><marche/></contrats>", "root element is <contrats>"),
        ("text.txt", "hello\nworld\n", "not a DECP file"),
        ("cols.csv", "acheteur_id,titulaire_id\n1,2\n", "missing column(s) of the consolidated DECP table"),
    ],
)
def test_bad_files_fail_with_one_line_naming_the_file(
    tmp_path: Path, ingest_files: Callable[..., Any], name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        ingest_files(path)
    text = str(info.value)
    assert message in text and str(tmp_path) in text and "\n" not in text


def test_a_failed_file_leaves_the_database_as_it_was(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query
) -> None:
    ingest_files(EXAMPLES / "example_v1.5_paquet.json")
    (tmp_path / "bad.xml").write_text("<marches><marche><id>1</marche>", encoding="utf-8")
    with pytest.raises(InputError):
        ingest_files(EXAMPLES / "example_v2_marches_avec_modifications.json", tmp_path / "bad.xml")
    assert query("SELECT count(*) FROM sources")[0][0] == 1  # the good file given with it is not kept either
    assert query("SELECT count(*) FROM contracts")[0][0] == 2


def test_generator_manifest_counts_what_it_writes(tmp_path: Path) -> None:
    m = Manifest()
    rows = write_flat(tmp_path / "g.csv", contracts(500, seed=1, manifest=m), fmt="csv", manifest=m)
    assert m.contracts == 500 and rows == m.rows >= 500
    assert sum(m.defects.values()) > 0
    lines = (tmp_path / "g.csv").read_text(encoding="utf-8").count("\n")
    assert lines == rows + 1


def test_replace_keeps_only_the_files_given(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query
) -> None:
    ingest_files(
        EXAMPLES / "example_v1.5_paquet.json", EXAMPLES / "example_v2_marches_avec_modifications.json"
    )
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(InputError):
        ingest_files(EXAMPLES / "example_v1.5_paquet.json", tmp_path / "bad.json", replace=True)
    assert query("SELECT count(*) FROM sources")[0][0] == 2  # a failure changes nothing
    result = ingest_files(EXAMPLES / "example_v1.5_paquet.json", replace=True)
    assert result.files[0].reused
    assert query("SELECT format FROM sources") == [("decp-2019-json",)]
    assert query("SELECT count(*) FROM contracts")[0][0] == 2
