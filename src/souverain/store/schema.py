"""Tables of the store (SQLAlchemy Core). Changes go through an alembic migration in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import (
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
