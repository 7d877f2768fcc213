"""A run's target as the scanning core sees it (no database code: scanning processes import only this)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["BUSY_MS", "TargetRow", "busy_of", "is_busy", "scanner_load"]

BUSY_MS = 250.0
"""A target counts as scanned by a busy scanner when, while it was in flight, its scanning process's DNS
questions waited this long on average for a free slot, or its event loop ran this late on average (an
unloaded lab scan: no queue, ~20 ms of lag)."""


@dataclass(frozen=True, slots=True)
class TargetRow:
    id: int
    domain: str
    roles: frozenset[str]
    sirens: tuple[str, ...]
    status: str
    started_at: float | None = None
    duration_ms: float | None = None
    loop_lag_ms: float | None = None
    """Mean event-loop lag of the scanning process while the target was in flight
    (``scan.engine.LoadMonitor``); ``None`` when not measured (runs recorded before it was, imported
    evidence)."""
    dns_queue_ms: float | None = None
    """Mean wait of the process's DNS questions for a free slot meanwhile; ``None`` when not measured."""


def is_busy(lag_ms: float | None, queue_ms: float | None) -> bool:
    """Whether the scanner delayed its own work while a target was in flight (see ``BUSY_MS``)."""
    return max(lag_ms or 0.0, queue_ms or 0.0) >= BUSY_MS


def busy_of(row: TargetRow) -> bool | None:
    """:func:`is_busy` of a recorded target; ``None`` when its scanner's load was not measured."""
    if row.loop_lag_ms is None and row.dns_queue_ms is None:
        return None
    return is_busy(row.loop_lag_ms, row.dns_queue_ms)


def scanner_load(rows: Iterable[TargetRow]) -> dict[str, Any]:
    """How many targets were scanned while their scanning process was busy (``is_busy``), by status: a
    time-out among them may be the scanner's own slowness rather than the target's."""
    measured = busy = 0
    worst_lag = worst_queue = 0.0
    statuses: Counter[str] = Counter()
    for row in rows:
        busy_row = busy_of(row)
        if busy_row is None:
            continue
        measured += 1
        if busy_row:
            busy += 1
            worst_lag = max(worst_lag, row.loop_lag_ms or 0.0)
            worst_queue = max(worst_queue, row.dns_queue_ms or 0.0)
            statuses[row.status] += 1
    return {
        "measured_targets": measured,
        "busy_threshold_ms": BUSY_MS,
        "busy_targets": busy,
        "busy_by_status": dict(sorted(statuses.items())),
        "worst_loop_lag_ms": worst_lag if busy else None,
        "worst_dns_queue_ms": worst_queue if busy else None,
    }
