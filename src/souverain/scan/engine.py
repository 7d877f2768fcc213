"""The scanning core: ``scan_shard(targets) -> results`` with a global concurrency limit.

Per-destination caps and per-probe budgets live in ``souverain.net`` and ``souverain.probes``; this module
bounds the work per target and never lets one target stop the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from souverain.evidence import Evidence, Status
from souverain.net import Net
from souverain.probes import run_target
from souverain.scan.memory import heap_trimmer
from souverain.store.rows import TargetRow

__all__ = ["TargetResult", "loop_factory", "scan_shard", "target_status"]

_GRACE_S = 5.0
SLOW_START = 8
"""Targets in flight when a shard starts (see :func:`scan_shard`)."""
_SEVERITY = (Status.BUG, Status.TIMEOUT, Status.ERROR, Status.REFUSED)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a pinned dependency; fall back if it is absent
        return asyncio.new_event_loop
    return uvloop.new_event_loop


@dataclass(slots=True)
class TargetResult:
    target_id: int
    domain: str
    status: Status
    started_at: float
    duration_ms: float
    evidence: list[Evidence]


def target_status(items: Sequence[Evidence]) -> Status:
    """Summarise a target: the DNS outcome if the name is unusable, else the worst probe outcome.

    A finding about the target (an expired certificate, a missing DMARC record) is data, not a failure:
    those probes end ``ok`` or ``not-found`` and the target stays ``ok``.
    """
    if not items:
        return Status.ERROR
    dns = [ev for ev in items if ev.probe == "dns"]
    if dns and dns[0].status not in (Status.OK,):
        return dns[0].status
    statuses = {ev.status for ev in items}
    for status in _SEVERITY:
        if status in statuses:
            return status
    return Status.OK


async def _scan_one(row: TargetRow, net: Net, budget_s: float, only: set[str] | None) -> TargetResult:
    started = time.time()
    clock = time.perf_counter()
    try:
        async with asyncio.timeout(budget_s + _GRACE_S):
            items = await run_target(row.domain, row.roles, net, budget_s=budget_s, only=only)
    except TimeoutError:
        items = [
            Evidence(
                "scan",
                row.domain,
                Status.TIMEOUT,
                error=f"target budget of {budget_s:.0f}s exceeded",
                started_at=started,
            )
        ]
    except Exception as exc:  # a defect in souverain: recorded as data, the run goes on
        items = [
            Evidence(
                "scan", row.domain, Status.BUG, error=f"{type(exc).__name__}: {exc}"[:500], started_at=started
            )
        ]
    duration = (time.perf_counter() - clock) * 1000
    return TargetResult(row.id, row.domain, target_status(items), started, duration, items)


async def scan_shard(
    targets: Sequence[TargetRow],
    net: Net,
    on_result: Callable[[TargetResult], None],
    *,
    concurrency: int = 200,
    target_budget_s: float = 60.0,
    only: set[str] | None = None,
    slow_start: int = SLOW_START,
) -> int:
    """Scan ``targets``, at most ``concurrency`` at once; ``on_result`` per target; return the count.

    Slow start: ``slow_start`` targets are scanned at first, and each finished target lets one more start
    until ``concurrency`` are in flight (the number doubles with each round of targets, ~2 s to full speed).
    All at once, the first hundreds of targets met a resolver with cold caches together — thousands of
    questions waiting on the same top-level delegations — and on a loaded machine a few dozen of them ran
    out of their budget: timeouts that said nothing about the targets."""
    queue: asyncio.Queue[TargetRow] = asyncio.Queue()
    for row in targets:
        queue.put_nowait(row)
    done = active = 0
    tick = heap_trimmer()
    limit = max(1, min(concurrency, len(targets)))
    allowed = min(limit, max(1, slow_start))  # targets allowed in flight now; +1 per finished target
    room = asyncio.Event()

    async def worker() -> None:
        nonlocal done, active, allowed
        while True:
            while active >= allowed:
                room.clear()
                await room.wait()
            try:
                row = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            active += 1
            try:
                result = await _scan_one(row, net, target_budget_s, only)
            finally:
                active -= 1
            on_result(result)
            done += 1
            tick()
            if allowed < limit:
                allowed += 1
                room.set()

    workers = [asyncio.create_task(worker()) for _ in range(limit)]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
    return done
