"""Attribution: one set of dependencies per (run, KB version) — attributions, dependencies.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attributions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("kb_version", sa.String(32), nullable=False),
        sa.Column("networks", sa.Text, nullable=False),
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("souverain_version", sa.String(32), nullable=False),
    )
    op.create_index("ix_attributions_run", "attributions", ["run_id"])
    op.create_table(
        "dependencies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("attribution_id", sa.Integer, sa.ForeignKey("attributions.id"), nullable=False),
        sa.Column("target_id", sa.Integer, sa.ForeignKey("targets.id")),
        sa.Column("siren", sa.String(9)),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(320), nullable=False),
        sa.Column("operator", sa.String(64)),
        sa.Column("infrastructure", sa.String(64)),
        sa.Column("confidence", sa.String(8), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_dependencies_attribution_target", "dependencies", ["attribution_id", "target_id"])
    op.create_index("ix_dependencies_attribution_operator", "dependencies", ["attribution_id", "operator"])


def downgrade() -> None:
    op.drop_table("dependencies")
    op.drop_table("attributions")
