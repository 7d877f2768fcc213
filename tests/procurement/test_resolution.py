"""Supplier resolution: KB groups with their French SIRENs and dated control, foreign companies registered
in France, GLEIF level-2 imports, named publishers, resellers and central purchasing, buyer territories."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from souverain.errors import InputError
from souverain.procurement import import_gleif, import_legal_units, import_territories
from souverain.procurement.identifiers import fold
from souverain.procurement.reference import shipped_reference

from .conftest import PARIS, SME, TODAY, contract, siren_from, siret, write_2019

Query = Callable[..., list[tuple[Any, ...]]]
SRC = "source: https://example.org/fact, checked: 2026-11-01"
TARGET = siren_from("90000001")
OTHER = siren_from("90000002")
FOREIGN = siren_from("90000003")


def _sold(
    cid: str, supplier: str, notified: str, objet: str = "Logiciel de gestion", name: str = "X"
) -> dict[str, Any]:
    return contract(
        cid,
        buyer=PARIS,
        objet=objet,
        cpv="48000000",
        amount=1000,
        notified=notified,
        suppliers=[("SIRET", siret(supplier), name)],
    )


def test_ultimate_parent_follows_dated_control(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query
) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        f"""
entities:
  - id: logiciels-fr
    name: Logiciels FR SAS
    country: FR
    facts: {{{SRC}}}
    sirens:
      - {{siren: "{TARGET}", name: Logiciels FR SAS, kind: head-office, {SRC}}}
    owners:
      - {{parent: bigsoft-us, share: 1.0, control: true, since: 2024-06-01, {SRC}}}
  - id: bigsoft-us
    name: BigSoft Inc.
    country: US
    facts: {{{SRC}}}
