"""Open-data tables of the pillar, the trajectory policy, and the public API surface."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import souverain.procurement as procurement
from souverain.procurement import extra_tables, tables
from souverain.procurement.reference import shipped_reference

from .conftest import hand_checked


def test_public_api_is_declared() -> None:
    for name in procurement.__all__:
        assert hasattr(procurement, name), name
    assert {"ingest", "shares", "tables", "write_report", "import_gleif", "import_territories"} <= set(
        procurement.__all__
    )


def test_trajectory_policy() -> None:
    policy = shipped_reference().policy
    assert policy.targets == {2023: 0.1, 2024: 0.2, 2025: 0.3, 2026: 0.4, 2027: 0.5}
    assert policy.trajectory["verified"] is False and policy.trajectory["source"]
    assert policy.area_name == "EEA" and "NO" in policy.european_area and "CH" not in policy.european_area


def test_tables_rows_match_their_fields(tmp_path: Path, ingest_files: Callable[..., Any], db: Path) -> None:
    ingest_files(hand_checked(tmp_path))
    found = tables(db)
    assert set(found) == {
        "procurement_shares_year",
        "procurement_shares_year_buyer_kind",
        "procurement_shares_year_region",
        "procurement_trajectory",
        "procurement_contracts",
        "procurement_contract_suppliers",
        "procurement_ingest_report",
    }
    counts = {}
    for name, table in found.items():
        names = [f.name for f in table.fields]
        assert len(names) == len(set(names)) and all(f.description for f in table.fields)
        assert set(table.primary_key) <= set(names)
        rows = list(table.rows)
        counts[name] = len(rows)
        for row in rows:
            assert set(row) == set(names), (name, set(row) ^ set(names))
            for f in table.fields:
                if f.required:
                    assert row[f.name] is not None, (name, f.name)
    assert counts["procurement_shares_year"] == 3  # 2024 × three views
    assert counts["procurement_contracts"] == 5 and counts["procurement_contract_suppliers"] == 6
    assert counts["procurement_trajectory"] == 5


def test_extra_tables_plug_into_the_open_data_export(
    tmp_path: Path, ingest_files: Callable[..., Any], db: Path
) -> None:
    from souverain.opendata import ExtraTable

    ingest_files(hand_checked(tmp_path))
    extra = extra_tables(db)
    assert all(isinstance(t, ExtraTable) for t in extra.values())
    rows = list(extra["procurement_shares_year"].rows)
    assert {r["view"] for r in rows} == {"registration", "parent", "publisher"}
