"""The order targets are scanned in: spread out, fixed by the run; and the heap trimmer's cadence."""

from __future__ import annotations

import itertools

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
