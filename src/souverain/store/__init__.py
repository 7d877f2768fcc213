"""Evidence store: organisations, runs, targets and append-only evidence.

The names are loaded on first use: a scanning process needs ``TargetRow`` (``souverain.store.rows``), not
SQLAlchemy and the migrations (~0.5 s of imports per process)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from souverain.store.rows import TargetRow

if TYPE_CHECKING:
    from souverain.store.db import RunInfo, Store
    from souverain.store.writer import Writer

__all__ = ["RunInfo", "Store", "TargetRow", "Writer"]


def __getattr__(name: str) -> Any:
    if name in ("RunInfo", "Store"):
        from souverain.store import db

        return getattr(db, name)
    if name == "Writer":
        from souverain.store.writer import Writer

        return Writer
    raise AttributeError(f"module 'souverain.store' has no attribute '{name}'")
