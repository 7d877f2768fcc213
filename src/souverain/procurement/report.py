"""Static report of the procurement pillar: ``index.html`` (no external resource) and ``procurement.json``,
both from the same data — shares per year side by side, per kind of buyer, named publishers, intermediaries,
the ingest report's summary and the versions used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from souverain.procurement.api import shares, summary
from souverain.procurement.reference import shipped_reference
from souverain.procurement.store import connect

__all__ = ["report_data", "write_report"]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _gap(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.1f} pts"


def report_data(db_path: Path) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data."""
    ref = shipped_reference()
    con = connect(db_path, read_only=True)
    try:
        publishers = (
            [
                {
                    "entity": e,
                    "name": n,
                    "country": c,
                    "parent": p,
                    "parent_bloc": b,
                    "contracts": int(k),
                    "amount_eur": round(float(a or 0), 2),
                }
                for e, n, c, p, b, k, a in con.execute("""
                SELECT cp.entity, any_value(k.label), any_value(k.country), any_value(cp.parent),
                       any_value(cp.parent_bloc), count(DISTINCT cp.contract_key),
                       sum(c.amount) FILTER (WHERE c.amount_in_sums)
                FROM contract_publishers cp JOIN contracts c USING (contract_key)
                LEFT JOIN entities k ON k.entity = cp.entity
                GROUP BY cp.entity ORDER BY 6 DESC, 1""").fetchall()
            ]
            if _has(con, "entities")
            else []
        )
        intermediaries = [
            {"intermediary": i, "kind": k, "contracts": int(n)}
            for i, k, n in con.execute("""
                SELECT intermediary, intermediary_kind, count(DISTINCT contract_key) FROM contract_suppliers
                WHERE intermediary IS NOT NULL GROUP BY ALL ORDER BY 3 DESC, 1""").fetchall()
        ]
        flags = con.execute("""
            SELECT count(*) FILTER (WHERE via_reseller), count(*) FILTER (WHERE central_purchasing),
                   count(*) FILTER (WHERE perimeter_basis = 'keyword'),
                       count(*) FILTER (WHERE NOT amount_in_sums)
            FROM contracts WHERE digital""").fetchone() or (0, 0, 0, 0)
    finally:
        con.close()
    return {
        "summary": summary(db_path),
        "trajectory": {
            **{k: v for k, v in ref.policy.trajectory.items() if k != "targets"},
            "targets": {str(y): t for y, t in sorted(ref.policy.targets.items())},
        },
        "shares_year": shares(db_path, by=("year",)),
        "shares_year_buyer_kind": shares(db_path, by=("year", "buyer_kind")),
        "publishers": publishers,
        "intermediaries": intermediaries,
        "digital_flags": dict(
            zip(
                ("via_reseller", "central_purchasing", "keyword_perimeter", "amount_excluded"),
                (int(x) for x in flags),
                strict=True,
            )
        ),
    }


def _has(con: Any, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchone()[0]
    )


def write_report(db_path: Path, out_dir: Path, data: dict[str, Any] | None = None) -> Path:
    """Write ``index.html`` and ``procurement.json`` into ``out_dir`` (from ``data`` when the caller already
    has :func:`report_data`); returns the HTML path."""
    data = data if data is not None else report_data(db_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "procurement.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8"
    )
    env = Environment(
        loader=PackageLoader("souverain.procurement", "templates"), autoescape=select_autoescape()
    )
    env.filters["pct"] = _pct
    env.filters["gap"] = _gap
    years: dict[Any, dict[str, Any]] = {}
    for row in data["shares_year"]:
        years.setdefault(row["year"], {})[row["view"]] = row
    html = env.get_template("procurement.html.j2").render(data=data, years=years)
    path = out_dir / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
