"""How targets are scanned: spread out in an order fixed by the run, slow start, heap trimmer's cadence."""

from __future__ import annotations

import asyncio
import itertools
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
        engine.scan_shard(_rows(400), None, lambda r: seen.append(r.target_id), concurrency=50)
    )  # type: ignore[arg-type]
    assert count == 400 and sorted(seen) == list(range(400))  # each target once
    assert log[engine.SLOW_START] <= engine.SLOW_START  # the next one waits for one to finish
    assert max(log) == 50  # then the whole concurrency is used, never more


def test_a_failing_result_handler_stops_the_shard_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[int] = []
    monkeypatch.setattr(engine, "_scan_one", _fake_scan(log, [0], fail_on=30))
    with pytest.raises(RuntimeError, match="writer failed"):
        asyncio.run(engine.scan_shard(_rows(2000), None, lambda r: None, concurrency=20))  # type: ignore[arg-type]
    assert len(log) < 200  # not the 2,000 targets: the error surfaced while the others were cancelled
