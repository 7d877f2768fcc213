"""Initial schema: organisations, runs, run_organisations, targets, evidence.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("siren", sa.String(9), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("commune", sa.String(5)),
        sa.Column("departement", sa.String(3)),
        sa.Column("region", sa.String(2)),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
        sa.Column("portfolio", sa.Text, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("souverain_version", sa.String(32), nullable=False),
    )
    op.create_table(
        "run_organisations",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("siren", sa.String(9), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("roles", sa.String(32), nullable=False),
        sa.Column("sirens", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("duration_ms", sa.Float),
        sa.UniqueConstraint("run_id", "domain", name="uq_targets_run_domain"),
    )
    op.create_index("ix_targets_run_status", "targets", ["run_id", "status"])
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("target_id", sa.Integer, sa.ForeignKey("targets.id"), nullable=False),
        sa.Column("probe", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("probe_version", sa.String(16), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_evidence_target", "evidence", ["target_id"])
    op.create_index("ix_evidence_run_probe", "evidence", ["run_id", "probe"])


def downgrade() -> None:
    for table in ("evidence", "targets", "run_organisations", "runs", "organisations"):
        op.drop_table(table)
