"""A run's target as the scanning core sees it (no database code: scanning processes import only this)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TargetRow"]


@dataclass(frozen=True, slots=True)
class TargetRow:
    id: int
    domain: str
    roles: frozenset[str]
    sirens: tuple[str, ...]
    status: str
    started_at: float | None = None
    duration_ms: float | None = None
