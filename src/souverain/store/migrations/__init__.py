"""Alembic migrations of the store, and what they share.

Columns are added with ``ALTER TABLE … ADD COLUMN`` (SQLite rebuilds nothing), and only when missing: until
revision 0007 was mended, SQLite committed each ``ALTER TABLE`` at once (pysqlite commits before DDL), so an
upgrade that failed half-way left the columns of the revisions before the failure in place under the old
revision number. :meth:`souverain.store.Store.migrate` now runs every upgrade in one transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["add_missing_columns"]


def add_missing_columns(table: str, *columns: sa.Column[object]) -> None:
    """``ALTER TABLE table ADD COLUMN`` for each of ``columns`` the table does not have yet."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
    for column in columns:
        if column.name not in present:
            op.add_column(table, column)
