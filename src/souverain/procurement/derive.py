"""From staged rows to the derived tables: clean (identifiers, dates, CPV, amounts), de-duplicate across
sources, place contracts in the digital perimeter, resolve suppliers (registration, KB, GLEIF), detect named
publishers and intermediaries, allocate each digital contract to blocs per view, and list every rejected,
corrected or flagged value in ``ingest_report``. Deterministic: same staged files, KB and rules → same
tables. Identifier, date and CPV rules run in Python on distinct values (one source of truth, tested
directly); everything row-wise runs in DuckDB."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import astuple, dataclass

import duckdb

from souverain.kb.load import KB
from souverain.procurement.identifiers import (
    FRENCH_TERRITORIES,
    classify_buyer,
    classify_supplier,
    parse_date,
)
from souverain.procurement.reference import Reference, parse_cpv, territories_csv
from souverain.procurement.resolve import GLEIF_PARENT_SQL, load_kb_tables
from souverain.procurement.sqlparts import (
    ALLOCATIONS_SQL,
    CONTRACTS_SQL,
    REPORT_RANKED_SQL,
    REPORT_SQL,
    SUPPLIERS_SQL,
    buyer_kind_sql,
    keyword_family_sql,
    sql_string,
)
from souverain.procurement.store import load_rows, set_meta

__all__ = ["REASONS", "DeriveSummary", "derive"]

REASONS = {
    "unreadable-row": "a row of a CSV file that cannot be parsed (wrong number of columns, bad quoting)",
    "missing-field": "no contract id, no buyer identifier, or not a contract object: the record is rejected",
    "malformed-buyer-id": "the buyer's SIRET is malformed (rejected), repaired (corrected) or fails its "
    "checksum (flagged)",
    "malformed-supplier-id": "a supplier identifier or its type is missing, misspelt, repaired or fails its "
    "checksum",
    "bad-date": "a notification date that is not a date, outside the plausible range, or repaired; a "
    "modification dated before its contract",
    "invalid-cpv": "a CPV code missing, malformed, repaired (check digit, leading zero) or absent from "
    "CPV 2008",
    "bad-amount": "an amount missing, unreadable or zero: counted, kept out of amount sums",
    "negative-amount": "a negative amount: counted, kept out of amount sums",
    "absurd-amount": "an amount above the ceiling, a placeholder (only nines) or an outlier of its CPV "
    "family: counted, kept out of amount sums",
    "duplicate": "the same contract (buyer, id, notification date) published again, in the same file or "
    "another: the copy is rejected",
}
"""Closed list of ingest-report reasons (docs/procurement.md § 1)."""


@dataclass(frozen=True, slots=True)
class DeriveSummary:
    staged_contracts: int
    contracts: int
    digital: int
    report: dict[str, int]


def _lookups(con: duckdb.DuckDBPyConnection, ref: Reference, today: dt.date) -> None:
    pol = ref.policy
    latest = today + dt.timedelta(days=pol.days_ahead)
    buyers = [r[0] for r in con.execute("SELECT DISTINCT coalesce(buyer_id, '') FROM staging").fetchall()]
    load_rows(
        con,
        "lk_buyer",
        (
            ("raw", "VARCHAR"),
            ("siret", "VARCHAR"),
            ("siren", "VARCHAR"),
            ("status", "VARCHAR"),
            ("detail", "VARCHAR"),
        ),
        ((raw, *astuple(classify_buyer(raw))) for raw in buyers),
        create=True,
    )
    pairs = con.execute(
        "SELECT DISTINCT coalesce(supplier_type, ''), coalesce(supplier_id, '') FROM staging"
    ).fetchall()
    load_rows(
        con,
        "lk_supplier",
        (
            ("type_raw", "VARCHAR"),
            ("id_raw", "VARCHAR"),
            ("key", "VARCHAR"),
            ("id_type", "VARCHAR"),
            ("value", "VARCHAR"),
            ("siren", "VARCHAR"),
            ("country", "VARCHAR"),
            ("valid", "BOOLEAN"),
            ("status", "VARCHAR"),
            ("detail", "VARCHAR"),
        ),
        ((t, i, *astuple(classify_supplier(t, i))) for t, i in pairs),
        create=True,
    )
    dates = con.execute(
        "SELECT DISTINCT coalesce(notified, '') FROM staging "
        "UNION SELECT DISTINCT coalesce(published, '') FROM staging"
    ).fetchall()
    load_rows(
        con,
        "lk_date",
        (("raw", "VARCHAR"), ("value", "DATE"), ("status", "VARCHAR"), ("detail", "VARCHAR")),
        ((raw, *astuple(parse_date(raw, earliest=pol.earliest, latest=latest))) for (raw,) in dates),
        create=True,
    )
    cpvs = [r[0] for r in con.execute("SELECT DISTINCT coalesce(cpv, '') FROM staging").fetchall()]

    def cpv_row(raw: str) -> tuple[str, str | None, str | None, str, str]:
        parsed = parse_cpv(raw, ref.cpv_codes)
        return raw, parsed.code, ref.cpv_family.get(parsed.code or ""), parsed.status, parsed.detail

    load_rows(
        con,
        "lk_cpv",
        (
            ("raw", "VARCHAR"),
            ("code", "VARCHAR"),
            ("family", "VARCHAR"),
            ("status", "VARCHAR"),
            ("detail", "VARCHAR"),
        ),
        (cpv_row(raw) for raw in cpvs),
        create=True,
    )


def _macros(con: duckdb.DuckDBPyConnection, ref: Reference) -> None:
    french = ", ".join(f"'{c}'" for c in sorted(FRENCH_TERRITORIES))
    area = ", ".join(f"'{c}'" for c in sorted(ref.policy.european_area))
    con.execute(f"""
        CREATE OR REPLACE TEMP MACRO bloc_of(c) AS CASE WHEN c IS NULL OR c = '' THEN 'unknown'
            WHEN c IN ({french}) THEN 'fr' WHEN c IN ({area}) THEN 'eu' ELSE 'non_eu' END;
        CREATE OR REPLACE TEMP MACRO fold(t) AS lower(strip_accents(replace(coalesce(t, ''), '’', '''')));
    """)


def _territories(con: duckdb.DuckDBPyConnection) -> None:
    path = str(territories_csv()).replace("'", "''")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE territories AS
        SELECT siren, kind, name, commune, departement, region, source FROM territories_imported
        UNION ALL
        SELECT siren, kind, name, nullif(commune, ''), nullif(departement, ''), nullif(region, ''), 'vendored'
        FROM read_csv('{path}', all_varchar = true, header = true)
        WHERE siren NOT IN (SELECT siren FROM territories_imported)
    """)


def _rows_and_instances(con: duckdb.DuckDBPyConnection) -> None:
    """``ranked``: one row per published contract with its cleaned contract-level values, why it is rejected
    (if it is) and its rank among copies of the same contract."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE ranked AS
        WITH inst AS (
            SELECT s.file_id, s.record_no, s.location, s.kind, s.source_key, trim(s.id) AS id, s.buyer_id,
                   s.buyer_name, s.buyer_category, s.buyer_commune, s.buyer_departement, s.buyer_region,
                       s.nature,
                   s.objet, fold(s.objet) AS objet_folded, s.cpv AS cpv_raw, s.procedure, s.techniques,
                       s.framework_id, s.amount AS amount_raw,
                   s.duration, s.notified AS notified_raw, s.n_suppliers, s.modifications,
                   b.siret AS buyer_siret, b.siren AS buyer_siren, b.status AS b_status, b.detail AS b_detail,
                   dn.value AS n_date, dn.status AS n_status, dn.detail AS n_detail,
                   dp.value AS p_date, dp.status AS p_status,
                   cp.code AS cpv, cp.family AS cpv_family, cp.status AS c_status, cp.detail AS c_detail,
                   src.sha256, coalesce(dn.value, dp.value) AS notified,
                   coalesce(b.siret, b.siren) AS buyer_key,
                   (s.buyer_name IS NOT NULL OR s.supplier_name IS NOT NULL) AS has_names,
                   CASE WHEN s.id IS NULL OR trim(s.id) = '' THEN 'missing-field'
                        WHEN b.status = 'bad' AND (s.buyer_id IS NULL OR trim(s.buyer_id) = '')
                            THEN 'missing-field'
                        WHEN b.status = 'bad' THEN 'malformed-buyer-id'
                        WHEN dn.value IS NULL AND dp.value IS NULL THEN 'bad-date' END AS reject_reason
            FROM staging s
            JOIN sources src USING (file_id)
            LEFT JOIN lk_buyer b ON b.raw = coalesce(s.buyer_id, '')
            LEFT JOIN lk_date dn ON dn.raw = coalesce(s.notified, '')
            LEFT JOIN lk_date dp ON dp.raw = coalesce(s.published, '')
            LEFT JOIN lk_cpv cp ON cp.raw = coalesce(s.cpv, '')
            WHERE s.supplier_pos = 1)
        SELECT *, row_number() OVER w AS rank,
               first_value(file_id) OVER w AS kept_file, first_value(location) OVER w AS kept_location
        FROM inst
        WINDOW w AS (PARTITION BY reject_reason IS NULL, buyer_key, upper(id), notified
                     ORDER BY modifications DESC, p_date DESC NULLS LAST, has_names DESC, sha256, record_no);
    """)


def _contracts(con: duckdb.DuckDBPyConnection, ref: Reference) -> None:
    pol = ref.policy
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lk_keyword AS
        SELECT objet_folded, {keyword_family_sql(ref)} AS family
        FROM (SELECT DISTINCT objet_folded FROM ranked
              WHERE rank = 1 AND reject_reason IS NULL AND cpv_family IS NULL)
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE t_base AS
        WITH k AS (
            SELECT i.*, t.kind AS t_kind, t.commune AS t_commune, t.departement AS t_departement,
                   t.region AS t_region, lu.legal_category AS buyer_legal_category,
                   try_cast(replace(regexp_replace(trim(i.amount_raw), '[\\s\u00a0\u202f]', '', 'g'),
                                    ',', '.')
                            AS DOUBLE) AS amount_value,
                   kw.family AS keyword_family
            FROM ranked i
            LEFT JOIN lk_keyword kw ON kw.objet_folded = i.objet_folded AND i.cpv_family IS NULL
            LEFT JOIN territories t ON t.siren = i.buyer_siren
            LEFT JOIN legal_units lu ON lu.siren = i.buyer_siren
            WHERE i.rank = 1 AND i.reject_reason IS NULL)
        SELECT buyer_key || '/' || id || '/' || strftime(notified, '%Y-%m-%d') AS contract_key,
               file_id, record_no, location, kind, source_key, id,
               buyer_siret, buyer_siren, buyer_name, {buyer_kind_sql()} AS buyer_kind,
               coalesce(t_commune, nullif(trim(buyer_commune), '')) AS buyer_commune,
               coalesce(t_departement, nullif(trim(buyer_departement), '')) AS buyer_departement,
               coalesce(t_region, nullif(trim(buyer_region), '')) AS buyer_region,
               CASE WHEN t_kind IS NOT NULL THEN 'table'
                    WHEN nullif(trim(buyer_departement), '') IS NOT NULL THEN 'data' END AS territory_source,
               nature, objet, cpv, cpv_family,
               coalesce(cpv_family, keyword_family) AS family,
               CASE WHEN cpv_family IS NOT NULL THEN 'cpv'
                    WHEN keyword_family IS NOT NULL THEN 'keyword' END AS perimeter_basis,
               procedure, techniques, framework_id,
               coalesce(fold(techniques) LIKE '%accord-cadre%' OR fold(nature) LIKE '%accord-cadre%', false)
                   AS framework,
               notified, year(notified) AS year, p_date AS published,
               try_cast(duration AS INTEGER) AS duration_months,
               CASE WHEN isfinite(amount_value) THEN amount_value END AS amount,
               CASE WHEN amount_value IS NULL OR amount_value = 0 OR NOT isfinite(amount_value)
                        THEN 'bad-amount'
                    WHEN amount_value < 0 THEN 'negative-amount'
                    WHEN amount_value > {pol.ceiling_eur!r} THEN 'absurd-amount'
                    WHEN amount_value >= {pol.placeholder_min_eur!r}
                         AND regexp_full_match(printf('%.0f', amount_value), '9+') THEN 'absurd-amount'
               END AS amount_flag,
               CASE WHEN amount_value IS NULL THEN CASE WHEN nullif(trim(amount_raw), '') IS NULL
                         THEN 'missing' ELSE 'not a number' END
                    WHEN NOT isfinite(amount_value) THEN 'not a number'  -- 'NaN', 'inf', '1e400' parse
                    WHEN amount_value = 0 THEN 'zero'
                    WHEN amount_value < 0 THEN 'below zero'
                    WHEN amount_value > {pol.ceiling_eur!r}
                        THEN 'above the ceiling of {pol.ceiling_eur:,.0f} EUR'
                    WHEN amount_value >= {pol.placeholder_min_eur!r}
                         AND regexp_full_match(printf('%.0f', amount_value), '9+')
                             THEN 'placeholder (only nines)'
               END AS amount_detail,
               amount_raw, n_suppliers, modifications, objet_folded
        FROM k
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE t_outliers AS
        WITH base AS (
            SELECT family, log10(amount) AS la FROM t_base
            WHERE family IS NOT NULL AND amount_flag IS NULL AND amount > 0),
        med AS (SELECT family, median(la) AS m, count(*) AS n FROM base GROUP BY family),
        mad AS (SELECT b.family, greatest(1.4826 * median(abs(b.la - med.m)), {pol.outlier_mad_floor!r}) AS s
                FROM base b JOIN med USING (family) GROUP BY b.family)
        SELECT c.contract_key,
               printf('outlier of its CPV family: %.1f robust deviations above the median (%.0f EUR)',
                      (log10(c.amount) - med.m) / mad.s, power(10, med.m)) AS detail
        FROM t_base c JOIN med USING (family) JOIN mad USING (family)
        WHERE c.amount_flag IS NULL AND c.amount >= {pol.outlier_min_amount_eur!r}
          AND med.n >= {pol.outlier_min_contracts} AND (log10(c.amount) - med.m) / mad.s > {pol.outlier_z!r}
    """)


def _publishers(con: duckdb.DuckDBPyConnection, ref: Reference) -> None:
    """Publishers named in the objet of digital contracts. One pass of the combined pattern over the distinct
    objets extracts the matching words; each distinct word is then given to the publisher whose own
    pattern matches it whole (in Python, with the same patterns)."""
    merged: dict[str, list[str]] = {}
    for p in ref.publishers:
        merged.setdefault(p.entity, []).append(p.pattern)
    patterns = {entity: re.compile("|".join(pats)) for entity, pats in sorted(merged.items())}
    combined = "|".join(f"(?:{'|'.join(pats)})" for pats in merged.values()) or "$^"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE objet_tokens AS
        SELECT DISTINCT objet_folded,
               unnest(regexp_extract_all(objet_folded, {sql_string(combined)})) AS token
        FROM (SELECT DISTINCT objet_folded FROM t_base WHERE family IS NOT NULL)
        WHERE regexp_matches(objet_folded, {sql_string(combined)})
    """)
    tokens = [r[0] for r in con.execute("SELECT DISTINCT token FROM objet_tokens").fetchall()]
    mapping = [(t, e) for t in tokens for e, rx in patterns.items() if rx.fullmatch(t)]
    load_rows(con, "lk_token", (("token", "VARCHAR"), ("entity", "VARCHAR")), mapping, create=True)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE t_contract_publishers AS
        SELECT m.contract_key, m.entity, t.parent, t.parent_country, t.parent_bloc, t.path, t.verified
        FROM (SELECT DISTINCT b.contract_key, b.notified, k.entity FROM t_base b
              JOIN objet_tokens o ON o.objet_folded = b.objet_folded
              JOIN lk_token k ON k.token = o.token
              WHERE b.family IS NOT NULL) m
        LEFT JOIN kb_timeline t ON t.entity = m.entity
             AND (t.valid_from IS NULL OR m.notified >= t.valid_from)
             AND (t.valid_to IS NULL OR m.notified < t.valid_to)
    """)


def _intermediaries(con: duckdb.DuckDBPyConnection, ref: Reference) -> None:
    rows = [(i.entity, i.kind) for i in ref.intermediaries]
    load_rows(con, "intermediaries", (("entity", "VARCHAR"), ("kind", "VARCHAR")), rows, create=True)
    parts = [
        f"SELECT name, {sql_string(i.entity)} AS entity, {sql_string(i.kind)} AS kind FROM names "
        f"WHERE regexp_matches(folded, {sql_string(i.pattern)})"
        for i in ref.intermediaries
    ]
    union = (
        " UNION ALL ".join(parts)
        if parts
        else "SELECT NULL AS name, NULL AS entity, NULL AS kind WHERE false"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE names AS
        SELECT name, fold(name) AS folded FROM (
            SELECT DISTINCT supplier_name AS name FROM staging WHERE supplier_name IS NOT NULL
            UNION SELECT DISTINCT buyer_name FROM t_base WHERE buyer_name IS NOT NULL);
        CREATE OR REPLACE TEMP TABLE intermediary_names AS
        SELECT name, min(entity) AS entity, min(kind) AS kind FROM ({union}) GROUP BY name;
    """)


_EXCLUDE = {
    "contract_suppliers": "EXCLUDE (file_id, record_no, location, source_key, supplier_type, "
    "supplier_id_raw, "
    "s_status, s_detail)"
}
"""Working columns not persisted (they feed the ingest report)."""


def derive(
    con: duckdb.DuckDBPyConnection,
    ref: Reference,
    kb: KB,
    *,
    today: dt.date | None = None,
    progress: Callable[[str], None] = lambda _stage: None,
) -> DeriveSummary:
    """Rebuild every derived table from the staged files. Work happens in temporary tables; the persistent
    tables are replaced at the end in one transaction (all or nothing)."""
    today = today or dt.date.today()
    _macros(con, ref)
    progress("identifiers, dates and CPV codes")
    _lookups(con, ref, today)
    load_kb_tables(con, kb, ref.policy.european_area)
    con.execute(GLEIF_PARENT_SQL)
    _territories(con)
    progress("cleaning and de-duplication")
    _rows_and_instances(con)
    _contracts(con, ref)
    con.execute(REPORT_RANKED_SQL)
    con.execute("DROP TABLE ranked")
    progress("suppliers, publishers and intermediaries")
    _intermediaries(con, ref)
    con.execute(SUPPLIERS_SQL)
    _publishers(con, ref)
    progress("writing the database")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE contracts AS {CONTRACTS_SQL}")
        con.execute(f"CREATE OR REPLACE TABLE allocations AS {ALLOCATIONS_SQL}")
        con.execute(f"CREATE OR REPLACE TABLE ingest_report AS {REPORT_SQL}")
        con.execute(
            "CREATE OR REPLACE TABLE entities AS SELECT entity, name, label, country FROM kb_entities"
        )
        for table in ("contract_suppliers", "suppliers", "contract_publishers"):
            con.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT * {_EXCLUDE.get(table, '')} FROM t_{table}"
            )
        set_meta(con, "kb_version", kb.version)
        set_meta(con, "reference_digest", ref.digest)
        set_meta(con, "policy_version", ref.policy.version)
        set_meta(con, "european_area", ref.policy.area_name)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    for table in (
        "t_base",
        "t_report_ranked",
        "t_contract_suppliers",
        "t_suppliers",
        "t_contract_publishers",
        "sup",
        "ranked",
        "objet_tokens",
        "lk_keyword",
    ):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    staged = int((con.execute("SELECT count(*) FROM staging WHERE supplier_pos = 1").fetchone() or (0,))[0])
    n, digital = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE digital) FROM contracts"
    ).fetchone() or (0, 0)
    report = dict(
        con.execute("SELECT reason, count(*) FROM ingest_report GROUP BY reason ORDER BY reason").fetchall()
    )
    return DeriveSummary(staged, int(n), int(digital), {str(k): int(v) for k, v in report.items()})
