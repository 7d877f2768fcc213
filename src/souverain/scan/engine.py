"""The scanning core: ``scan_shard(targets) -> results`` with a global concurrency limit.

Per-destination caps and per-probe budgets live in ``souverain.net`` and ``souverain.probes``; this module
bounds the work per target and never lets one target stop the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from souverain.evidence import Evidence, Status
from souverain.net import Net
from souverain.probes import run_target
from souverain.scan.memory import heap_trimmer
from souverain.store.rows import BUSY_MS, TargetRow

__all__ = ["LoadMonitor", "QuietWhenStopping", "TargetResult", "loop_factory", "scan_shard", "target_status"]

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


class QuietWhenStopping(logging.Filter):
    """While in use (``with``), drops asyncio's log records once the scan's main task (``task``) is being
    cancelled — Ctrl-C, SIGTERM — or has ended. Closing the connections still open then makes asyncio and
    uvloop log "Fatal error on SSL protocol" with a traceback for each: noise about the interruption, printed
    under the command's one-line message, not errors of the scan. Until then asyncio's reports go through
    (they would be bugs)."""

    def __init__(self) -> None:
        super().__init__()
        self.task: asyncio.Task[Any] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        task = self.task
        return task is None or not (task.done() or task.cancelling())

    def __enter__(self) -> QuietWhenStopping:
        logging.getLogger("asyncio").addFilter(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        logging.getLogger("asyncio").removeFilter(self)


@dataclass(slots=True)
class TargetResult:
    target_id: int
    domain: str
    status: Status
    started_at: float
    duration_ms: float
    evidence: list[Evidence]
    lag_ms: float = 0.0
    """How late the scanning process's event loop ran, on average, while this target was in flight."""
    queue_ms: float = 0.0
    """How long, on average, the process's DNS questions waited for a free slot meanwhile (see
    :class:`LoadMonitor`)."""


LOAD_TICK_S = 0.05
BUSY_S = BUSY_MS / 1000
"""Mean DNS queue wait above which a scanning process has too many targets in flight: it then lets fewer
in (see :func:`scan_shard`). An unloaded lab scan queues none; one with ten times too many targets in flight
for one process queued each question 2–4 s (benchmarks/README.md)."""


class LoadMonitor:
    """How much a scanning process delays its own targets: event-loop lag and the DNS client's queue.

    A timer due every ``tick_s`` notes how late it runs (every exchange of a probe waits at least one turn
    of the loop), and the DNS client counts how long questions wait for one of its slots. With more targets
    in flight than the process and its resolver can serve, the questions queue, the probes' budgets run out
    while they wait, and a target that would have answered in time is recorded as a time-out: a failure of
    the scanner, not of the target. Each target records both means over its time in flight
    (:attr:`TargetResult.lag_ms`, :attr:`TargetResult.queue_ms`) — running sums snapshotted when a target
    starts, O(1) — and :attr:`recent_queue_s` (over the last ``window`` ticks) steers the number of targets
    in flight.
    """

    def __init__(self, dns: Any = None, tick_s: float | None = None, window: int = 10) -> None:
        self.dns = dns  # anything with ``queries_sent`` and ``queued_s`` (souverain.net.dns.DnsClient)
        self.tick_s = LOAD_TICK_S if tick_s is None else tick_s
        self.window = window
        self.ticks = 0
        self.lag_total_s = 0.0
        self.recent_queue_s = 0.0
        self._mark = (0, 0.0)  # DNS (tries, queued seconds) at the start of the current window
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def _dns(self) -> tuple[int, float]:
        return (self.dns.queries_sent, self.dns.queued_s) if self.dns is not None else (0, 0.0)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._mark = self._dns()
        self._due = self._loop.time() + self.tick_s
        self._handle = self._loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.ticks += 1
        self.lag_total_s += now - self._due
        if self.ticks % self.window == 0:
            tries, queued = self._dns()
            self.recent_queue_s = (queued - self._mark[1]) / max(1, tries - self._mark[0])
            self._mark = (tries, queued)
        self._due = now + self.tick_s
        self._handle = self._loop.call_at(self._due, self._tick)

    def snapshot(self) -> tuple[int, float, int, float]:
        return (self.ticks, self.lag_total_s, *self._dns())

    def since(self, snapshot: tuple[int, float, int, float]) -> tuple[float, float]:
        """(mean event-loop lag, mean DNS queue wait per question sent), in seconds, since ``snapshot``.
        With no tick since, the lag is how late the next tick already is."""
        ticks, lag_total, tries, queued = snapshot
        if self.ticks > ticks:
            lag = (self.lag_total_s - lag_total) / (self.ticks - ticks)
        else:
            lag = max(0.0, self._loop.time() - self._due) if self._loop is not None else 0.0
        now_tries, now_queued = self._dns()
        return lag, (now_queued - queued) / max(1, now_tries - tries)


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
    out of their budget: timeouts that said nothing about the targets.

    Back-off: when the process's DNS questions queue (:attr:`LoadMonitor.recent_queue_s` ≥ ``BUSY_S``), it
    has more targets in flight than it and its resolver can serve; the number allowed is cut by a quarter
    (at most once per measuring window, never below ``slow_start``), then grows again by one per round of
    targets while the queue stays short. Without it, one process given 2,000 targets at once on a busy
    machine recorded ~700 of 2,000 lab domains as DNS time-outs (each question queued 2–4 s)."""
    pending = deque(targets)
    done = 0
    tick = heap_trimmer()
    limit = max(1, min(concurrency, len(targets)))
    floor = min(limit, max(1, slow_start))
    allowed = floor  # targets allowed in flight now: one worker task each
    running = 0  # worker tasks alive
    load = LoadMonitor(net.dns)
    cut_in = -1  # the measuring window in which ``allowed`` was last cut (-1: never; slow start)
    credit = 0  # finished targets towards the next +1 once cut (one per round of ``allowed`` targets)
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    tasks: set[asyncio.Task[None]] = set()

    def spawn() -> None:
        nonlocal running
        while running < allowed and pending:
            running += 1
            task = asyncio.create_task(worker(pending.popleft()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    def steer() -> None:
        """After each finished target: cut ``allowed`` when the DNS questions queue, else let it grow."""
        nonlocal allowed, cut_in, credit
        if load.recent_queue_s >= BUSY_S:
            window = load.ticks // load.window
            if window != cut_in and allowed > floor:
                allowed, cut_in, credit = max(floor, allowed * 3 // 4), window, 0
        elif allowed < limit and load.recent_queue_s < BUSY_S / 5:
            if cut_in < 0:
                allowed += 1
            else:
                credit += 1
                if credit >= allowed:
                    allowed, credit = allowed + 1, 0

    async def worker(row: TargetRow) -> None:
        """Scan ``row``, then the next pending targets while the shard allows this many workers."""
        nonlocal done, running
        try:
            while True:
                start = load.snapshot()
                result = await _scan_one(row, net, target_budget_s, only)
                lag_s, queue_s = load.since(start)
                result.lag_ms, result.queue_ms = round(lag_s * 1000, 1), round(queue_s * 1000, 1)
                on_result(result)
                done += 1
                tick()
                steer()
                spawn()
                if not pending or running > allowed:
                    return
                row = pending.popleft()
        except Exception as exc:  # a failing result handler stops the shard at once
            if not finished.done():
                finished.set_exception(exc)
        finally:
            running -= 1
            if running == 0 and not finished.done():
                finished.set_result(None)

    load.start()
    try:
        spawn()
        if running == 0:
            return 0
        await finished
    finally:
        load.stop()
        for task in list(tasks):
            task.cancel()
    return done
