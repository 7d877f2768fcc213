"""The three shares on a tiny dataset computed by hand (conftest.hand_checked):

    C1 Microsoft France, "Licences Microsoft 365", 100 € — registration fr, parent microsoft (US),
                                                          publisher microsoft
    C2 SCC France, "Licences Oracle Database", 200 €     — fr, scc (GB), oracle (US)
    C3 French SME, application development, 300 €       — fr, fr, (no publisher) fr
    C4 SME + German company, BlueMind maintenance, 400 € — fr ½ + eu ½, same, bluemind (FR)
    C5 HORS-UE supplier, "Licences SAP", 999 999 999 €  — non_eu, non_eu, sap (DE); placeholder: out of sums
    C6 road works                                         — outside the digital perimeter

By number (5 contracts): registration fr 3.5 eu 0.5 non_eu 1 → 80 %; parent fr 1.5 eu 0.5 non_eu 3 → 40 %;
publisher fr 2 eu 1 non_eu 2 → 60 %. By amount (1 000 €): registration 100 %, parent 70 %, publisher 70 %.
Target 2024: 20 %.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from souverain.procurement import shares

from .conftest import hand_checked


@pytest.fixture
def hand(tmp_path: Path, ingest_files: Callable[..., Any], db: Path) -> Path:
    ingest_files(hand_checked(tmp_path))
    return db


def _by_view(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["view"]: r for r in rows}


def test_shares_by_number_and_amount_match_the_hand_computation(hand: Path) -> None:
    rows = shares(hand, by=("year",))
    assert {r["year"] for r in rows} == {2024}
    v = _by_view(rows)
    assert set(v) == {"registration", "parent", "publisher"}
    reg, par, pub = v["registration"], v["parent"], v["publisher"]
    for r in (reg, par, pub):
        assert r["contracts"] == 5 and r["amount_eur"] == 1000.0 and r["amount_excluded_contracts"] == 1
        assert r["target"] == 0.2
    assert (reg["contracts_fr"], reg["contracts_eu"], reg["contracts_non_eu"]) == (3.5, 0.5, 1.0)
    assert (par["contracts_fr"], par["contracts_eu"], par["contracts_non_eu"]) == (1.5, 0.5, 3.0)
    assert (pub["contracts_fr"], pub["contracts_eu"], pub["contracts_non_eu"]) == (2.0, 1.0, 2.0)
    assert (
        reg["share_european_contracts"],
        par["share_european_contracts"],
        pub["share_european_contracts"],
    ) == (0.8, 0.4, 0.6)
    assert (reg["share_european_amount"], par["share_european_amount"], pub["share_european_amount"]) == (
        1.0,
        0.7,
        0.7,
    )
    assert (reg["amount_fr_eur"], reg["amount_eu_eur"], reg["amount_non_eu_eur"]) == (800.0, 200.0, 0.0)
    assert (par["amount_fr_eur"], par["amount_eu_eur"], par["amount_non_eu_eur"]) == (500.0, 200.0, 300.0)
    assert (pub["amount_fr_eur"], pub["amount_eu_eur"], pub["amount_non_eu_eur"]) == (700.0, 0.0, 300.0)
    assert reg["gap_contracts"] == pytest.approx(0.6) and par["gap_contracts"] == pytest.approx(0.2)
    assert pub["gap_amount"] == pytest.approx(0.5)
    assert pub["named_publisher_contracts"] == 4.0  # C1, C2, C4, C5 name a publisher
    assert reg["share_french_contracts"] == 0.7 and reg["coverage_contracts"] == 1.0


def test_groupings_and_filters(hand: Path) -> None:
    by_kind = shares(hand, by=("year", "buyer_kind", "region"), views=("parent",))
    assert [(r["year"], r["buyer_kind"], r["region"], r["contracts"]) for r in by_kind] == [
        (2024, "commune", "11", 5)
    ]
    by_family = {r["family"]: r for r in shares(hand, by=("family",), views=("registration",))}
    assert {f: r["contracts"] for f, r in by_family.items()} == {
        "software": 3,
        "it_services": 2,
    }  # 72267000 is software maintenance (722…)
    assert by_family["software"]["target"] is None  # targets are per year
    assert shares(hand, by=("year",), where={"year": 2023}) == []


def test_unknown_grouping_is_a_clear_error(hand: Path) -> None:
    from souverain.errors import InputError

    with pytest.raises(InputError, match="unknown grouping"):
        shares(hand, by=("colour",))
    with pytest.raises(InputError, match="unknown view"):
        shares(hand, views=("vibes",))


def test_shares_before_any_ingest(tmp_path: Path) -> None:
    from souverain.errors import InputError

    with pytest.raises(InputError, match="no procurement database"):
        shares(tmp_path / "none.duckdb")
