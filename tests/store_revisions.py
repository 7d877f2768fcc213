"""Stores at an earlier schema revision, filled, for the upgrade tests (SQLite and PostgreSQL), and new
PostgreSQL databases on the ``postgres`` fixture's server."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from souverain.store import db as db_module


def old_store(url: str, revision: str) -> sa.Engine:
    """A store at ``revision`` with one row in every table (ids 1), foreign keys checked as it is filled."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA foreign_keys=ON"))
    config = db_module.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    tables = sa.MetaData()
    tables.reflect(engine)
    with engine.begin() as connection:
        for table in tables.sorted_tables:
            if table.name == "alembic_version":
                continue
            row: dict[str, object] = {}
            for column in table.columns:
                if isinstance(column.type, sa.Integer):
                    row[column.name] = 1
                elif isinstance(column.type, sa.Float):
                    row[column.name] = 1.0
                elif isinstance(column.type, sa.Boolean):
                    row[column.name] = True
                else:
                    row[column.name] = "{}"
            connection.execute(table.insert().values(row))
    return engine


def counts(engine: sa.Engine) -> dict[str, int]:
    """Rows per table."""
    with engine.connect() as connection:
        names = sa.inspect(connection).get_table_names()
        return {n: connection.exec_driver_sql(f"SELECT count(*) FROM {n}").scalar_one() for n in names}


def columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def new_database(server: str, name: str) -> str:
    """A new, empty database on ``server``; its URL."""
    engine = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return f"{server}/{name}"
