"""SQL of the derivation that does not depend on Python values (suppliers, allocations, ingest report),
and the small builders for rule-driven CASE expressions. ``CONTRACTS_SQL``, ``ALLOCATIONS_SQL`` and
``REPORT_SQL`` are queries: the final transaction creates the persistent tables from them directly.
Tables and columns: docs/procurement.md § 6."""

from __future__ import annotations

from souverain.procurement.reference import Reference

__all__ = [
    "ALLOCATIONS_SQL",
    "CONTRACTS_SQL",
    "REPORT_RANKED_SQL",
    "REPORT_SQL",
    "SUPPLIERS_SQL",
    "buyer_kind_sql",
    "keyword_family_sql",
    "sql_string",
]


def sql_string(text: str) -> str:
    """A SQL string literal (backslashes are literal in DuckDB strings)."""
    return "'" + text.replace("'", "''") + "'"


def keyword_family_sql(ref: Reference) -> str:
    """Family of the first keyword rule matching ``objet_folded`` (NULL when none, or when excluded)."""
    if not ref.keyword_rules:
        return "CAST(NULL AS VARCHAR)"
    whens = []
    if ref.keyword_exclude:
        whens.append(f"WHEN regexp_matches(objet_folded, {sql_string(ref.keyword_exclude)}) THEN NULL")
    whens += [
        f"WHEN regexp_matches(objet_folded, {sql_string(p)}) THEN {sql_string(f)}"
        for f, p in ref.keyword_rules
    ]
    return "(CASE " + " ".join(whens) + " END)"


def buyer_kind_sql() -> str:
    """Kind of buyer: the territories table first, then the consolidated table's category, then the legal
    category (SIRENE) when imported."""
    return """(CASE
        WHEN t_kind = 'commune' THEN 'commune'
        WHEN t_kind LIKE 'epci%' OR t_kind IN ('ept', 'metropole-lyon') THEN 'epci'
        WHEN t_kind IN ('departement', 'collectivite-europeenne-alsace') THEN 'departement'
        WHEN t_kind IN ('region', 'collectivite-unique') THEN 'region'
        WHEN fold(buyer_category) = 'commune' THEN 'commune'
        WHEN fold(buyer_category) = 'groupement de communes' THEN 'epci'
        WHEN fold(buyer_category) LIKE 'departement%' THEN 'departement'
        WHEN fold(buyer_category) = 'region' THEN 'region'
        WHEN fold(buyer_category) = 'etat' THEN 'etat'
        WHEN fold(buyer_category) LIKE 'etablissement hospitalier%' THEN 'hopital'
        WHEN fold(buyer_category) = 'epic' THEN 'epic'
        WHEN fold(buyer_category) = 'syndicat mixte' THEN 'syndicat-mixte'
        WHEN buyer_legal_category = '7210' THEN 'commune'
        WHEN buyer_legal_category IN ('7342', '7343', '7344', '7346', '7347', '7348') THEN 'epci'
        WHEN buyer_legal_category = '7220' THEN 'departement'
        WHEN buyer_legal_category = '7230' THEN 'region'
        WHEN buyer_legal_category IN ('7354', '7355') THEN 'syndicat-mixte'
        WHEN buyer_legal_category IN ('7364', '7365') THEN 'hopital'
        WHEN buyer_legal_category LIKE '71%' THEN 'etat'
        WHEN buyer_legal_category LIKE '41%' THEN 'epic'
        WHEN nullif(trim(buyer_category), '') IS NOT NULL OR buyer_legal_category IS NOT NULL THEN 'other'
        ELSE 'unknown' END)"""


