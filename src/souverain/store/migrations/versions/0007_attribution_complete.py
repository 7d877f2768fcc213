"""Attributions carry whether they are complete. A scan attributes its targets as it records them; the set is
complete once the scan has ended and the organisations' contact addresses are attributed too. An interrupted
scan leaves an incomplete set, which readers ignore (``Store.latest_attribution``) and its resumed scan
deletes. Sets written before this revision are complete.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from souverain.store.migrations import add_missing_columns

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN: in batch mode alembic rebuilt the table on SQLite (copy, DROP, rename), and the DROP
    # failed on the foreign keys of a store's dependency rows — every store with an attribution
    add_missing_columns(
        "attributions", sa.Column("complete", sa.Boolean, nullable=False, server_default=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("attributions") as batch:
        batch.drop_column("complete")
