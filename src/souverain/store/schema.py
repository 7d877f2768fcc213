"""Tables of the store (SQLAlchemy Core). Changes go through an alembic migration in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

metadata = MetaData()

organisations = Table(
    "organisations",
    metadata,
    Column("siren", String(9), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("commune", String(5)),
    Column("departement", String(3)),
    Column("region", String(2)),
    Column("data", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False),  # running | interrupted | completed
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("portfolio", Text, nullable=False),
    Column("config", Text, nullable=False),
    Column("souverain_version", String(32), nullable=False),
)

run_organisations = Table(
    "run_organisations",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("siren", String(9), primary_key=True),
    Column("data", Text, nullable=False),
)

targets = Table(
    "targets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("roles", String(32), nullable=False),
    Column("sirens", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending until recorded, then a Status value
    Column("started_at", Float),
    Column("duration_ms", Float),
    # how much the scanning process delayed its own work meanwhile (store.rows.TargetRow); null: not measured
    Column("loop_lag_ms", Float),
    Column("dns_queue_ms", Float),
    UniqueConstraint("run_id", "domain", name="uq_targets_run_domain"),
)
Index("ix_targets_run_status", targets.c.run_id, targets.c.status)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("target_id", Integer, ForeignKey("targets.id"), nullable=False),
    Column("probe", String(32), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("status", String(16), nullable=False),
    Column("probe_version", String(16), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("error", Text),
    Column("payload", Text, nullable=False),
    Column("essentials", Text),  # JSON: what the assessment reads of the payload (hygiene probes only)
)
Index("ix_evidence_target", evidence.c.target_id)
Index("ix_evidence_run_probe", evidence.c.run_id, evidence.c.probe)

attributions = Table(
    "attributions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("kb_version", String(32), nullable=False),
    Column("networks", Text, nullable=False),  # JSON: the network tables used (name, url, fetched, rows)
    Column("as_of", String(10), nullable=False),  # date the ownership chains were evaluated on
    Column("created_at", Float, nullable=False),
    Column("souverain_version", String(32), nullable=False),
    # false while a scan attributes its targets as it records them, and after an interrupted scan
    Column("complete", Boolean, nullable=False, server_default=true()),
)
Index("ix_attributions_run", attributions.c.run_id)

dependencies = Table(
    "dependencies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("attribution_id", Integer, ForeignKey("attributions.id"), nullable=False),
    Column("target_id", Integer, ForeignKey("targets.id")),  # null for organisation-level dependencies
    Column("siren", String(9)),  # set for organisation-level dependencies (shared mailbox addresses)
    Column("role", String(32), nullable=False),
    Column("subject", String(320), nullable=False),
    Column("operator", String(64)),  # KB entity id, "self", or null (undetermined)
    Column("infrastructure", String(64)),
    Column("confidence", String(8), nullable=False),
    Column("payload", Text, nullable=False),  # JSON: exposures and reasons
    Column("essentials", Text),  # JSON: scope and exposures (what the assessment reads)
)
Index("ix_dependencies_attribution_target", dependencies.c.attribution_id, dependencies.c.target_id)
Index("ix_dependencies_attribution_operator", dependencies.c.attribution_id, dependencies.c.operator)

assessments = Table(
    "assessments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("attribution_id", Integer, ForeignKey("attributions.id"), nullable=False),
    Column("methodology", String(64), nullable=False),  # policy version + digest
    Column("kb_version", String(32), nullable=False),
    Column("as_of", String(10), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("summary", Text, nullable=False),  # JSON: national aggregates and trajectories
)
Index("ix_assessments_run", assessments.c.run_id)

org_assessments = Table(
    "org_assessments",
    metadata,
    Column("assessment_id", Integer, ForeignKey("assessments.id"), primary_key=True),
    Column("siren", String(9), primary_key=True),
    Column("score", Float),
    Column("coverage", Float, nullable=False),
    Column("payload", Text, nullable=False),  # JSON: levels, findings, hygiene, services, history
)

# web (migration 0004): the per-assessment index the pages read, corrections, operators, tokens, scans ------
web_index = Table(
    "web_index",
    metadata,
    Column("assessment_id", Integer, ForeignKey("assessments.id"), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("built_at", Float, nullable=False),
    Column("organisations", Integer, nullable=False),
    Column("stats", Text, nullable=False),  # JSON: national figures, kinds, score bands
)

web_orgs = Table(
    "web_orgs",
    metadata,
    Column("assessment_id", Integer, primary_key=True),
    Column("siren", String(9), primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_norm", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("commune", String(5)),
    Column("departement", String(3)),
    Column("region", String(2)),
    Column("score", Float),
    Column("coverage", Float, nullable=False),
    Column("provisional", Integer, nullable=False),
    Column("worst_level", String(20)),
    Column("findings", Integer, nullable=False),
    Column("serious", Integer, nullable=False),  # critical + high findings
    Column("mailbox_eu", Integer),  # 1/0, null when not measured (indicator of the policy)
    Column("dmarc_reject", Integer),
    Column("dnssec", Integer),
    Column("sensitive_qualified", Integer),
    Column("domains", Text, nullable=False),  # space-separated
)
Index("ix_web_orgs_score", web_orgs.c.assessment_id, web_orgs.c.score)
Index("ix_web_orgs_name_norm", web_orgs.c.assessment_id, web_orgs.c.name_norm, web_orgs.c.siren)
Index(
    "ix_web_orgs_departement_name",
    web_orgs.c.assessment_id,
    web_orgs.c.departement,
    web_orgs.c.name_norm,
    web_orgs.c.siren,
)
Index("ix_web_orgs_departement", web_orgs.c.assessment_id, web_orgs.c.departement, web_orgs.c.score)
Index("ix_web_orgs_region", web_orgs.c.assessment_id, web_orgs.c.region, web_orgs.c.score)
Index("ix_web_orgs_kind", web_orgs.c.assessment_id, web_orgs.c.kind, web_orgs.c.score)

web_words = Table(
    "web_words",
    metadata,
    Column("assessment_id", Integer, nullable=False),
    Column("word", String(64), nullable=False),
    Column("siren", String(9), nullable=False),
)
Index("ix_web_words", web_words.c.assessment_id, web_words.c.word)

web_domains = Table(
    "web_domains",
    metadata,
    Column("assessment_id", Integer, nullable=False),
    Column("domain", String(253), nullable=False),
    Column("siren", String(9), nullable=False),
)
Index("ix_web_domains", web_domains.c.assessment_id, web_domains.c.domain)

web_deps = Table(
    "web_deps",
    metadata,
    Column("assessment_id", Integer, nullable=False),
    Column("operator", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("siren", String(9), nullable=False),
    Column("level", String(20), nullable=False),
    Column("subject", String(320), nullable=False),
    Column("relation", String(16), nullable=False),  # operator | infrastructure
)
Index(
    "ix_web_deps_operator", web_deps.c.assessment_id, web_deps.c.operator, web_deps.c.role, web_deps.c.siren
)
Index("ix_web_deps_siren", web_deps.c.assessment_id, web_deps.c.siren)

web_areas = Table(
    "web_areas",
    metadata,
    Column("assessment_id", Integer, primary_key=True),
    Column("level", String(12), primary_key=True),  # region | departement
    Column("code", String(3), primary_key=True),
    Column("values", Text, nullable=False),  # JSON: indicator → {value, numerator, denominator}
)

web_providers = Table(
    "web_providers",
    metadata,
    Column("assessment_id", Integer, primary_key=True),
    Column("operator", String(64), primary_key=True),
    Column("organisations", Integer, nullable=False),
    Column("stats", Text, nullable=False),  # JSON: by role, level, region, departement
)
Index("ix_web_providers_count", web_providers.c.assessment_id, web_providers.c.organisations)

operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # scrypt$n$r$p$salt$hash
    Column("created_at", Float, nullable=False),
    Column("disabled", Integer, nullable=False, server_default="0"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex; the token is shown once
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),
    Column("revoked_at", Float),
    Column("per_minute", Integer, nullable=False),
)

corrections = Table(
    "corrections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("siren", String(9), nullable=False),
    Column("submitted_at", Float, nullable=False),
    Column("contact_name", Text, nullable=False),
    Column("contact_email", Text, nullable=False),
    Column("topic", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | accepted | rejected
    Column("reviewed_by", String(64)),
    Column("reviewed_at", Float),
    Column("reason", Text),
)
Index("ix_corrections_siren", corrections.c.siren, corrections.c.status)
Index("ix_corrections_status", corrections.c.status, corrections.c.submitted_at)

correction_events = Table(
    "correction_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("correction_id", Integer, ForeignKey("corrections.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # submitted | accepted | rejected
    Column("reason", Text),
)
Index("ix_correction_events", correction_events.c.correction_id)

scan_requests = Table(
    "scan_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_id", Integer, ForeignKey("api_tokens.id")),
    Column("target", String(253), nullable=False),
    Column("siren", String(9)),
    Column("status", String(16), nullable=False),  # queued | running | completed | failed
    Column("detail", Text),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
)
