"""Evidence store: organisations, runs, targets and append-only evidence."""

from souverain.store.db import RunInfo, Store, TargetRow
from souverain.store.writer import Writer

__all__ = ["RunInfo", "Store", "TargetRow", "Writer"]
