"""Web: the per-assessment index the pages read (organisation summaries, search words, domains, dependencies
by operator, areas, providers), corrections with their review history, operators, API tokens (hashed) and
on-demand scan requests.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_index",
        sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id"), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("built_at", sa.Float, nullable=False),
        sa.Column("organisations", sa.Integer, nullable=False),
        sa.Column("stats", sa.Text, nullable=False),
    )
    op.create_table(
        "web_orgs",
        sa.Column("assessment_id", sa.Integer, primary_key=True),
        sa.Column("siren", sa.String(9), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_norm", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("commune", sa.String(5)),
        sa.Column("departement", sa.String(3)),
        sa.Column("region", sa.String(2)),
        sa.Column("score", sa.Float),
        sa.Column("coverage", sa.Float, nullable=False),
        sa.Column("provisional", sa.Integer, nullable=False),
        sa.Column("worst_level", sa.String(20)),
        sa.Column("findings", sa.Integer, nullable=False),
        sa.Column("serious", sa.Integer, nullable=False),
        sa.Column("mailbox_eu", sa.Integer),
        sa.Column("dmarc_reject", sa.Integer),
        sa.Column("dnssec", sa.Integer),
        sa.Column("sensitive_qualified", sa.Integer),
        sa.Column("domains", sa.Text, nullable=False),
    )
    op.create_index("ix_web_orgs_score", "web_orgs", ["assessment_id", "score"])
    op.create_index("ix_web_orgs_name_norm", "web_orgs", ["assessment_id", "name_norm", "siren"])
    op.create_index(
        "ix_web_orgs_departement_name", "web_orgs", ["assessment_id", "departement", "name_norm", "siren"]
    )
    for column in ("departement", "region", "kind"):
        op.create_index(f"ix_web_orgs_{column}", "web_orgs", ["assessment_id", column, "score"])
    op.create_table(
        "web_words",
        sa.Column("assessment_id", sa.Integer, nullable=False),
        sa.Column("word", sa.String(64), nullable=False),
        sa.Column("siren", sa.String(9), nullable=False),
    )
    op.create_index("ix_web_words", "web_words", ["assessment_id", "word"])
    op.create_table(
        "web_domains",
        sa.Column("assessment_id", sa.Integer, nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("siren", sa.String(9), nullable=False),
    )
    op.create_index("ix_web_domains", "web_domains", ["assessment_id", "domain"])
    op.create_table(
        "web_deps",
        sa.Column("assessment_id", sa.Integer, nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("siren", sa.String(9), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(320), nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
    )
    op.create_index("ix_web_deps_operator", "web_deps", ["assessment_id", "operator", "role", "siren"])
    op.create_index("ix_web_deps_siren", "web_deps", ["assessment_id", "siren"])
    op.create_table(
        "web_areas",
        sa.Column("assessment_id", sa.Integer, primary_key=True),
        sa.Column("level", sa.String(12), primary_key=True),
        sa.Column("code", sa.String(3), primary_key=True),
        sa.Column("values", sa.Text, nullable=False),
    )
    op.create_table(
        "web_providers",
        sa.Column("assessment_id", sa.Integer, primary_key=True),
        sa.Column("operator", sa.String(64), primary_key=True),
        sa.Column("organisations", sa.Integer, nullable=False),
        sa.Column("stats", sa.Text, nullable=False),
    )
    op.create_index("ix_web_providers_count", "web_providers", ["assessment_id", "organisations"])
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_used_at", sa.Float),
        sa.Column("revoked_at", sa.Float),
        sa.Column("per_minute", sa.Integer, nullable=False),
    )
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("siren", sa.String(9), nullable=False),
        sa.Column("submitted_at", sa.Float, nullable=False),
        sa.Column("contact_name", sa.Text, nullable=False),
        sa.Column("contact_email", sa.Text, nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewed_by", sa.String(64)),
        sa.Column("reviewed_at", sa.Float),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_corrections_siren", "corrections", ["siren", "status"])
    op.create_index("ix_corrections_status", "corrections", ["status", "submitted_at"])
    op.create_table(
        "correction_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("correction_id", sa.Integer, sa.ForeignKey("corrections.id"), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_correction_events", "correction_events", ["correction_id"])
    op.create_table(
        "scan_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_id", sa.Integer, sa.ForeignKey("api_tokens.id")),
        sa.Column("target", sa.String(253), nullable=False),
        sa.Column("siren", sa.String(9)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
    )


def downgrade() -> None:
    for table in ("scan_requests", "correction_events", "corrections", "api_tokens", "operators",
                  "web_providers", "web_areas", "web_deps", "web_domains", "web_words", "web_orgs",
                  "web_index"):  # fmt: skip
        op.drop_table(table)
