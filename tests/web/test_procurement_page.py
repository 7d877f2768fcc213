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


def test_open_data_on_the_web_carries_the_procurement_tables(world: WebWorld, tmp_path: Path) -> None:
    """`souverain export` wrote the DECP tables and the web's open-data download did not; the download is
    generated again once the DECP database changes (an ingest), the earlier one removed."""
    decp = tmp_path / "decp.csv"
    write_flat(decp, contracts(200, seed=7))
    db = tmp_path / "procurement.duckdb"
    ingest(db, [decp])
    run_id = world.run_ids[-1]
    opendata = world.home / "opendata"

    def generate(client: httpx.Client) -> list[str]:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/opendata").text)
        assert token is not None
        page = client.post(f"/opendata/{run_id}", data={"csrf": token.group(1)}, follow_redirects=True)
        assert page.status_code == 200, page.text[-500:]
        return re.findall(rf'href="/opendata/{run_id}/([^"]+)"', page.text)

    with Server(make_app(world, procurement=db)) as server, httpx.Client(base_url=server.url) as client:
        files = generate(client)
        assert "csv/procurement_shares_year.csv" in files and "csv/procurement_contracts.csv" in files
        package = client.get(f"/opendata/{run_id}/datapackage.json").json()
        assert "procurement-shares-year-csv" in {r["name"] for r in package["resources"]}
        first = sorted(p.name for p in opendata.iterdir() if p.name.startswith(f"{run_id}-"))
        assert len(first) == 1
        ingest(db, [decp], replace=True)  # the database changes: its tables may have
        assert f'href="/opendata/{run_id}/' not in client.get("/opendata").text  # not generated for it yet
        assert generate(client)
        second = sorted(p.name for p in opendata.iterdir() if p.name.startswith(f"{run_id}-"))
        assert len(second) == 1 and second != first
