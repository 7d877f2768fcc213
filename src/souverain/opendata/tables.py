"""The tables of the open-data export: names, Table Schema fields (type and description), primary keys.

Column names are stable English identifiers; a change here is a change of the published format and goes in
docs/opendata.md (a test checks that every column is documented there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["BUILTIN", "ROLE_COLUMNS", "ExtraTable", "FieldType", "TableField", "TableSpec"]

FieldType = Literal["string", "integer", "number", "boolean", "date", "datetime"]
FIELD_TYPES: tuple[str, ...] = ("string", "integer", "number", "boolean", "date", "datetime")
TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
LIST_SEPARATOR = ";"
"""Lists inside one cell (roles, addresses, laws…) are joined with this character."""


@dataclass(frozen=True, slots=True)
class TableField:
    """One column: its Table Schema name, type and description; ``required`` columns are never null."""

    name: str
    type: FieldType
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    title: str
    description: str
    fields: tuple[TableField, ...]
    primary_key: tuple[str, ...]

    @property
    def indexed(self) -> tuple[str, ...]:
        """Columns indexed in the SQLite file (siren and domain, the usual ways in)."""
        return tuple(f.name for f in self.fields if f.name in ("siren", "domain"))


@dataclass(frozen=True, slots=True)
class ExtraTable:
    """A table another module adds to the export (the procurement pillar's shares, for instance).

    ``rows`` is iterated once; each row maps field names to values (a missing key is null). Rows are written
    sorted by ``primary_key`` when one is given, else in the order given, which must then be deterministic.
    """

    title: str
    description: str
    fields: Sequence[TableField]
    rows: Iterable[Mapping[str, Any]]
    primary_key: Sequence[str] = ()


def _f(name: str, type_: FieldType, description: str, required: bool = False) -> TableField:
    return TableField(name, type_, description, required)


ROLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("mailbox", "level_mailbox"),
    ("identity-suite", "level_identity_suite"),
    ("mail-gateway", "level_mail_gateway"),
    ("web-hosting", "level_web_hosting"),
    ("cdn", "level_cdn"),
    ("dns-hosting", "level_dns_hosting"),
    ("certificate-authority", "level_certificate_authority"),
    ("third-party", "level_third_party"),
)
"""Assessment role → organisations column holding the role's level."""

LEVELS = "qualified, european, exposed, extraterritorial or undetermined"

ORGANISATIONS = TableSpec(
    "organisations",
    "Organisations",
    "One row per public body of the run: identity and territory as described in the run's portfolio, and "
    "its assessment (score, coverage, levels per role, worst critical dependency, hygiene, finding counts).",
    (
        _f("siren", "string", "SIREN of the body (9 digits).", True),
        _f("name", "string", "Name of the body.", True),
        _f(
            "kind",
            "string",
            "Kind of body: commune, epci, departement, region, ministere, "
            "etablissement-public, hopital or other.",
            True,
        ),
        _f("commune", "string", "INSEE code of the commune (5 characters)."),
        _f("departement", "string", "Code of the département (2 or 3 characters, overseas included)."),
        _f("region", "string", "INSEE code of the région (2 digits)."),
        _f("domains", "integer", "Number of domains of the body in the run.", True),
        _f(
            "score",
            "number",
            "Sovereignty score 0–100 over the evaluated roles (docs/methodology.md); "
            "null when not assessed or when nothing could be evaluated.",
        ),
        _f("coverage", "number", "Share 0–1 of the score's weight that the evidence could evaluate."),
        _f(
            "provisional",
            "boolean",
            "True when coverage is below the policy's threshold: the score is provisional.",
        ),
        _f(
            "worst_level",
            "string",
            f"Level of the worst critical dependency ({LEVELS}); null when none is determined.",
        ),
        _f("worst_role", "string", "Role of the worst critical dependency (mailbox, web-hosting…)."),
        _f("worst_subject", "string", "Domain or address of the worst critical dependency."),
        _f("worst_operator", "string", "Knowledge-base id of the operator of the worst critical dependency."),
        *(
            _f(
                column,
                "string",
                f"Level of the role {role} ({LEVELS}, or none for third parties when the "
                "page loads none); null when the role does not apply.",
            )
            for role, column in ROLE_COLUMNS
        ),
        _f(
            "web_hygiene_score",
            "number",
            "Hygiene score 0–100 of the web checks over the body's domains "
            "(required checks; warn counts half).",
        ),
        _f("mail_hygiene_score", "number", "Hygiene score 0–100 of the mail checks over the body's domains."),
        _f("findings_fail", "integer", "Number of findings with status fail."),
        _f("findings_warn", "integer", "Number of findings with status warn."),
        _f("findings_unknown", "integer", "Number of findings with status unknown (evidence missing)."),
    ),
    ("siren",),
)

DOMAINS = TableSpec(
    "domains",
    "Domains",
    "One row per domain of a body (a domain shared by two bodies has two rows): the scan's status and key "
    "facts read from the evidence without interpretation, and the domain's hygiene scores.",
    (
        _f("siren", "string", "SIREN of the body that declares the domain.", True),
        _f("domain", "string", "Domain name (A-label, lower case).", True),
        _f("roles", "string", "Roles the body declares for the domain (mail, web), ';'-separated.", True),
        _f(
            "scan_status",
            "string",
            "Status of the domain's scan: ok, not-found, refused, timeout, error, "
            "skipped, bug, or pending when the run ended before it.",
        ),
        _f("scanned_at", "datetime", "When the domain's scan started (UTC)."),
        _f("scan_duration_ms", "number", "Duration of the domain's scan in milliseconds (0.1 ms)."),
        _f(
            "scanner_busy",
            "boolean",
            "The scanner was overloaded while it scanned this domain (its DNS questions queued, or its event "
            "loop ran late, 250 ms or more on average): a timeout or error may be the scanner's, not the "
            "domain's; null when not measured.",
        ),
        _f("probes", "string", "Status of each probe's evidence, 'probe:status' ';'-separated."),
        _f("dns_status", "string", "Status of the DNS evidence."),
        _f(
            "dnssec_validated",
            "boolean",
            "Authenticated Data flag of the validating resolver on the SOA "
            "answer (DNSSEC signed and valid); null when DNS did not answer.",
        ),
        _f("addresses", "string", "IPv4 and IPv6 addresses of the domain, ';'-separated."),
        _f("cname_chain", "string", "CNAME chain of the domain's address answer, ';'-separated."),
        _f("ns_hosts", "string", "Name servers, ';'-separated."),
        _f("mx_hosts", "string", "Mail exchangers by preference, ';'-separated."),
        _f("null_mx", "boolean", "True when the domain publishes a null MX (RFC 7505: receives no mail)."),
        _f("spf_status", "string", "Status of the SPF evidence."),
        _f("spf_all", "string", "Qualifier of the SPF record's 'all' term (-, ~, ?, +)."),
        _f("spf_dns_lookups", "integer", "DNS lookups counted over the whole SPF tree (limit 10)."),
        _f("dmarc_status", "string", "Status of the DMARC evidence."),
        _f("dmarc_policy", "string", "Effective DMARC policy: none, quarantine or reject."),
        _f("dkim_status", "string", "Status of the DKIM evidence (ok when a key was found)."),
        _f("dkim_selectors", "string", "DKIM selectors that answered among the common ones, ';'-separated."),
        _f("mta_sts_status", "string", "Status of the MTA-STS evidence."),
        _f("mta_sts_mode", "string", "Mode of the MTA-STS policy: enforce, testing or none."),
        _f("tls_rpt_status", "string", "Status of the SMTP TLS reporting (TLS-RPT) evidence."),
        _f("tls_status", "string", "Status of the TLS evidence of the web host."),
        _f("tls_version", "string", "TLS version negotiated with the web host."),
        _f("tls_versions_accepted", "string", "TLS versions the web host accepts, ';'-separated."),
        _f("tls_cipher", "string", "Cipher suite negotiated with the web host."),
        _f("tls_issuer", "string", "Organisation (else name) of the issuer of the web host's certificate."),
        _f(
            "tls_chain_valid",
            "boolean",
            "True when the certificate chain validates against the trust store (host name included).",
        ),
        _f("tls_hostname_match", "boolean", "True when the certificate covers the host name."),
        _f("http_status", "string", "Status of the HTTP evidence."),
        _f("final_url", "string", "URL reached after following redirects from http://."),
        _f("final_http_status", "integer", "HTTP status code of the final response."),
        _f("http_redirects_to_https", "boolean", "True when http:// redirects to https://."),
        _f(
            "hsts",
            "boolean",
            "True when the final response carries a valid Strict-Transport-Security header.",
        ),
        _f("hsts_max_age", "integer", "max-age of the HSTS header in seconds."),
        _f("page_status", "string", "Status of the evidence of the home page's resources."),
        _f("third_party_count", "integer", "Number of third-party hosts the home page loads resources from."),
        _f("third_party_hosts", "string", "Third-party hosts the home page loads, ';'-separated."),
        _f("web_hygiene_score", "number", "Hygiene score 0–100 of the domain's web checks."),
        _f("mail_hygiene_score", "number", "Hygiene score 0–100 of the domain's mail checks."),
    ),
    ("siren", "domain"),
)

DEPENDENCIES = TableSpec(
    "dependencies",
    "Dependencies",
    "One row per dependency of a body: who operates a role (mailbox, web hosting, DNS hosting, a third "
    "party in the home page…) for one of its domains or contact addresses, the infrastructure underneath, "
    "the laws that reach them through control, the confidence, the evidence signals and the assessed level.",
    (
        _f(
            "dependency_id",
            "integer",
            "Row number in the export's order (siren, domain, scope, role, "
            "subject); stable for a given run and attribution.",
            True,
        ),
        _f("siren", "string", "SIREN of the body.", True),
        _f(
            "domain",
            "string",
            "Domain the dependency was observed on; null for dependencies of the body "
            "itself (contact addresses at a shared mail provider).",
        ),
        _f(
            "scope",
            "string",
            "Where it was observed: dns, web, mail, tls, page (a resource of the home page) "
            "or contact (a contact address).",
            True,
        ),
        _f(
            "role",
            "string",
            "Role of the dependency: mailbox, mail-gateway, identity-suite, web-hosting, cdn, "
            "dns-hosting, certificate-authority, or the kind of third party (analytics, fonts, video…).",
            True,
        ),
        _f("subject", "string", "What depends: the domain, the third-party host or the address.", True),
        _f(
            "operator",
            "string",
            "Knowledge-base id of the operator, 'self' when the body runs it itself; null when undetermined.",
        ),
        _f("operator_name", "string", "Name (brand) of the operator."),
        _f("operator_country", "string", "Country (ISO 3166-1 alpha-2) of the operator's headquarters."),
        _f(
            "infrastructure",
            "string",
            "Knowledge-base id of the infrastructure underneath (the cloud a "
            "self-run server runs on, for instance).",
        ),
        _f("infrastructure_name", "string", "Name (brand) of the infrastructure."),
        _f("confidence", "string", "Confidence of the attribution: high, medium, low or none.", True),
        _f("level", "string", f"Assessed level ({LEVELS}); null when the run is not assessed."),
        _f("critical", "boolean", "True when the role is critical in the policy."),
        _f("laws", "string", "Ids of the laws with extraterritorial reach that apply, ';'-separated."),
        _f(
            "exposures",
            "string",
            "Each law with the control path that brings it: 'law via a>b (country, "
            "operator|infrastructure[, unverified])', ';'-separated.",
        ),
        _f("why", "string", "Why the level was given."),
        _f("signals", "string", "Evidence signals of the attribution, 'signal=value' ';'-separated."),
    ),
    ("dependency_id",),
)

FINDINGS = TableSpec(
    "findings",
    "Findings",
    "One row per finding of the assessment (sovereignty, strategic data, declared vs observed, hygiene), "
    "with the rule's texts in French and English.",
    (
        _f(
            "finding_id",
            "integer",
            "Row number in the export's order (siren, severity, rule, subject); "
            "stable for a given run and assessment.",
            True,
        ),
        _f("siren", "string", "SIREN of the body.", True),
        _f("rule", "string", "Id of the policy rule (docs/methodology.md).", True),
        _f(
            "family",
            "string",
            "Family of the rule: sovereignty, strategic-data, declared-vs-observed or hygiene.",
        ),
        _f("status", "string", "Outcome: fail, warn or unknown (evidence missing).", True),
        _f("severity", "string", "Severity: critical, high, medium, low or info.", True),
        _f("subject", "string", "What the finding is about: a domain, a host or a declared service.", True),
        _f("title_fr", "string", "Title of the rule in French."),
        _f("title_en", "string", "Title of the rule in English."),
        _f("text_fr", "string", "Explanation in French with the finding's facts."),
        _f("text_en", "string", "Explanation in English with the finding's facts."),
        _f(
            "evidence",
            "string",
            "References to the evidence or dependency behind the finding, ';'-separated.",
        ),
    ),
    ("finding_id",),
)

HYGIENE_CHECKS = TableSpec(
    "hygiene_checks",
    "Hygiene checks",
    "One row per security hygiene check of a domain of a body (TLS per the ANSSI baseline, DNSSEC, SPF, "
    "DKIM, DMARC, MTA-STS, HSTS, security headers, CAA…).",
    (
        _f("siren", "string", "SIREN of the body.", True),
        _f("domain", "string", "Domain checked.", True),
        _f("check", "string", "Id of the check's rule (WEB-HTTPS, DNS-DNSSEC, MAIL-DMARC…).", True),
        _f("category", "string", "Category: web, mail or dns."),
        _f("status", "string", "pass, fail, warn (passes a weaker form), not-applicable or unknown.", True),
        _f(
            "required", "boolean", "True when the check counts in the hygiene score (else recommended).", True
        ),
        _f("detail", "string", "What was observed."),
        _f("evidence", "string", "Reference to the evidence read (domain:probe.field)."),
    ),
    ("siren", "domain", "check"),
)

PROVIDERS = TableSpec(
    "providers",
    "Providers",
    "One row per operator or infrastructure entity of the knowledge base that the run's dependencies name: "
    "identity, ultimate controllers, the laws that reach it, and how many dependencies and bodies rely on "
    "it.",
    (
        _f("provider", "string", "Knowledge-base id of the entity.", True),
        _f("name", "string", "Name (brand) of the entity."),
        _f("legal_name", "string", "Legal name of the entity."),
        _f("kind", "string", "Kind of entity in the knowledge base."),
        _f("country", "string", "Country (ISO 3166-1 alpha-2) of the headquarters."),
        _f(
            "ultimate_controllers",
            "string",
            "Knowledge-base ids of the top of each control chain on the "
            "attribution's date (the entity itself when nobody controls it), ';'-separated.",
        ),
        _f(
            "ultimate_controller_countries", "string", "Countries of the ultimate controllers, ';'-separated."
        ),
        _f("laws", "string", "Ids of the laws with extraterritorial reach over the entity, ';'-separated."),
        _f("exposures", "string", "Each law with the control path that brings it, ';'-separated."),
        _f("verified", "boolean", "False when the identity facts of the entity come from a weak source."),
        _f(
            "lab_fictional",
            "boolean",
            "True for entities invented by the souverain lab (simulated internet).",
        ),
        _f("source", "string", "URL of the source of the entity's identity facts."),
        _f("checked", "date", "Date the identity facts were last checked."),
        _f("operator_of", "integer", "Number of dependencies the entity operates.", True),
        _f(
            "infrastructure_of",
            "integer",
            "Number of dependencies that run on the entity's infrastructure.",
            True,
        ),
        _f("organisations", "integer", "Number of bodies with at least one dependency on the entity.", True),
    ),
    ("provider",),
)

TRAJECTORIES = TableSpec(
    "trajectories",
    "Trajectories",
    "One row per programme indicator and scope (national, région, département): the measured share, its "
    "numerator and denominator, and the official target when one exists.",
    (
        _f("indicator", "string", "Id of the indicator (docs/methodology.md).", True),
        _f("title_fr", "string", "Title of the indicator in French."),
        _f("title_en", "string", "Title of the indicator in English."),
        _f("unit", "string", "share-of-bodies or share-of-domains."),
        _f("scope", "string", "national, region or departement.", True),
        _f("scope_code", "string", "FR for national, else the code of the région or département.", True),
        _f("value", "number", "Measured share 0–1; null when the population is empty."),
        _f("numerator", "integer", "Bodies or domains that meet the indicator.", True),
        _f("denominator", "integer", "Bodies or domains measured.", True),
        _f("target", "number", "Official target share 0–1 (national rows); null when no official target."),
        _f("gap", "number", "Target minus value (national rows with a target)."),
    ),
    ("indicator", "scope", "scope_code"),
)

RUN = TableSpec(
    "run",
    "Run",
    "One row: the run exported, its dates, and the versions of the knowledge base and methodology behind "
    "its dependencies and assessment.",
    (
        _f("run_id", "integer", "Id of the run in the souverain store.", True),
        _f("status", "string", "Status of the run: completed, interrupted or running.", True),
        _f("started_at", "datetime", "When the run started (UTC).", True),
        _f("finished_at", "datetime", "When the run completed (UTC)."),
        _f("portfolio", "string", "File name of the portfolio scanned."),
        _f("organisations", "integer", "Number of bodies in the run.", True),
        _f("domains", "integer", "Number of distinct domains in the run.", True),
        _f("domains_scanned", "integer", "Domains whose scan was recorded (not pending).", True),
        _f("scanned_with", "string", "souverain version that scanned."),
        _f("attribution_id", "integer", "Id of the attribution the dependencies come from."),
        _f("kb_version", "string", "Version (content digest) of the knowledge base of the attribution."),
        _f("attributed_at", "datetime", "When the attribution was computed (UTC)."),
        _f("as_of", "date", "Date the ownership chains and certifications were evaluated on."),
        _f(
            "networks", "string", "Network tables used by the attribution, 'name fetched-date' ';'-separated."
        ),
        _f("assessment_id", "integer", "Id of the assessment the scores and findings come from."),
        _f("methodology", "string", "Methodology (policy version + digest) of the assessment."),
        _f("assessed_at", "datetime", "When the assessment was computed (UTC)."),
        _f("mean_score", "number", "Mean score of the assessed bodies."),
        _f("median_score", "number", "Median score of the assessed bodies."),
        _f("provisional_scores", "integer", "Number of provisional scores."),
        _f("texts_from", "string", "Methodology whose French and English texts the findings carry."),
        _f("names_from", "string", "Knowledge-base version that named the operators and providers."),
        _f("exported_with", "string", "souverain version that wrote this export.", True),
    ),
    ("run_id",),
)

BUILTIN: tuple[TableSpec, ...] = (
    RUN,
    ORGANISATIONS,
    DOMAINS,
    DEPENDENCIES,
    FINDINGS,
    HYGIENE_CHECKS,
    PROVIDERS,
    TRAJECTORIES,
)
