"""Fixtures of the procurement tests: small DECP files written here (hand-checked or generated) and helpers
to ingest them into a fresh database."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from souverain.procurement.identifiers import luhn_ok

TODAY = dt.date(2026, 11, 24)
EXAMPLES = Path(__file__).resolve().parent / "data"
"""The official examples (fictitious contracts) of the DECP formats (data/README.md)."""


def siret(siren: str, nic: str = "0001") -> str:
    """A valid SIRET for ``siren`` (last digit chosen for the Luhn key)."""
    prefix = siren + nic
    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))


def siren_from(prefix8: str) -> str:
    return next(prefix8 + d for d in "0123456789" if luhn_ok(prefix8 + d))


SME = siren_from("81223113")
"""A small French company, unknown to the KB."""


def contract(
    cid: str,
    *,
    buyer: str,
    objet: str,
    cpv: str,
    amount: float | str,
    notified: str,
    suppliers: list[tuple[str, str, str]],
    modifications: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A contract of the 2019 format (names included)."""
    return {
        "id": cid,
        "_type": "Marché",
        "acheteur": {"id": buyer, "nom": "Acheteur"},
        "nature": "Marché",
        "objet": objet,
        "codeCPV": cpv,
        "procedure": "Procédure adaptée",
        "dureeMois": 12,
        "dateNotification": notified,
        "datePublicationDonnees": notified,
        "montant": amount,
        "titulaires": [{"typeIdentifiant": t, "id": i, "denominationSociale": n} for t, i, n in suppliers],
        "modifications": modifications or [],
    }


def write_2019(path: Path, contracts: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"marches": contracts}, ensure_ascii=False), encoding="utf-8")
    return path


PARIS = siret("217500016", "0001")
"""The City of Paris (commune 75056, région 11) as buyer."""


def hand_checked(tmp: Path) -> Path:
    """Five digital contracts of 2024 (and one outside the perimeter) whose shares are computed by hand in
    test_shares.py."""
    return write_2019(
        tmp / "hand.json",
        [
            contract(
                "C1",
                buyer=PARIS,
                objet="Licences Microsoft 365",
                cpv="48000000",
                amount=100,
                notified="2024-03-01",
                suppliers=[("SIRET", siret("327733184"), "MICROSOFT FRANCE")],
            ),
            contract(
                "C2",
                buyer=PARIS,
                objet="Licences Oracle Database",
                cpv="48000000-8",
                amount=200,
                notified="2024-04-01",
                suppliers=[("SIRET", siret("424982650"), "SCC FRANCE")],
            ),
            contract(
                "C3",
                buyer=PARIS,
                objet="Développement d'une application métier",
                cpv="72000000",
                amount=300,
                notified="2024-05-01",
                suppliers=[("SIRET", siret(SME), "PME SAS")],
            ),
            contract(
                "C4",
                buyer=PARIS,
                objet="Maintenance de la messagerie BlueMind",
                cpv="72267000",
                amount=400,
                notified="2024-06-01",
                suppliers=[("SIRET", siret(SME), "PME SAS"), ("TVA", "DE814864138", "HELLMAN GMBH")],
            ),
            contract(
                "C5",
                buyer=PARIS,
                objet="Licences SAP",
                cpv="48000000",
                amount=999999999,
                notified="2024-07-01",
                suppliers=[("HORS-UE", "US123", "EXAMPLE INC")],
            ),
            contract(
                "C6",
                buyer=PARIS,
                objet="Travaux de voirie",
                cpv="45233140",
                amount=5000,
                notified="2024-08-01",
                suppliers=[("SIRET", siret(SME), "PME SAS")],
            ),
        ],
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "procurement.duckdb"


@pytest.fixture
def ingest_files(db: Path) -> Callable[..., Any]:
    """Ingest files into the test database with a fixed date; returns the IngestResult."""
    from souverain.procurement import ingest

    def run(*files: Path, **kwargs: Any) -> Any:
        return ingest(db, list(files), today=TODAY, **kwargs)

    return run


@pytest.fixture
def query(db: Path) -> Iterator[Callable[[str], list[tuple[Any, ...]]]]:
    """Run a read-only query on the test database (one connection per call)."""

    def run(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(db), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    yield run
