"""Command-line options shared by the command modules (``souverain.cli`` imports them; so do the modules it
registers, which ``souverain.cli`` imports in turn)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["StoreOpt"]

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="SQLite file, or a SQLAlchemy URL such as postgresql+psycopg://user@host/db "
        "(default $SOUVERAIN_HOME/souverain.db).",
        metavar="FILE|URL",
    ),
]
"""A string, not a Path: a Path would fold the ``//`` of a URL into a relative file name."""
