"""How targets are scanned: spread out in an order fixed by the run, slow start, back-off when the scanner is
overloaded (and its record per target), heap trimmer's cadence."""

from __future__ import annotations

import asyncio
import itertools
import time
from types import SimpleNamespace
from typing import Any

import pytest

from souverain.evidence import Status
from souverain.scan import engine
from souverain.scan.engine import TargetResult
from souverain.scan.memory import heap_trimmer
from souverain.scan.run import spread
from souverain.store import TargetRow


def _rows(n: int) -> list[TargetRow]:
    # a sorted portfolio: ten bodies in a row at each of ten providers
    return [TargetRow(i, f"commune-{i:03d}.fr", frozenset({"web"}), (), "pending") for i in range(n)]


def test_spread_is_a_permutation_fixed_by_the_run() -> None:
    rows = _rows(100)
    first = spread(rows, run_id=7)
    assert sorted(r.id for r in first) == list(range(100))
    assert [r.id for r in spread(list(reversed(rows)), run_id=7)] == [r.id for r in first]  # resume
    assert [r.id for r in spread(rows, run_id=8)] != [r.id for r in first]  # another run, another order
    assert [r.id for r in first] != list(range(100))


def test_spread_breaks_up_runs_of_neighbours() -> None:
    order = [r.id // 10 for r in spread(_rows(100), run_id=1)]  # the "provider" of each scanned target
    longest = run = 1
    for previous, current in itertools.pairwise(order):
        run = run + 1 if current == previous else 1
        longest = max(longest, run)
    assert longest <= 4  # in portfolio order it would be 10


def test_heap_trimmer_trims_every_n_targets() -> None:
    tick = heap_trimmer(every=3)
    trimmed = [tick() for _ in range(9)]
    assert trimmed == [False, False, True] * 3  # glibc (Debian): malloc_trim is there


def test_scan_gc_sets_the_scanning_thresholds_then_restores_them() -> None:
    """While scanning, the collector runs rarely and skips what existed before the scan; after, as before."""
    import gc

    from souverain.processes import GC_THRESHOLDS, scan_gc

    previous = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's default
    try:
        assert gc.get_freeze_count() == 0
        kept = [{"alive": i} for i in range(1000)]
        with scan_gc():
            assert gc.get_threshold() == GC_THRESHOLDS
            assert gc.get_freeze_count() >= len(kept)  # frozen: out of the collector's passes
            cycle: list[Any] = []
            cycle.append(cycle)
            del cycle
            assert gc.collect() >= 1  # cyclic garbage made during the scan is still collected
        assert gc.get_threshold() == (700, 10, 10)
        assert gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*previous)


def test_scan_gc_overlapping_scans_restore_when_the_last_ends() -> None:
    """The web server's on-demand scans overlap in threads: the first to end must not undo the other's
    settings; the last restores what was there before the first."""
    import gc
    import threading

    from souverain.processes import GC_THRESHOLDS, scan_gc

    previous = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[int, ...]] = []

    def first() -> None:
        with scan_gc():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with scan_gc():
            second_in.set()
            first_out.wait(5)
            seen.append(gc.get_threshold())
            seen.append((min(gc.get_freeze_count(), 1),))

    try:
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert first_out.is_set() and seen == [GC_THRESHOLDS, (1,)]  # still tuned and frozen after the first
        assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


class _Dns:
    """The counters of souverain.net.dns.DnsClient that the load monitor reads."""

    def __init__(self) -> None:
        self.queries_sent = 0
        self.queued_s = 0.0


def _net() -> Any:
    return SimpleNamespace(dns=_Dns())


def _fake_scan(log: list[int], in_flight: list[int], fail_on: int | None = None) -> Any:
    async def scan_one(row: TargetRow, net: Any, budget_s: float, only: Any) -> TargetResult:
        in_flight[0] += 1
        log.append(in_flight[0])
        await asyncio.sleep(0.001 * (1 + row.id % 3))
        in_flight[0] -= 1
        if row.id == fail_on:
            raise RuntimeError("writer failed")
        return TargetResult(row.id, row.domain, Status.OK, 0.0, 1.0, [])

    return scan_one


