"""The three shares, side by side: by supplier registration, by ultimate parent, by named publisher — by
number of contracts and by amount, for any grouping (year, buyer, kind of buyer, territory, family),
against the trajectory.

For a group of digital contracts and a view, each contract's weight (1, split equally among its co-suppliers
or among the publishers its objet names) is summed per bloc: ``fr``, ``eu`` (rest of the European area),
``non_eu``, ``unknown``. ``share_european_*`` = (fr + eu) / (fr + eu + non_eu), the determined part only;
``coverage_*`` says how much of the group was determined. Amount sums leave out flagged amounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from souverain.errors import InputError
from souverain.procurement.reference import Policy

__all__ = ["BLOCS", "DIMENSIONS", "VIEWS", "compute_shares"]

VIEWS = ("registration", "parent", "publisher")
BLOCS = ("fr", "eu", "non_eu", "unknown")
DIMENSIONS = {
    "year": "c.year",
    "buyer": "c.buyer_siren",
    "buyer_kind": "c.buyer_kind",
    "region": "c.buyer_region",
    "departement": "c.buyer_departement",
    "commune": "c.buyer_commune",
    "family": "c.family",
}
"""Groupings ``shares`` accepts, and the column each reads."""


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 6) if den else None


def compute_shares(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    by: Sequence[str] = ("year",),
    *,
    views: Sequence[str] = VIEWS,
    where: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One dict per group × view, sorted by group then view order."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise InputError(f"--by: unknown grouping(s) {', '.join(unknown)} (known: {', '.join(DIMENSIONS)})")
    bad_views = [v for v in views if v not in VIEWS]
    if bad_views:
        raise InputError(f"--view: unknown view(s) {', '.join(bad_views)} (known: {', '.join(VIEWS)})")
    filters, params = ["c.digital"], []
    for dim, value in (where or {}).items():
        if dim not in DIMENSIONS:
            raise InputError(f"filter: unknown dimension {dim!r} (known: {', '.join(DIMENSIONS)})")
        filters.append(f"CAST({DIMENSIONS[dim]} AS VARCHAR) = ?")
        params.append(str(value))
    dims = [f"{DIMENSIONS[d]} AS {d}" for d in by]
    group = ", ".join([*(DIMENSIONS[d] for d in by), "a.view", "a.bloc"])
    sql = f"""
        SELECT {", ".join([*dims, "a.view", "a.bloc"])},
               sum(a.weight) AS n,
               coalesce(sum(a.weight * c.amount) FILTER (WHERE c.amount_in_sums), 0) AS amount,
               sum(a.weight) FILTER (WHERE a.basis = 'publisher') AS named
        FROM allocations a JOIN contracts c USING (contract_key)
        WHERE {" AND ".join(filters)} AND a.view IN ({", ".join("?" for _ in views)})
        GROUP BY {group}
    """
    try:
        rows = con.execute(sql, [*params, *views]).fetchall()
        totals_sql = f"""
            SELECT {
            ", ".join(
                [
                    *dims,
                    "count(*)",
                    "count(*) FILTER (WHERE NOT c.amount_in_sums)",
                    "coalesce(sum(c.amount) FILTER (WHERE c.amount_in_sums), 0)",
                ]
            )
        }
            FROM contracts c WHERE {" AND ".join(filters)} {
            "GROUP BY " + ", ".join(DIMENSIONS[d] for d in by) if by else ""
        }
        """
        totals = {tuple(r[: len(by)]): r[len(by) :] for r in con.execute(totals_sql, params).fetchall()}
    except duckdb.CatalogException:
        raise InputError(
            "the procurement database has no derived tables yet; run: souverain procurement ingest FILES"
        ) from None
    groups: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for row in rows:
        key, view, bloc, n, amount, named = (
            tuple(row[: len(by)]),
            row[len(by)],
            row[len(by) + 1],
            *row[len(by) + 2 :],
        )
        cell = groups.setdefault(key, {}).setdefault(
            view, {"n": dict.fromkeys(BLOCS, 0.0), "amount": dict.fromkeys(BLOCS, 0.0), "named": 0.0}
        )
        cell["n"][bloc] += float(n)
        cell["amount"][bloc] += float(amount)
        cell["named"] += float(named or 0)
    out: list[dict[str, Any]] = []
    for key in sorted(groups, key=lambda k: tuple((v is None, str(v)) for v in k)):
        contracts, excluded, amount_total = totals.get(key, (0, 0, 0.0))
        year = key[by.index("year")] if "year" in by else None
        target = policy.targets.get(int(year)) if year is not None else None
        for view in views:
            found = groups[key].get(view)
            if found is None:
                continue
            cell = found
            n, amt = cell["n"], cell["amount"]
            det_n = n["fr"] + n["eu"] + n["non_eu"]
            det_a = amt["fr"] + amt["eu"] + amt["non_eu"]
            share_n = _ratio(n["fr"] + n["eu"], det_n)
            share_a = _ratio(amt["fr"] + amt["eu"], det_a)
            row_out: dict[str, Any] = dict(zip(by, key, strict=True))
            row_out.update(
                view=view,
                contracts=int(contracts),
                amount_eur=round(float(amount_total), 2),
                amount_excluded_contracts=int(excluded),
                **{f"contracts_{b}": round(n[b], 4) for b in BLOCS},
                **{f"amount_{b}_eur": round(amt[b], 2) for b in BLOCS},
                share_european_contracts=share_n,
                share_european_amount=share_a,
                share_french_contracts=_ratio(n["fr"], det_n),
                share_french_amount=_ratio(amt["fr"], det_a),
                coverage_contracts=_ratio(det_n, sum(n.values())),
                coverage_amount=_ratio(det_a, sum(amt.values())),
                named_publisher_contracts=round(cell["named"], 4) if view == "publisher" else None,
                target=target,
                gap_contracts=round(share_n - target, 6)
                if share_n is not None and target is not None
                else None,
                gap_amount=round(share_a - target, 6) if share_a is not None and target is not None else None,
            )
            out.append(row_out)
    return out
