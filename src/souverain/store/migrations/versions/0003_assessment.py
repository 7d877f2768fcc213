"""Assessment: one set of organisation assessments per (run, attribution, methodology).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("attribution_id", sa.Integer, sa.ForeignKey("attributions.id"), nullable=False),
        sa.Column("methodology", sa.String(64), nullable=False),
        sa.Column("kb_version", sa.String(32), nullable=False),
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_index("ix_assessments_run", "assessments", ["run_id"])
    op.create_table(
        "org_assessments",
        sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id"), primary_key=True),
        sa.Column("siren", sa.String(9), primary_key=True),
        sa.Column("score", sa.Float),
        sa.Column("coverage", sa.Float, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("org_assessments")
    op.drop_table("assessments")