def test_slow_start_then_full_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[int] = []
    in_flight = [0]
    monkeypatch.setattr(engine, "_scan_one", _fake_scan(log, in_flight))
    seen: list[int] = []
    count = asyncio.run(
        engine.scan_shard(_rows(400), _net(), lambda r: seen.append(r.target_id), concurrency=50)
    )
    assert count == 400 and sorted(seen) == list(range(400))  # each target once
    assert log[engine.SLOW_START] <= engine.SLOW_START  # the next one waits for one to finish
    assert max(log) == 50  # then the whole concurrency is used, never more


def test_a_failing_result_handler_stops_the_shard_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[int] = []
    monkeypatch.setattr(engine, "_scan_one", _fake_scan(log, [0], fail_on=30))
    with pytest.raises(RuntimeError, match="writer failed"):
        asyncio.run(engine.scan_shard(_rows(2000), _net(), lambda r: None, concurrency=20))
    assert len(log) < 200  # not the 2,000 targets: the error surfaced while the others were cancelled


def test_load_monitor_measures_loop_lag_and_dns_queue() -> None:
    dns = _Dns()

    async def main() -> tuple[tuple[float, float], tuple[float, float]]:
        monitor = engine.LoadMonitor(dns, tick_s=0.01)
        monitor.start()
        await asyncio.sleep(0.05)
        quiet = monitor.snapshot()
        await asyncio.sleep(0.05)
        calm = monitor.since(quiet)
        busy = monitor.snapshot()
        dns.queries_sent += 4
        dns.queued_s += 2.0  # four questions waited 2 s in all for a slot
        time.sleep(0.3)  # noqa: ASYNC251 - on purpose: the loop is held, the next tick runs ~0.3 s late
        await asyncio.sleep(0.02)
        loaded = monitor.since(busy)
        monitor.stop()
        return calm, loaded

    (calm_lag, calm_queue), (lag, queue) = asyncio.run(main())
    assert calm_queue == 0.0 and calm_lag < 0.1
    assert queue == 0.5  # mean wait per question sent
    assert 0.09 < lag < 0.35  # ~0.3 s late once, then on time: the mean over the ticks since


def test_back_off_when_dns_questions_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolver serves all 300 targets in flight, then only 30 at once: beyond, every question queues in
    the client. The shard cuts the number of targets in flight instead of letting them all queue into their
    budgets, and the targets that lived through the queue record it."""
    monkeypatch.setattr(engine, "LOAD_TICK_S", 0.002)  # a measuring window of 20 ms
    net = _net()
    in_flight = [0]
    log: list[int] = []

    async def scan_one(row: TargetRow, net_: Any, budget_s: float, only: Any) -> TargetResult:
        in_flight[0] += 1
        log.append(in_flight[0])
        capacity = 1000 if len(log) < 1500 else 30
        for _ in range(5):
            net.dns.queries_sent += 1
            net.dns.queued_s += max(0, in_flight[0] - capacity) * 0.01
            await asyncio.sleep(0.002)
        in_flight[0] -= 1
        return TargetResult(row.id, row.domain, Status.OK, 0.0, 1.0, [])

    monkeypatch.setattr(engine, "_scan_one", scan_one)
    results: list[TargetResult] = []
    count = asyncio.run(engine.scan_shard(_rows(8000), net, results.append, concurrency=300))
    assert count == 8000 and sorted(r.target_id for r in results) == list(range(8000))
    assert max(log[:1500]) == 300  # the whole concurrency while the resolver keeps up
    # then cut by a quarter per measuring window (~2,000 targets) down near what it serves; without the
    # cut, 300 stay in flight
    assert max(log[-2000:]) < 100
    assert max(r.queue_ms for r in results) >= engine.BUSY_S * 1000  # the overload was recorded
    assert results[0].queue_ms == 0.0
