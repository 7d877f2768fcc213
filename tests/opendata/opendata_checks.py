"""Helpers of the open-data tests: a small real store (recorded evidence, attributed and assessed with the
shipped KB and policy), and the checks every export must pass (Data Package shape, three formats with the
same content)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from souverain.assessment.run import assess_run
from souverain.attribution.run import attribute_run
from souverain.evidence import Evidence, Status
from souverain.kb.load import KB
from souverain.kb.netdata import NetworkData
from souverain.opendata import ExportResult
from souverain.policy.load import load_policy
from souverain.portfolio import DeclaredService, Domain, Organisation, Territory
from souverain.store import Store

ON = dt.date(2026, 11, 24)


@dataclass
class Exported:
    """A store, its run and the export of the run."""

    store: Store
    db: Path
    run_id: int
    out: Path
    result: ExportResult
    kb: KB


TRICKY = 'Commune de "Saint-Éloi", Lès-Bains\nligne 2 ; = 漢字'
ORGS = (
    Organisation(
        "213700016",
        TRICKY,
        "commune",
        Territory("37001", "37", "24"),
        (Domain("a.fr", frozenset({"web", "mail"})), Domain("shared.fr", frozenset({"web"}))),
        ("mairie.a@wanadoo.fr",),
        (DeclaredService("Messagerie", ("personnelles",), "Microsoft 365", "mailbox", "a.fr"),),
    ),
    Organisation(
        "223700014",
        "Département d'Indre-et-Loire",
        "departement",
        Territory(None, "37", "24"),
        (Domain("b.fr", frozenset({"web", "mail"})), Domain("shared.fr", frozenset({"mail", "web"}))),
    ),
    Organisation(
        "200000172",
        "Syndicat sans domaine scanné",
        "epci",
        Territory(None, "971", "01"),
        (Domain("c.fr", frozenset({"web"})),),
    ),
)


def _answer(rrs: list[str], ad: bool = False) -> dict[str, Any]:
    return {"status": "ok", "rcode": "NOERROR", "ad": ad, "rrs": rrs, "ttl": 300}


def _dns(domain: str, mx: str | None, ad: bool) -> Evidence:
    queries = {
        "A": _answer(["127.16.0.1"], ad),
        "AAAA": _answer(["::1"], ad),
        "SOA": _answer([f"ns1.gandi.net. hostmaster.{domain}. 1 2 3 4 5"], ad),
        "NS": _answer(["ns1.gandi.net.", "ns2.gandi.net."], ad),
        "MX": _answer([f"10 {mx}."] if mx else [], ad),
        "CAA": _answer(['0 issue "letsencrypt.org"'], ad),
    }
    return Evidence(
        "dns",
        domain,
        Status.OK,
        {
            "domain": domain,
            "queries": queries,
            "mx_hosts": [{"host": mx, "addresses": ["127.40.0.1"]}] if mx else [],
            "null_mx": False,
            "ns_hosts": [
                {"host": "ns1.gandi.net", "addresses": ["127.41.0.1"]},
                {"host": "ns2.gandi.net", "addresses": ["127.41.0.2"]},
            ],
            "ad": {"A": ad, "SOA": ad},
        },
    )


def _web(domain: str) -> list[Evidence]:
    endpoint = {
        "ip": "127.16.0.1",
        "port": 443,
        "status": "ok",
        "version": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "chain": [
            {
                "subject": f"CN={domain}",
                "issuer": "CN=R3,O=Let's Encrypt,C=US",
                "issuer_org": "Let's Encrypt",
                "key_type": "EC-secp256r1",
                "key_size": 256,
                "sans": [domain],
                "self_issued": False,
            }
        ],
        "hostname_match": True,
        "chain_valid": True,
        "validation_error": None,
        "versions": {"accepted": {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}},
    }
    http = {
        "host": domain,
        "final_url": f"https://{domain}/",
        "final_status": 200,
        "https": True,
        "http_redirects_to_https": True,
        "https_same_host": True,
        "headers": {
            "hsts": {"raw": "max-age=31536000", "max_age": 31536000, "valid": True},
            "security": {"x-frame-options": "DENY"},
            "x_content_type_options_nosniff": True,
        },
    }
    page = {
        "url": f"https://{domain}/",
        "title": 'Accueil "mairie", <b>',
        "parsed": True,
        "third_party": {
            "www.googletagmanager.com": {
                "registrable_domain": "googletagmanager.com",
                "kinds": ["script"],
                "count": 1,
            }
        },
    }
    return [
        Evidence("tls", domain, Status.OK, {"host": domain, "endpoints": [endpoint]}),
        Evidence("http", domain, Status.OK, http),
        Evidence("page", domain, Status.OK, page),
    ]


def _mail(domain: str) -> list[Evidence]:
    record = {
        "raw": "v=DMARC1; p=reject",
        "p": "reject",
        "effective_policy": "reject",
        "valid": True,
        "pct": 100,
    }
    return [
        Evidence(
            "spf",
            domain,
            Status.OK,
            {
                "record": "v=spf1 include:spf.protection.outlook.com -all",
                "all": "-",
                "dns_lookups": 2,
                "void_lookups": 0,
            },
        ),
        Evidence("dmarc", domain, Status.OK, {"found_at": f"_dmarc.{domain}", "record": record}),
        Evidence("dkim", domain, Status.NOT_FOUND, {"selectors": [{"selector": "s1", "status": "error"}]}),
        Evidence("mta-sts", domain, Status.NOT_FOUND, {}),
        Evidence("tls-rpt", domain, Status.NOT_FOUND, {}),
    ]


def make_store(
    path: Path, kb: KB | None, *, attribute: bool = True, assess: bool = True
) -> tuple[Store, int]:
    """A run of three bodies: a.fr (Microsoft mail, DNSSEC), shared.fr (two bodies), b.fr (DNS timeout), and
    c.fr never scanned (the run is interrupted)."""
    store = Store(path)
    run_id = store.create_run("/somewhere/portfolio.yaml", list(ORGS), {})
    targets = {t.domain: t for t in store.targets(run_id)}
    recorded = {
        "a.fr": [_dns("a.fr", "a-fr.mail.protection.outlook.com", True), *_web("a.fr"), *_mail("a.fr")],
        "shared.fr": [_dns("shared.fr", None, False), *_web("shared.fr"), *_mail("shared.fr")],
        "b.fr": [Evidence("dns", "b.fr", Status.TIMEOUT, error="resolver timeout")],
    }
    load = {"a.fr": (21.0, 0.0), "b.fr": (90.0, 2400.0)}  # scanner load; shared.fr's not measured
    store.record_targets(
        [
            (run_id, targets[d].id, str(items[0].status), 1_795_488_000.0 + i, 120.25, items, *load[d])
            if d in load
            else (run_id, targets[d].id, str(items[0].status), 1_795_488_000.0 + i, 120.25, items)
            for i, (d, items) in enumerate(recorded.items())
        ]
    )
    store.set_run_status(run_id, "interrupted")
    if attribute:
        assert kb is not None
        attribute_run(store, run_id, kb, NetworkData(), on=ON)
        if assess:
            assess_run(store, run_id, kb, NetworkData(), load_policy(), on=ON)
    return store, run_id


# -- checks ------------------------------------------------------------------------------------------------
NAME = re.compile(r"^([-a-z0-9._/])+$")
PATH = re.compile(r"^(?=^[^./~])(^((?!\.{2}).)*$).*$")
TYPES = {
    "string",
    "number",
    "integer",
    "boolean",
    "object",
    "array",
    "date",
    "time",
    "datetime",
    "year",
    "yearmonth",
    "duration",
    "geopoint",
    "geojson",
    "any",
}
LICENSE = {
    "name": "etalab-2.0",
    "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    "title": "Licence Ouverte / Open Licence 2.0",
}


def _typed_csv(value: str, kind: str) -> Any:
    if value == "":
        return None
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        assert value in ("true", "false"), value
        return value == "true"
    return value


def _typed_parquet(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no BOM"
    text = raw.decode("utf-8")
    assert text.endswith("\r\n"), "RFC 4180 records end with CRLF"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def check_export(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Validate an export folder; return each table's rows (typed, from the CSV file)."""
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert package["licenses"] == [LICENSE]
    assert NAME.match(package["name"]) and package["title"] and package["description"]
    assert package["sources"] and all(s["title"] for s in package["sources"])
    names = [r["name"] for r in package["resources"]]
    assert len(names) == len(set(names)) and all(NAME.match(n) for n in names)
    by_table: dict[str, dict[str, dict[str, Any]]] = {}
    for res in package["resources"]:
        assert PATH.match(res["path"]) and "\\" not in res["path"], res["path"]
        file = out / res["path"]
        assert file.is_file(), res["path"]
        content = file.read_bytes()
        assert res["bytes"] == len(content)
        assert res["hash"] == "sha256:" + hashlib.sha256(content).hexdigest()
        assert re.match(r"^(.+)/(.+)$", res["mediatype"])
        schema = res["schema"]
        fields = [f["name"] for f in schema["fields"]]
        assert len(fields) == len(set(fields))
        assert all(f["type"] in TYPES and f["description"].strip() for f in schema["fields"])
        assert set(schema.get("primaryKey", [])) <= set(fields)
        table = res["dialect"]["table"] if res["format"] == "sqlite" else Path(res["path"]).stem
        by_table.setdefault(table, {})[res["format"]] = res
    tables: dict[str, list[dict[str, Any]]] = {}
    db = sqlite3.connect(out / next(iter(by_table.values()))["sqlite"]["path"])
    con = duckdb.connect()
    try:
        for table, formats in by_table.items():
            assert set(formats) == {"csv", "parquet", "sqlite"}, table
            schemas = {json.dumps(r["schema"], sort_keys=True) for r in formats.values()}
            assert len(schemas) == 1, f"{table}: the three formats share one schema"
            fields = formats["csv"]["schema"]["fields"]
            names = [f["name"] for f in fields]
            header, csv_rows = read_csv(out / formats["csv"]["path"])
            assert header == names, table
            info = db.execute(f'PRAGMA table_info("{table}")').fetchall()
            assert [c[1] for c in info] == names, table
            pk = [c[1] for c in sorted((c for c in info if c[5]), key=lambda c: c[5])]
            assert pk == formats["csv"]["schema"].get("primaryKey", []), table
            pq = con.execute(f"SELECT * FROM read_parquet('{out / formats['parquet']['path']}')")
            assert [d[0] for d in pq.description] == names, table
            from_csv = [
                tuple(_typed_csv(v, f["type"]) for v, f in zip(row, fields, strict=True)) for row in csv_rows
            ]
            from_parquet = [tuple(_typed_parquet(v) for v in row) for row in pq.fetchall()]
            from_sqlite = [
                tuple(
                    bool(v) if f["type"] == "boolean" and v is not None else v
                    for v, f in zip(row, fields, strict=True)
                )
                for row in db.execute(f'SELECT * FROM "{table}" ORDER BY rowid')
            ]
            assert from_csv == from_parquet, f"{table}: CSV and Parquet differ"
            assert from_csv == from_sqlite, f"{table}: CSV and SQLite differ"
            for f in fields:
                if (f.get("constraints") or {}).get("required"):
                    assert all(r[names.index(f["name"])] is not None for r in from_csv), (table, f["name"])
            tables[table] = [dict(zip(names, row, strict=True)) for row in from_csv]
    finally:
        db.close()
        con.close()
    metadata = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["license_url"] == LICENSE["path"] and metadata["license"] == LICENSE["title"]
    (database,) = metadata["databases"]
    assert (out / f"{database}.sqlite").is_file()
    for table, formats in by_table.items():
        described = metadata["databases"][database]["tables"][table]
        assert described["description"] and set(described["columns"]) == {
            f["name"] for f in formats["csv"]["schema"]["fields"]
        }
    return tables


def file_hashes(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def by(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows indexed by the values of ``keys``."""
    return {tuple(r[k] for k in keys): r for r in rows}
