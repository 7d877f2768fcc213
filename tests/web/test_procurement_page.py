"""The procurement page: the three shares side by side from an ingested DECP database, in French and English,
and a clear message when no DECP were ingested."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from souverain.procurement import ingest, shares
from souverain.procurement.generator import contracts
from souverain.procurement.writers import write_flat

from .conftest import Server, WebWorld, make_app


def test_procurement_page_shows_the_three_shares(world: WebWorld, tmp_path: Path) -> None:
    decp = tmp_path / "decp.csv"
    write_flat(decp, contracts(400, seed=5))
    db = tmp_path / "procurement.duckdb"
    ingest(db, [decp])
    per_year = {(r["year"], r["view"]): r for r in shares(db, by=("year",))}
    year = max(y for y, _ in per_year)
    with Server(make_app(world, procurement=db)) as server, httpx.Client(base_url=server.url) as client:
        fr = client.get("/procurement")
        en = client.get("/en/procurement")
    assert fr.status_code == en.status_code == 200
    assert "Société mère ultime" in fr.text and "Ultimate parent" in en.text
    row = re.search(rf'<th scope="row">{year}</th>(.*?)</tr>', fr.text, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">(.*?)</td>', row.group(1), re.S)
    for cell, view in zip(cells[:3], ("registration", "parent", "publisher"), strict=True):
        value = per_year[(year, view)]["share_european_contracts"]
        expected = "—" if value is None else f"{value * 100:.1f} %"
        assert cell.startswith(expected), (view, cell)
    assert "set-cookie" not in fr.headers


def test_procurement_page_without_data(world: WebWorld, tmp_path: Path) -> None:
    app = make_app(world, procurement=tmp_path / "absent.duckdb")
    with Server(app) as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/procurement")
    assert page.status_code == 200 and "souverain procurement ingest" in page.text
