"""Writers of synthetic contracts in every published DECP form: the consolidated flat table (CSV, or
Parquet with the Table Schema's numeric types) and the nested 2019 and 2022 formats (JSON or XML)."""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from souverain.procurement.generator import Manifest, SynthContract

__all__ = ["FLAT_HEADER", "write_flat", "write_nested"]


FLAT_HEADER = (
    "uid",
    "id",
    "nature",
    "acheteur_id",
    "acheteur_nom",
    "titulaire_id",
    "titulaire_typeIdentifiant",
    "titulaire_nom",
    "objet",
    "montant",
    "type",
    "codeCPV",
    "procedure",
    "techniques",
    "dureeMois",
    "dateNotification",
    "datePublicationDonnees",
    "formePrix",
    "offresRecues",
    "acheteur_categorie",
    "acheteur_commune_code",
    "acheteur_departement_code",
    "acheteur_region_code",
    "modification_id",
    "donneesActuelles",
    "sourceDataset",
)


def _flat_rows(c: SynthContract) -> Iterator[list[Any]]:
    versions = [(c.amount, c.notified), *c.versions]
    for m, (amount, date) in enumerate(versions):
        for t, i, name in c.suppliers:
            yield [
                c.uid,
                c.id or "",
                "Marché",
                c.buyer_id,
                c.buyer_name,
                i,
                t,
                name,
                c.objet,
                amount,
                "Services",
                c.cpv,
                "Procédure adaptée",
                "",
                "12",
                date,
                c.published,
                "Forfaitaire",
                "3",
                c.buyer_category,
                *c.buyer_place,
                m,
                "true" if m == len(versions) - 1 else "false",
                "synthetic",
            ]


def write_flat(
    path: Path, source: Iterator[SynthContract], *, fmt: str = "csv", manifest: Manifest | None = None
) -> int:
    """Write the consolidated flat table (CSV, or Parquet with the Table Schema's numeric types)."""
    target = path if fmt == "csv" else Path(tempfile.mkdtemp()) / "flat.csv"
    rows = 0
    with target.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(FLAT_HEADER)
        for c in source:
            out = list(_flat_rows(c))
            if c.defect == "duplicate_row":
                out.append(out[-1])
            for row in out:
                if c.defect == "broken_row" and fmt == "csv":
                    fh.write(",".join(str(v).replace(",", " ") for v in row) + ",extra,fields\n")
                else:
                    w.writerow(row)
            rows += len(out)
    if fmt == "parquet":
        import duckdb

        con = duckdb.connect()
        casts = {
            "acheteur_id": "BIGINT",
            "montant": "DOUBLE",
            "dureeMois": "INTEGER",
            "dateNotification": "DATE",
            "datePublicationDonnees": "DATE",
            "offresRecues": "INTEGER",
            "modification_id": "INTEGER",
            "donneesActuelles": "BOOLEAN",
        }
        cols = ", ".join(
            f'TRY_CAST(nullif(trim("{h}"), \'\') AS {casts[h]}) AS "{h}"' if h in casts else f'"{h}"'
            for h in FLAT_HEADER
        )
        src = str(target).replace("'", "''")
        dst = str(path).replace("'", "''")
        con.execute(
            f"COPY (SELECT {cols} FROM read_csv('{src}', all_varchar = true, header = true)) "
            f"TO '{dst}' (FORMAT parquet, COMPRESSION zstd)"
        )
        con.close()
        target.unlink()
    if manifest is not None:
        manifest.rows += rows
    return rows


def _nested(c: SynthContract, variant: str) -> dict[str, Any]:
    def titulaire(t: str, i: str, name: str) -> dict[str, Any]:
        item = {"typeIdentifiant": t, "id": i}
        if variant == "2019":
            item["denominationSociale"] = name
            return item
        return {"titulaire": item}

    d: dict[str, Any] = {
        "id": c.id,
        "acheteur": {"id": c.buyer_id},
        "nature": "Marché",
        "objet": c.objet,
        "codeCPV": c.cpv,
        "procedure": "Procédure adaptée",
        "dureeMois": 12,
        "dateNotification": c.notified,
        "datePublicationDonnees": c.published,
        "montant": float(c.amount) if _is_number(c.amount) else c.amount,
        "titulaires": [titulaire(*s) for s in c.suppliers],
    }
    if c.id is None:
        del d["id"]
    if variant == "2019":
        d["acheteur"]["nom"] = c.buyer_name
        d["_type"] = "Marché"
        d["uid"] = c.uid
    mods = [
        {
            "id": n,
            "montant": float(a),
            "dateNotificationModification": date,
            "datePublicationDonneesModification": date,
        }
        for n, (a, date) in enumerate(c.versions, 1)
    ]
    if mods:
        d["modifications"] = mods if variant == "2019" else [{"modification": m} for m in mods]
    return d


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _xml(tag: str, value: Any, indent: str) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml(k, v, indent + "  ") for k, v in value.items() if not k.startswith("_"))
        return f"{indent}<{tag}>\n{inner}{indent}</{tag}>\n"
    if isinstance(value, list):
        return "".join(_xml(tag, v, indent) for v in value)
    return f"{indent}<{tag}>{escape(str(value))}</{tag}>\n"


def write_nested(
    path: Path,
    source: Iterator[SynthContract],
    *,
    fmt: str = "json",
    variant: str = "2022",
    manifest: Manifest | None = None,
) -> int:
    """Write the 2019 or 2022 format as JSON or XML."""
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        if fmt == "json":
            fh.write('{"marches": [\n' if variant == "2019" else '{"marches": {"marche": [\n')
        else:
            fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<marches>\n')
        for c in source:
            d = _nested(c, variant)
            if fmt == "json":
                fh.write(("," if count else "") + json.dumps(d, ensure_ascii=False) + "\n")
            else:
                if variant == "2022":
                    d["titulaires"] = {"titulaire": [t["titulaire"] for t in d["titulaires"]]}
                    if "modifications" in d:
                        d["modifications"] = {"modification": [m["modification"] for m in d["modifications"]]}
                else:
                    d["titulaires"] = {"titulaire": d["titulaires"]}
                    if "modifications" in d:
                        d["modifications"] = {"modification": d["modifications"]}
                fh.write(_xml("marche", d, "  "))
            count += 1
        fh.write(
            "]}\n" if fmt == "json" and variant == "2019" else "]}}\n" if fmt == "json" else "</marches>\n"
        )
    if manifest is not None:
        manifest.rows += count
    return count
