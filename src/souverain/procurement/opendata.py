"""Open-data tables of the procurement pillar: the shares (per year, per year × kind of buyer, per year ×
région), the trajectory, the digital contracts and their suppliers, and the ingest report's summary. Each
table carries Table Schema fields; ``extra_tables`` adapts them to the open-data export's hook."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from souverain.opendata.tables import ExtraTable, TableField
from souverain.procurement.measures import BLOCS, compute_shares
from souverain.procurement.reference import shipped_reference
from souverain.procurement.store import connect

__all__ = ["Field", "ProcurementTable", "extra_tables", "tables"]


# The procurement tables are the open-data export's extra tables: one definition of a column and a table.
Field = TableField
ProcurementTable = ExtraTable


_VIEW = Field(
    "view",
    "string",
    "registration (supplier's country of registration), parent (ultimate controller "
    "per the KB or GLEIF, else registration) or publisher (publisher named in the objet, else parent)",
    True,
)
_SHARE_FIELDS: tuple[Field, ...] = (
    _VIEW,
    Field("contracts", "integer", "digital contracts in the group", True),
    Field("amount_eur", "number", "sum of their amounts in euros, flagged amounts left out", True),
    Field(
        "amount_excluded_contracts", "integer", "contracts whose amount is flagged and left out of sums", True
    ),
    *(
        Field(
            f"contracts_{b}", "number", f"contracts allocated to bloc {b} (co-suppliers split equally)", True
        )
        for b in BLOCS
    ),
    *(Field(f"amount_{b}_eur", "number", f"amount allocated to bloc {b}", True) for b in BLOCS),
    Field("share_european_contracts", "number", "(fr + eu) / (fr + eu + non_eu), by number of contracts"),
    Field("share_european_amount", "number", "(fr + eu) / (fr + eu + non_eu), by amount"),
    Field("share_french_contracts", "number", "fr / (fr + eu + non_eu), by number of contracts"),
    Field("share_french_amount", "number", "fr / (fr + eu + non_eu), by amount"),
    Field("coverage_contracts", "number", "determined part of the contracts (not unknown)"),
    Field("coverage_amount", "number", "determined part of the amount"),
    Field("named_publisher_contracts", "number", "publisher view: contracts whose objet names a publisher"),
    Field("target", "number", "programme target for the year (policy data; unverified source)"),
    Field("gap_contracts", "number", "share_european_contracts - target"),
    Field("gap_amount", "number", "share_european_amount - target"),
)
_DIM_FIELDS = {
    "year": Field("year", "integer", "year of notification", True),
    "buyer_kind": Field(
        "buyer_kind",
        "string",
        "kind of buyer: commune, epci, departement, region, etat, hopital, "
        "epic, syndicat-mixte, other, unknown",
    ),
    "region": Field("region", "string", "INSEE code of the buyer's région"),
}


def _share_table(db: Path, by: Sequence[str], title: str) -> ProcurementTable:
    def rows() -> Iterator[dict[str, Any]]:
        yield from _shares(db, by)

    return ProcurementTable(
        title,
        f"Shares of French and European suppliers in digital public contracts, by {', '.join(by)} and view.",
        (*(_DIM_FIELDS[d] for d in by), *_SHARE_FIELDS),
        rows(),
        (*by, "view"),
    )


def _shares(db: Path, by: Sequence[str]) -> list[dict[str, Any]]:
    con = connect(db, read_only=True)
    try:
        return compute_shares(con, shipped_reference().policy, by)
    finally:
        con.close()


def _query(db: Path, sql: str) -> Iterator[dict[str, Any]]:
    con = connect(db, read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        while batch := cur.fetchmany(10_000):
            for row in batch:
                yield dict(zip(names, row, strict=True))
    finally:
        con.close()


_CONTRACT_FIELDS = (
    Field("contract_key", "string", "buyer SIRET (or SIREN) / contract id / notification date", True),
    Field("buyer_siret", "string", "buyer's SIRET"),
    Field("buyer_siren", "string", "buyer's SIREN", True),
    Field("buyer_kind", "string", "kind of buyer"),
    Field("buyer_departement", "string", "INSEE code of the buyer's département"),
    Field("buyer_region", "string", "INSEE code of the buyer's région"),
    Field("year", "integer", "year of notification", True),
    Field("notified", "date", "notification date", True),
    Field("objet", "string", "object of the contract as published"),
    Field("cpv", "string", "CPV code (8 digits)"),
    Field("family", "string", "digital family"),
    Field("perimeter_basis", "string", "cpv or keyword"),
    Field("amount", "number", "amount in euros as published (current state)"),
    Field("amount_in_sums", "boolean", "false when the amount is flagged (see amount_flag)", True),
    Field("amount_flag", "string", "bad-amount, negative-amount or absurd-amount"),
    Field("framework", "boolean", "a framework agreement (amount is a maximum)", True),
    Field("publishers", "string", "KB ids of the publishers named in the objet, ';'-separated"),
    Field("via_reseller", "boolean", "a supplier is a known reseller", True),
    Field("central_purchasing", "boolean", "a supplier or the buyer is a central purchasing body", True),
    Field("n_suppliers", "integer", "number of suppliers", True),
)
_SUPPLIER_FIELDS = (
    Field("contract_key", "string", "the contract", True),
    Field("pos", "integer", "position among the contract's suppliers", True),
    Field("share", "number", "the supplier's share of the contract (1 / number of suppliers)", True),
    Field("supplier_key", "string", "supplier identity across sources (siren:…, vat:…, hors-ue:…)", True),
    Field(
        "id_type",
        "string",
        "identifier type: siret, siren, vat, tahiti, ridet, frwf, irep, ue, hors-ue, unknown",
    ),
    Field("siren", "string", "SIREN when French"),
    Field("name", "string", "name as published (2019 format and consolidated table)"),
    Field("registration_country", "string", "country of registration (ISO alpha-2)"),
    Field("registration_bloc", "string", "fr, eu, non_eu or unknown"),
    Field(
        "foreign_company", "boolean", "legal category 31xx/32xx: a foreign company registered in France", True
    ),
    Field("kb_entity", "string", "KB entity owning the SIREN"),
    Field("parent", "string", "ultimate controller (KB id or GLEIF name) on the notification date"),
    Field("parent_country", "string", "its country"),
    Field("parent_bloc", "string", "fr, eu, non_eu or unknown"),
    Field("parent_source", "string", "kb, gleif, foreign-registration or registration"),
    Field("intermediary_kind", "string", "reseller or central-purchasing"),
)


def tables(db_path: Path) -> dict[str, ProcurementTable]:
    """The pillar's open-data tables (rows are read lazily, once)."""
    policy = shipped_reference().policy
    contract_cols = ", ".join(f.name for f in _CONTRACT_FIELDS)
    supplier_cols = ", ".join(f"cs.{f.name}" for f in _SUPPLIER_FIELDS)
    return {
        "procurement_shares_year": _share_table(db_path, ("year",), "Procurement shares per year"),
        "procurement_shares_year_buyer_kind": _share_table(
            db_path, ("year", "buyer_kind"), "Procurement shares per year and kind of buyer"
        ),
        "procurement_shares_year_region": _share_table(
            db_path, ("year", "region"), "Procurement shares per year and région"
        ),
        "procurement_trajectory": ProcurementTable(
            "Programme trajectory",
            "Target share of French and European suppliers per year. "
            f"Source: {policy.trajectory.get('source')} "
            f"(verified: {policy.trajectory.get('verified')}).",
            (Field("year", "integer", "year", True), Field("target", "number", "target share", True)),
            iter([{"year": y, "target": t} for y, t in sorted(policy.targets.items())]),
            ("year",),
        ),
        "procurement_contracts": ProcurementTable(
            "Digital public contracts",
            "Digital contracts after cleaning and de-duplication (current state, modifications applied).",
            _CONTRACT_FIELDS,
            _query(db_path, f"SELECT {contract_cols} FROM contracts WHERE digital ORDER BY contract_key"),
            ("contract_key",),
        ),
        "procurement_contract_suppliers": ProcurementTable(
            "Suppliers of digital contracts",
            "One row per digital contract and supplier, with registration and ultimate parent.",
            _SUPPLIER_FIELDS,
            _query(
                db_path,
                f"SELECT {supplier_cols} FROM contract_suppliers cs JOIN contracts c USING (contract_key) "
                "WHERE c.digital ORDER BY cs.contract_key, cs.pos",
            ),
            ("contract_key", "pos"),
        ),
        "procurement_ingest_report": ProcurementTable(
            "Ingest report summary",
            "Rows rejected, corrected or flagged at ingest, per reason and action.",
            (
                Field("reason", "string", "reason (closed list)", True),
                Field("action", "string", "rejected, corrected or flagged", True),
                Field("rows", "integer", "number of report rows", True),
            ),
            _query(
                db_path,
                "SELECT reason, action, count(*) AS rows FROM ingest_report GROUP BY ALL ORDER BY ALL",
            ),
            ("reason", "action"),
        ),
    }


def extra_tables(db_path: Path) -> dict[str, ExtraTable]:
    """The tables as ``souverain.opendata.ExtraTable`` objects for ``export_run(..., extra_tables=…)``."""
    return tables(db_path)
