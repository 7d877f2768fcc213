"""Every known DECP defect injected by the generator is listed in the ingest report with the right reason
and action — nothing is rejected silently — and every reason of the closed list is exercised."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from souverain.procurement import REASONS
from souverain.procurement.generator import DEFECTS, Manifest, contracts
from souverain.procurement.writers import write_flat

from .conftest import PARIS, SME, contract, siret, write_2019

EXPECTED = {
    "duplicate_row": ("duplicate", {"rejected"}),
    "date_fixable": ("bad-date", {"corrected"}),
    "date_bad": ("bad-date", {"corrected"}),
    "date_both_bad": ("bad-date", {"rejected"}),
    "buyer_fixable": ("malformed-buyer-id", {"corrected"}),
    "buyer_checksum": ("malformed-buyer-id", {"flagged"}),
    "buyer_garbage": ("malformed-buyer-id", {"rejected"}),
    "supplier_type": ("malformed-supplier-id", {"corrected", "flagged"}),
    "supplier_checksum": ("malformed-supplier-id", {"flagged"}),
    "cpv_check_digit": ("invalid-cpv", {"corrected"}),
    "cpv_unknown": ("invalid-cpv", {"flagged"}),
    "cpv_missing": ("invalid-cpv", {"flagged"}),
    "amount_negative": ("negative-amount", {"flagged"}),
    "amount_zero": ("bad-amount", {"flagged"}),
    "amount_absurd": ("absurd-amount", {"flagged"}),
    "amount_placeholder": ("absurd-amount", {"flagged"}),
}
"""Defect keyed by contract → the report row its contract must carry."""


@pytest.fixture(scope="module")
def defects_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    from souverain.procurement import ingest

    from .conftest import TODAY

    tmp = tmp_path_factory.mktemp("defects")
    rates = {name: 0.02 for name in DEFECTS}
    manifest = Manifest()
    write_flat(
        tmp / "decp.csv",
        contracts(2500, seed=11, rates=rates, manifest=manifest, keep_keys=True),
        fmt="csv",
        manifest=manifest,
    )
    db = tmp / "p.duckdb"
    ingest(db, [tmp / "decp.csv"], today=TODAY)
    return db, manifest


def _report(db: Path) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT contract, reason, action, field, value, detail FROM ingest_report"
        ).fetchall()
    finally:
        con.close()


def test_every_injected_defect_is_reported_with_its_reason(defects_db: tuple[Path, Manifest]) -> None:
    db, manifest = defects_db
    by_contract: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for contract_key, reason, action, *_ in _report(db):
        by_contract[contract_key].add((reason, action))
    missed = []
    checked = 0
    for uid, defect in manifest.keyed.items():
        if defect not in EXPECTED:
            continue
        reason, actions = EXPECTED[defect]
        checked += 1
        if not any(r == reason and a in actions for r, a in by_contract.get(uid, ())):
            missed.append((uid, defect, sorted(by_contract.get(uid, ()))))
    assert checked > 500
    assert not missed, missed[:5]


def test_rows_and_ids_that_cannot_be_keyed_are_counted(defects_db: tuple[Path, Manifest]) -> None:
    db, manifest = defects_db
    report = _report(db)
    unreadable = [r for r in report if r[1] == "unreadable-row"]
    missing = [r for r in report if r[1] == "missing-field" and r[3] == "id"]
    assert len(unreadable) >= manifest.defects["broken_row"] > 0
    assert all(r[2] == "rejected" and "TOO MANY COLUMNS" in r[5] for r in unreadable)
    # without an id, the rows of one contract (co-suppliers, versions) cannot be grouped: one report row each
    assert len(missing) >= manifest.defects["missing_id"] > 0
    assert all(r[2] == "rejected" and r[5] == "no contract id" for r in missing)


def test_flagged_amounts_are_counted_but_kept_out_of_sums(defects_db: tuple[Path, Manifest]) -> None:
    import duckdb

    db, manifest = defects_db
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT amount_flag, count(*), bool_or(amount_in_sums) FROM contracts "
            "WHERE amount_flag IS NOT NULL GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    flags = {flag: (n, in_sums) for flag, n, in_sums in rows}
    assert set(flags) == {"bad-amount", "negative-amount", "absurd-amount"}
    assert not any(in_sums for _, in_sums in flags.values())
    assert flags["negative-amount"][0] >= manifest.defects["amount_negative"]


def test_outliers_of_a_family_leave_the_sums(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Callable[..., Any]
) -> None:
    items = [
        contract(
            f"N{i}",
            buyer=PARIS,
            objet="Logiciel de gestion",
            cpv="48000000",
            amount=10_000 + 100 * i,
            notified="2024-02-01",
            suppliers=[("SIRET", siret(SME), "PME")],
        )
        for i in range(40)
    ]
    items.append(
        contract(
            "BIG",
            buyer=PARIS,
            objet="Logiciel de gestion",
            cpv="48000000",
            amount=400_000_000,
            notified="2024-02-01",
            suppliers=[("SIRET", siret(SME), "PME")],
        )
    )
    items.append(
        contract(
            "OK",
            buyer=PARIS,
            objet="Logiciel de gestion",
            cpv="48000000",
            amount=90_000,
            notified="2024-02-01",
            suppliers=[("SIRET", siret(SME), "PME")],
        )
    )
    ingest_files(write_2019(tmp_path / "o.json", items))
    flagged = query("SELECT id, amount_flag, amount_detail FROM contracts WHERE amount_flag IS NOT NULL")
    assert [(i, f) for i, f, _ in flagged] == [("BIG", "absurd-amount")]  # below the 10^9 ceiling, an outlier
    assert "robust deviations above the median" in flagged[0][2]


def test_amounts_that_are_not_finite_numbers_are_bad_amounts(
    tmp_path: Path, ingest_files: Callable[..., Any], query: Callable[..., Any]
) -> None:
    """'NaN' parses as a double, which DuckDB orders above every number: it was flagged "above the
    ceiling"."""
    items = [
        contract(
            cid,
            buyer=PARIS,
            objet="Logiciel de gestion",
            cpv="48000000",
            amount=amount,
            notified="2024-02-01",
            suppliers=[("SIRET", siret(SME), "PME")],
        )
        for cid, amount in (("NAN", "NaN"), ("INF", "inf"), ("HUGE", "1e400"), ("OK", 90_000))
    ]
    ingest_files(write_2019(tmp_path / "n.json", items))
    rows = query("SELECT id, amount, amount_flag, amount_detail FROM contracts ORDER BY id")
    assert rows == [
        ("HUGE", None, "bad-amount", "not a number"),
        ("INF", None, "bad-amount", "not a number"),
        ("NAN", None, "bad-amount", "not a number"),
        ("OK", 90_000.0, None, None),
    ]


def test_the_report_uses_only_the_closed_list_of_reasons(defects_db: tuple[Path, Manifest]) -> None:
    db, _ = defects_db
    reasons = {r[1] for r in _report(db)}
    assert reasons <= set(REASONS)
    # the flat defects exercise every reason of the list
    assert reasons == set(REASONS)
