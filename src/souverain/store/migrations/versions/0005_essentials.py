"""Essentials: beside the full payloads, what the assessment reads of them (souverain.assessment.essentials):
hygiene evidence pruned to the fields the checks read, dependency rows without their attribution reasons.
Rows written before this revision keep a null column; readers prune their payload instead.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from souverain.store.migrations import add_missing_columns

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_missing_columns("evidence", sa.Column("essentials", sa.Text, nullable=True))
    add_missing_columns("dependencies", sa.Column("essentials", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dependencies") as batch:
        batch.drop_column("essentials")
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("essentials")