""",
        encoding="utf-8",
    )
    data = write_2019(
        tmp_path / "d.json", [_sold("BEFORE", TARGET, "2024-03-01"), _sold("AFTER", TARGET, "2024-09-01")]
    )
    ingest_files(data, kb_extra=[overlay])
    rows = query(
        "SELECT c.id, cs.kb_entity, cs.parent, cs.parent_bloc, cs.parent_source, cs.parent_path "
        "FROM contract_suppliers cs JOIN contracts c USING (contract_key) ORDER BY c.id"
    )
    assert rows == [
        ("AFTER", "logiciels-fr", "bigsoft-us", "non_eu", "kb", "logiciels-fr → bigsoft-us"),
        ("BEFORE", "logiciels-fr", "logiciels-fr", "fr", "kb", "logiciels-fr"),
    ]
    assert {
        r[0]: r[1]
        for r in query(
            "SELECT c.id, a.bloc FROM allocations a JOIN contracts c USING (contract_key) "
            "WHERE a.view = 'registration'"
        )
    } == {"AFTER": "fr", "BEFORE": "fr"}


def test_french_subsidiaries_and_branches_of_the_shipped_kb(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query
) -> None:
    data = write_2019(
        tmp_path / "d.json",
        [
            _sold("MS", "327733184", "2024-02-01", "Licences Microsoft 365"),
            _sold("AWS", "831001334", "2024-02-01", "Hébergement cloud"),
            _sold("IBM", "552118465", "2024-02-01", "Maintenance de logiciels"),
        ],
    )
    ingest_files(data)
    rows = {
        r[0]: r[1:]
        for r in query(
            "SELECT c.id, cs.registration_bloc, cs.kb_entity, cs.parent, cs.parent_country, "
            "cs.foreign_company, "
            "cs.legal_category FROM contract_suppliers cs JOIN contracts c USING (contract_key)"
        )
    }
    assert rows["MS"] == ("fr", "microsoft", "microsoft", "US", False, None)
    # the AWS EMEA French branch: legal category 3120, a foreign company registered in France
    assert rows["AWS"] == ("fr", "aws", "amazon", "US", True, "3120")
    assert rows["IBM"][1:3] == ("ibm", "ibm")


def test_gleif_level2_import_csv(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query, db: Path
) -> None:
    child, parent, mid = "969500CHILD000000012", "5493PARENT0000000034", "5493MIDDLE0000000056"
    rr = tmp_path / "rr.csv"
    rr.write_text(
        "Relationship.StartNode.NodeID,Relationship.StartNode.NodeIDType,Relationship.EndNode.NodeID,"
        "Relationship.EndNode.NodeIDType,Relationship.RelationshipType,Relationship.RelationshipStatus\n"
        f"{child},LEI,{mid},LEI,IS_DIRECTLY_CONSOLIDATED_BY,ACTIVE\n"
        f"{child},LEI,{parent},LEI,IS_ULTIMATELY_CONSOLIDATED_BY,ACTIVE\n"
        f"{mid},LEI,{parent},LEI,IS_DIRECTLY_CONSOLIDATED_BY,ACTIVE\n"
        f"{child},LEI,X,LEI,IS_INTERNATIONAL_BRANCH_OF,ACTIVE\n",
        encoding="utf-8",
    )
    l1 = tmp_path / "lei2.csv"
    l1.write_text(
        "LEI,Entity.LegalName,Entity.LegalAddress.Country,Entity.HeadquartersAddress.Country,"
        "Entity.RegistrationAuthority.RegistrationAuthorityID,Entity.RegistrationAuthority.RegistrationAuthorityEntityID,"
        "Entity.EntityStatus\n"
        f"{child},Filiale France SAS,FR,FR,RA000189,{OTHER},ACTIVE\n"
        f"{parent},Parent Holdings Inc.,US,US,RA000665,123,ACTIVE\n"
        f"{mid},Middle BV,NL,NL,RA000463,456,ACTIVE\n",
        encoding="utf-8",
    )
    ingest_files(write_2019(tmp_path / "d.json", [_sold("G", OTHER, "2024-02-01")]))
    assert import_gleif(db, rr, l1) == (3, 3)
    row = query(
        "SELECT registration_bloc, parent, parent_country, parent_bloc, parent_source, parent_path "
        "FROM contract_suppliers"
    )
    assert row == [("fr", "Parent Holdings Inc.", "US", "non_eu", "gleif", f"GLEIF {parent}")]
    assert query("SELECT view, bloc FROM allocations ORDER BY view") == [
        ("parent", "non_eu"),
        ("publisher", "non_eu"),
        ("registration", "fr"),
    ]


def test_gleif_level2_import_json(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query, db: Path
) -> None:
    child, parent = "969500CHILD000000012", "5493PARENT0000000034"
    rr = tmp_path / "rr.json"
    rr.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "type": "relationship-records",
                        "attributes": {
                            "relationship": {
                                "startNode": {"id": child, "type": "LEI"},
                                "endNode": {"id": parent, "type": "LEI"},
                                "type": "IS_ULTIMATELY_CONSOLIDATED_BY",
                                "status": "ACTIVE",
                            }
                        },
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    l1 = tmp_path / "lei2.csv"
    l1.write_text(
        "LEI,Entity.LegalName,Entity.LegalAddress.Country,Entity.RegistrationAuthority.RegistrationAuthorityID,"
        "Entity.RegistrationAuthority.RegistrationAuthorityEntityID,Entity.EntityStatus\n"
        f"{child},Filiale,FR,RA000192,{OTHER[:3]} {OTHER[3:6]} {OTHER[6:]},ACTIVE\n"
        f"{parent},Mutterkonzern AG,DE,RA000001,1,ACTIVE\n",
        encoding="utf-8",
    )
    ingest_files(write_2019(tmp_path / "d.json", [_sold("G", OTHER, "2024-02-01")]))
    assert import_gleif(db, rr, l1) == (1, 2)
    assert query("SELECT parent_country, parent_bloc, parent_source FROM contract_suppliers") == [
        ("DE", "eu", "gleif")
    ]


def test_bad_gleif_file_names_the_file(tmp_path: Path, db: Path) -> None:
    bad = tmp_path / "rr.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"rr\.csv:1: not a GLEIF relationship CSV"):
        import_gleif(db, bad)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("null.json", "null", "expected a list of relationship records"),
        ("object.json", '{"data": {"a": 1}}', "expected a list of relationship records"),
        ("empty.json", "[]", "no relationship record, of type IS_ULTIMATELY_CONSOLIDATED_BY"),
        (
            "branches.json",
            '[{"startNode": {"id": "A"}, "endNode": {"id": "B"}, "type": "IS_INTERNATIONAL_BRANCH_OF"}]',
            "1 relationship record\\(s\\), none of type",
        ),
    ],
)
def test_a_gleif_file_without_parents_is_refused_and_keeps_the_earlier_import(
    tmp_path: Path, db: Path, query: Query, name: str, content: str, message: str
) -> None:
    """`import-gleif null.json` said "0 relationships imported" (exit 0) and replaced the earlier import
    with nothing."""
    good = tmp_path / "rr.json"
    good.write_text(
        '[{"startNode": {"id": "529900T8BM49AURSDO55"}, "endNode": {"id": "5493001KJTIIGC8Y1R12"}, '
        '"type": "IS_ULTIMATELY_CONSOLIDATED_BY"}]',
        encoding="utf-8",
    )
    assert import_gleif(db, good) == (1, 0)
    bad = tmp_path / name
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=rf"{name}: .*{message}"):
        import_gleif(db, bad)
    assert query("SELECT count(*) FROM gleif_relationships") == [(1,)]


def test_legal_units_rows_without_siren_are_counted(tmp_path: Path, db: Path) -> None:
    units = tmp_path / "StockUniteLegale.csv"
    units.write_text(
        f"siren,categorieJuridiqueUniteLegale\n{FOREIGN},3120\n12345,5710\n,5710\n", encoding="utf-8"
    )
    assert import_legal_units(db, units) == (1, 2)


def test_legal_units_mark_foreign_companies_and_buyer_kinds(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query, db: Path
) -> None:
    hospital = siren_from("26750045")
    data = write_2019(
        tmp_path / "d.json",
        [
            contract(
                "H",
                buyer=siret(hospital),
                objet="Logiciel de dossier patient",
                cpv="48000000",
                amount=10,
                notified="2024-01-05",
                suppliers=[("SIRET", siret(FOREIGN), "FOREIGN LTD")],
            ),
        ],
    )
    ingest_files(data)
    assert query("SELECT buyer_kind FROM contracts") == [("unknown",)]
    units = tmp_path / "StockUniteLegale.csv"
    units.write_text(
        "siren,categorieJuridiqueUniteLegale,denominationUniteLegale\n"
        f"{FOREIGN},3120,FOREIGN LTD\n{hospital},7364,CENTRE HOSPITALIER\n",
        encoding="utf-8",
    )
    assert import_legal_units(db, units) == (2, 0)
    assert query("SELECT buyer_kind FROM contracts") == [("hopital",)]
    row = query(
        "SELECT registration_bloc, foreign_company, parent_bloc, parent_source FROM contract_suppliers"
    )
    # registered in France (naive view: fr), but a foreign company of unknown origin:
    # unknown in the parent view
    assert row == [("fr", True, "unknown", "foreign-registration")]


def test_territories_vendored_and_imported(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query, db: Path
) -> None:
    commune = siren_from("21350238")
    buyers = {
        "PARIS": PARIS,
        "BRETAGNE": siret("233500016"),
        "ILLE": siret("223500018"),
        "EPCI": siret("200000172"),
        "RENNES": siret(commune),
    }
    ingest_files(
        write_2019(
            tmp_path / "d.json",
            [
                contract(
                    k,
                    buyer=b,
                    objet="Logiciel",
                    cpv="48000000",
                    amount=10,
                    notified="2024-01-05",
                    suppliers=[("SIRET", siret(SME), "PME")],
                )
                for k, b in buyers.items()
            ],
        )
    )
    got = {
        r[0]: r[1:]
        for r in query("SELECT id, buyer_kind, buyer_commune, buyer_departement, buyer_region FROM contracts")
    }
    assert got["PARIS"] == ("commune", "75056", "75", "11")
    assert got["BRETAGNE"] == ("region", None, None, "53")
    assert got["ILLE"] == ("departement", None, "35", "53")
    assert got["EPCI"] == ("epci", None, "74", "84")
    table = tmp_path / "Banatic_SirenInsee.csv"
    table.write_text(f"siren,insee,nom_com\n{commune},35238,Rennes (test)\n", encoding="utf-8")
    assert import_territories(db, table) == 1
    got = {
        r[0]: r[1:]
        for r in query("SELECT id, buyer_kind, buyer_commune, buyer_departement, buyer_region FROM contracts")
    }
    assert got["RENNES"] == ("commune", "35238", "35", "53")
    bad = tmp_path / "bad.csv"
    bad.write_text("siren,insee\n123,35238\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.csv:2: siren: not a valid SIREN"):
        import_territories(db, bad)


@pytest.mark.parametrize(
    ("objet", "publishers"),
    [
        ("Acquisition de licences Microsoft 365 et Azure", {"microsoft"}),
        ("Maintenance ORACLE Database et support SAP S/4HANA", {"oracle", "sap"}),
        ("Renouvellement VMware vSphere", {"vmware"}),
        ("Équipement des sapeurs-pompiers", set()),
        ("Office de tourisme : entretien des fenêtres", set()),
        ("Solution BlueMind et Nextcloud", {"bluemind", "nextcloud"}),
        ("Postes HP EliteBook", {"hp"}),
        ("Prestations de la société Oracle France", {"oracle"}),
        ("Sage-femme libérale", set()),
    ],
)
def test_publisher_patterns(objet: str, publishers: set[str]) -> None:
    ref = shipped_reference()
    found = {p.entity for p in ref.publishers if re.search(p.pattern, fold(objet))}
    assert found == publishers


def test_every_publisher_and_intermediary_is_a_kb_entity() -> None:
    from souverain.kb.load import load_kb

    kb = load_kb()
    ref = shipped_reference()
    assert {p.entity for p in ref.publishers} <= set(kb.entities)
    assert {i.entity for i in ref.intermediaries} <= set(kb.entities)


def test_resellers_and_central_purchasing(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Query
) -> None:
    ugap = siret("776056467")
    data = write_2019(
        tmp_path / "d.json",
        [
            _sold("SCC", "424982650", "2024-02-01", "Licences Microsoft 365", "SCC FRANCE"),
            contract(
                "CC",
                buyer=PARIS,
                objet="Licences Adobe",
                cpv="48000000",
                amount=10,
                notified="2024-02-01",
                suppliers=[("SIRET", siret(OTHER), "COMPUTACENTER FRANCE SAS")],
            ),
            contract(
                "UG",
                buyer=ugap,
                objet="Licences Microsoft",
                cpv="48000000",
                amount=10,
                notified="2024-02-01",
                suppliers=[("SIRET", siret(SME), "PME")],
            ),
            _sold("PLAIN", SME, "2024-02-01"),
        ],
    )
    ingest_files(data)
    flags = {
        r[0]: r[1:] for r in query("SELECT id, via_reseller, central_purchasing, publishers FROM contracts")
    }
    assert flags["SCC"] == (True, False, "microsoft")
    assert flags["CC"] == (True, False, "adobe")
    assert flags["UG"] == (False, True, "microsoft")
    assert flags["PLAIN"] == (False, False, None)
    inter = dict(query("SELECT name, intermediary FROM contract_suppliers WHERE intermediary IS NOT NULL"))
    assert inter == {"SCC FRANCE": "scc", "COMPUTACENTER FRANCE SAS": "computacenter"}
    # the reseller's licences are attributed to the publisher they name
    pub = query(
        "SELECT a.bloc, a.subject FROM allocations a JOIN contracts c USING (contract_key) "
        "WHERE c.id = 'SCC' AND a.view = 'publisher'"
    )
    assert pub == [("non_eu", "microsoft")]


def test_kb_version_is_stored(tmp_path: Path, ingest_files: Callable[..., Any], query: Query) -> None:
    from souverain.kb.load import load_kb

    result = ingest_files(write_2019(tmp_path / "d.json", [_sold("A", SME, "2024-02-01")]))
    assert result.kb_version == load_kb().version
    assert dict(query("SELECT key, value FROM meta"))["kb_version"] == result.kb_version
    assert TODAY.year == 2026
