"""Command-line options shared by the command modules (``souverain.cli`` imports them; so do the modules it
registers, which ``souverain.cli`` imports in turn)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from souverain.errors import InputError

__all__ = ["LangOpt", "StoreOpt", "counted", "out_folder"]


def out_folder(value: str) -> Path:
    """Parser of the ``--out`` folders: an empty value (an unset variable in a script) is an error, not the
    current directory."""
    if not value.strip():
        raise InputError("--out '': empty; give the folder to write into ('.' for the current one)")
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise InputError(f"--out '{value}': a file, not a folder")
    return path


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


def language(value: str) -> str:
    """Parser of ``--lang``: the languages the pages are written in."""
    if value not in ("fr", "en"):
        raise InputError(f"--lang '{value}': expected fr (the default) or en")
    return value


LangOpt = Annotated[
    str,
    typer.Option("--lang", parser=language, metavar="fr|en", help="Language of the pages: fr or en."),
]


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``1 domain``, ``2 domains``, ``2 dependencies`` (with ``plural``)."""
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"
