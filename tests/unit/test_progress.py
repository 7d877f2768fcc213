"""Progress in a log: lines at an interval and at the end, instead of nothing (the bar needs a terminal)."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from souverain.progress import LineProgress, progress_bar


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=200), buffer


def test_a_log_gets_lines_while_the_work_goes_on_and_when_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOUVERAIN_PROGRESS_INTERVAL", "0.05")
    console, buffer = _console()
    bar = progress_bar(console)
    assert isinstance(bar, LineProgress)
    with bar:
        task = bar.add_task("[bold]scan run 3", total=230)
        for _ in range(229):
            bar.advance(task)
        time.sleep(0.3)  # several intervals with nothing new but the elapsed time
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("scan run 3: 229 of 230 (99 %), ")  # not "100 %"; markup removed
    assert "elapsed" in lines[0]
    assert lines[-1].startswith("scan run 3: 229 of 230 (99 %)")
    with progress_bar(console) as bar:
        task = bar.add_task("assess run 3", total=2)
        bar.advance(task, 2)
    assert buffer.getvalue().splitlines()[-1].startswith("assess run 3: 2 of 2 (100 %), ")
    assert "done in 0:00:00" in buffer.getvalue().splitlines()[-1]


def test_a_task_without_progress_says_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOUVERAIN_PROGRESS_INTERVAL", "0.05")
    console, buffer = _console()
    with progress_bar(console) as bar:
        bar.add_task("scan run 4", total=None)  # before on_start sets the total
        time.sleep(0.2)
    assert buffer.getvalue() == ""


def test_progress_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOUVERAIN_PROGRESS", "0")
    monkeypatch.setenv("SOUVERAIN_PROGRESS_INTERVAL", "0.05")
    console, buffer = _console()
    with progress_bar(console) as bar:
        task = bar.add_task("scan", total=3)
        bar.advance(task, 3)
        time.sleep(0.2)
    assert buffer.getvalue() == ""


def test_rate_and_time_left_are_the_average_of_the_work_this_command_did() -> None:
    """rich's speed spans its last samples: a batch of results arriving at once showed "1,168.3/s" at
    concurrency 1, and the rate and time left stayed frozen while nothing finished (the audit's 9 s of
    "21.0/s, 0:00:01 left" when the real rate had fallen to 6/s)."""
    from rich.progress import Progress

    from souverain.progress import rate, time_left

    now = [0.0]
    bar = Progress(get_time=lambda: now[0], disable=True)
    task_id = bar.add_task("scan run 3", total=100)
    bar.update(task_id, completed=40, baseline=40)  # a resumed run: 40 targets done by an earlier command
    now[0] = 2.0
    bar.advance(task_id, 10)  # a batch of ten results at once
    task = bar.tasks[0]
    assert rate(task) == 5.0 and time_left(task) == 10.0  # 10 in 2 s, 50 left
    now[0] = 12.0  # nothing finishes for 10 s: the rate falls, the time left grows
    assert rate(task) == pytest.approx(10 / 12) and time_left(task) == pytest.approx(60.0)
    now[0] = 0.5
    assert rate(task) is None  # too early to say