SUPPLIERS_SQL = """
CREATE OR REPLACE TEMP TABLE t_contract_suppliers AS
WITH w AS (
    SELECT c.contract_key, c.notified, s.file_id, s.record_no, s.location, s.source_key, s.supplier_pos,
           s.n_suppliers, s.supplier_type, s.supplier_id AS supplier_id_raw, s.supplier_name,
           su.key AS supplier_key, su.id_type, su.value AS supplier_value, su.siren AS supplier_siren,
           su.country AS supplier_country, su.valid AS supplier_valid, su.status AS s_status,
               su.detail AS s_detail
    FROM t_base c
    JOIN staging s ON s.file_id = c.file_id AND s.record_no = c.record_no
    LEFT JOIN lk_supplier su ON su.type_raw = coalesce(s.supplier_type, '')
        AND su.id_raw = coalesce(s.supplier_id, '')),
x AS (
    SELECT w.*, ks.entity AS kb_entity, ks.verified AS kb_siren_verified,
           coalesce(ks.legal_category, lu.legal_category) AS legal_category,
           t.parent AS kb_parent, t.parent_country AS kb_parent_country, t.parent_bloc AS kb_parent_bloc,
           t.path AS kb_path, t.verified AS kb_path_verified,
           g.parent_lei, g.parent_name AS gleif_parent_name, g.parent_country AS gleif_parent_country,
           coalesce(im.entity, imn.entity) AS intermediary, coalesce(im.kind, imn.kind) AS intermediary_kind
    FROM w
    LEFT JOIN kb_sirens ks ON ks.siren = w.supplier_siren
    LEFT JOIN legal_units lu ON lu.siren = w.supplier_siren
    LEFT JOIN kb_timeline t ON t.entity = ks.entity
         AND (t.valid_from IS NULL OR w.notified >= t.valid_from)
             AND (t.valid_to IS NULL OR w.notified < t.valid_to)
    LEFT JOIN gleif_parent g ON g.siren = w.supplier_siren
    LEFT JOIN intermediaries im ON im.entity = ks.entity
    LEFT JOIN intermediary_names imn ON imn.name = w.supplier_name)
SELECT contract_key, file_id, record_no, location, source_key, supplier_type, supplier_id_raw, s_status,
    s_detail,
       supplier_pos AS pos, 1.0 / n_suppliers AS share, supplier_key, id_type,
       supplier_value AS supplier_id, supplier_siren AS siren, supplier_name AS name,
       supplier_valid AS identifier_valid, supplier_country AS registration_country,
       CASE id_type WHEN 'hors-ue' THEN 'non_eu' WHEN 'ue' THEN 'eu' WHEN 'irep' THEN 'fr'
                    ELSE bloc_of(supplier_country) END AS registration_bloc,
       legal_category,
       coalesce(legal_category LIKE '31%' OR legal_category LIKE '32%', false) AS foreign_company,
       kb_entity,
       CASE WHEN kb_parent IS NOT NULL THEN 'kb' WHEN gleif_parent_country IS NOT NULL THEN 'gleif'
            WHEN foreign_company THEN 'foreign-registration' ELSE 'registration' END AS parent_source,
       coalesce(kb_parent, gleif_parent_name, parent_lei) AS parent,
       CASE parent_source WHEN 'kb' THEN kb_parent_country WHEN 'gleif' THEN gleif_parent_country
                          WHEN 'registration' THEN supplier_country END AS parent_country,
       CASE parent_source WHEN 'kb' THEN kb_parent_bloc WHEN 'gleif' THEN bloc_of(gleif_parent_country)
                          WHEN 'foreign-registration' THEN 'unknown'
                              ELSE registration_bloc END AS parent_bloc,
       CASE parent_source WHEN 'kb' THEN kb_path
                          WHEN 'gleif' THEN 'GLEIF ' || coalesce(parent_lei, '') END AS parent_path,
       CASE WHEN parent_source = 'kb' THEN kb_siren_verified AND kb_path_verified END AS parent_verified,
       intermediary, intermediary_kind
FROM x;

CREATE OR REPLACE TEMP TABLE t_suppliers AS
SELECT cs.supplier_key, min(cs.id_type) AS id_type, min(cs.supplier_id) AS supplier_id,
    min(cs.siren) AS siren,
       min(cs.name) AS name, bool_and(cs.identifier_valid) AS identifier_valid,
       min(cs.registration_country) AS registration_country, min(cs.registration_bloc) AS registration_bloc,
       min(cs.legal_category) AS legal_category, bool_or(cs.foreign_company) AS foreign_company,
       min(cs.kb_entity) AS kb_entity, arg_max(cs.parent, c.notified) AS latest_parent,
       arg_max(cs.parent_bloc, c.notified) AS latest_parent_bloc, arg_max(cs.parent_source,
           c.notified) AS parent_source,
       min(cs.intermediary) AS intermediary, min(cs.intermediary_kind) AS intermediary_kind,
       count(*) AS contracts, count(*) FILTER (WHERE c.family IS NOT NULL) AS digital_contracts
FROM t_contract_suppliers cs JOIN t_base c USING (contract_key)
GROUP BY cs.supplier_key;
"""

CONTRACTS_SQL = """
WITH flags AS (
    SELECT contract_key, bool_or(intermediary_kind = 'reseller') AS reseller,
           bool_or(intermediary_kind = 'central-purchasing') AS central
    FROM t_contract_suppliers GROUP BY contract_key),
pubs AS (
    SELECT contract_key, string_agg(entity, ';' ORDER BY entity) AS names FROM t_contract_publishers
    GROUP BY contract_key),
central_buyers AS (
    SELECT s.siren FROM kb_sirens s JOIN intermediaries i ON i.entity = s.entity
        WHERE i.kind = 'central-purchasing')
SELECT b.* EXCLUDE (amount_flag, amount_detail, objet_folded),
       CASE WHEN o.contract_key IS NOT NULL THEN 'absurd-amount' ELSE b.amount_flag END AS amount_flag,
       coalesce(o.detail, b.amount_detail) AS amount_detail,
       b.amount_flag IS NULL AND o.contract_key IS NULL AS amount_in_sums,
       b.family IS NOT NULL AS digital,
       coalesce(f.reseller, false) AS via_reseller,
       coalesce(f.central, false) OR b.buyer_siren IN (SELECT siren FROM central_buyers)
           OR b.buyer_name IN (SELECT name FROM intermediary_names WHERE kind = 'central-purchasing')
           AS central_purchasing,
       p.names AS publishers
FROM t_base b
LEFT JOIN t_outliers o USING (contract_key)
LEFT JOIN flags f USING (contract_key)
LEFT JOIN pubs p USING (contract_key)
"""

