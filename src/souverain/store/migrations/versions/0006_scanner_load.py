"""Targets record how much their scanning process delayed its own work while they were in flight: mean
event-loop lag (``loop_lag_ms``) and mean wait of its DNS questions for a free slot (``dns_queue_ms``), so a
time-out recorded while the scanner itself was overloaded can be told from the target's own. Null for
targets recorded before this revision (not measured).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from souverain.store.migrations import add_missing_columns

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_missing_columns(
        "targets",
        sa.Column("loop_lag_ms", sa.Float, nullable=True),
        sa.Column("dns_queue_ms", sa.Float, nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.drop_column("dns_queue_ms")
        batch.drop_column("loop_lag_ms")