ALLOCATIONS_SQL = """
WITH digital_suppliers AS (
    SELECT cs.* FROM t_contract_suppliers cs JOIN contracts c USING (contract_key) WHERE c.digital)
SELECT contract_key, 'registration' AS view, registration_bloc AS bloc, share AS weight,
       'supplier' AS basis, supplier_key AS subject
FROM digital_suppliers
UNION ALL
SELECT contract_key, 'parent', parent_bloc, share, 'supplier', coalesce(parent, supplier_key)
    FROM digital_suppliers
UNION ALL
SELECT contract_key, 'publisher', coalesce(parent_bloc, 'unknown'),
    1.0 / count(*) OVER (PARTITION BY contract_key),
       'publisher', entity
FROM t_contract_publishers
UNION ALL
SELECT contract_key, 'publisher', parent_bloc, share, 'supplier', coalesce(parent, supplier_key)
FROM digital_suppliers WHERE contract_key NOT IN (SELECT contract_key FROM t_contract_publishers)
"""

REPORT_RANKED_SQL = """
CREATE OR REPLACE TEMP TABLE t_report_ranked AS
SELECT file_id, record_no, location, source_key, reject_reason AS reason, 'rejected' AS action,
       CASE WHEN reject_reason = 'bad-date' THEN 'dateNotification'
            WHEN id IS NULL OR id = '' THEN 'id' ELSE 'acheteur.id' END AS field,
       CASE WHEN reject_reason = 'bad-date' THEN notified_raw ELSE buyer_id END AS value,
       CASE WHEN reject_reason = 'bad-date'
            THEN 'no usable notification or publication date (' || coalesce(n_detail, '') || ')'
            WHEN id IS NULL OR id = '' THEN 'no contract id'
            WHEN reject_reason = 'missing-field' THEN 'no buyer identifier'
            ELSE b_detail END AS detail
FROM ranked WHERE reject_reason IS NOT NULL
UNION ALL
SELECT r.file_id, r.record_no, r.location, r.source_key, 'duplicate', 'rejected', 'contract', r.id,
       'duplicate of ' || s.path || ' ' || r.kept_location
FROM ranked r JOIN sources s ON s.file_id = r.kept_file WHERE r.rank > 1 AND r.reject_reason IS NULL
UNION ALL
SELECT file_id, record_no, location, source_key, 'malformed-buyer-id', b_status, 'acheteur.id',
    buyer_id, b_detail
FROM ranked WHERE rank = 1 AND reject_reason IS NULL AND b_status IN ('corrected', 'flagged')
UNION ALL
SELECT file_id, record_no, location, source_key, 'bad-date', 'corrected', 'dateNotification', notified_raw,
       CASE WHEN n_date IS NULL THEN 'replaced by the publication date ' || strftime(p_date, '%Y-%m-%d')
                                     || ' (' || coalesce(n_detail, '') || ')'
            ELSE n_detail END
FROM ranked WHERE rank = 1 AND reject_reason IS NULL AND (n_date IS NULL OR n_status = 'corrected')
UNION ALL
SELECT file_id, record_no, location, source_key, 'invalid-cpv',
       CASE c_status WHEN 'corrected' THEN 'corrected' ELSE 'flagged' END, 'codeCPV', cpv_raw, c_detail
FROM ranked WHERE rank = 1 AND reject_reason IS NULL AND c_status <> 'ok'
"""

REPORT_SQL = """
WITH rep AS (
    SELECT file_id, record_no, location, source_key, reason, action, field, value, detail FROM staging_report
    UNION ALL
    SELECT * FROM t_report_ranked
    UNION ALL
    SELECT file_id, record_no, location, source_key, amount_flag, 'flagged', 'montant', amount_raw,
           amount_detail || '; kept out of amount sums'
    FROM contracts WHERE amount_flag IS NOT NULL
    UNION ALL
    SELECT file_id, record_no, location, source_key, 'malformed-supplier-id',
           CASE s_status WHEN 'corrected' THEN 'corrected' ELSE 'flagged' END,
           'titulaires[' || pos || ']', trim(coalesce(supplier_type, '') || ' '
               || coalesce(supplier_id_raw, '')),
           s_detail
    FROM t_contract_suppliers WHERE s_status <> 'ok')
SELECT s.path AS file, rep.location, rep.source_key AS contract, rep.reason, rep.action, rep.field, rep.value,
       rep.detail, rep.file_id, rep.record_no
FROM rep JOIN sources s USING (file_id)
"""
