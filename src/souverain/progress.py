"""Progress of long work on the command line: a bar redrawn in place on a terminal; in a log (CI, cron, a
pipe) a plain line per task every ``SOUVERAIN_PROGRESS_INTERVAL`` seconds (default 10) and when it ends.
``SOUVERAIN_PROGRESS=0`` turns both off."""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

__all__ = ["LineProgress", "RateColumn", "TimeLeftColumn", "progress_bar", "rate", "time_left"]


def rate(task: Task) -> float | None:
    """Items per second since the task started, counting the items done by this command only (a task's
    ``baseline`` field: the targets a resumed run had done before). Not rich's speed: that one spans its
    last samples only, so it showed the burst of a batch of results arriving at once ("1,168.3/s" at
    concurrency 1) and stayed frozen, with its time left, while nothing finished."""
    elapsed = task.finished_time if task.finished else task.elapsed
    done = task.completed - float(task.fields.get("baseline", 0))
    if not elapsed or elapsed < 1.0 or done <= 0:
        return None
    return done / elapsed


def time_left(task: Task) -> float | None:
    speed = rate(task)
    if speed is None or task.total is None or task.finished:
        return None
    return max(0.0, task.total - task.completed) / speed


class RateColumn(ProgressColumn):
    """Items per second (``rate``)."""

    def render(self, task: Task) -> Text:
        speed = rate(task)
        return Text(f"{speed:,.1f}/s" if speed else "–/s", style="progress.data.speed")


class TimeLeftColumn(ProgressColumn):
    """Time left at the average rate (``time_left``)."""

    def render(self, task: Task) -> Text:
        left = time_left(task)
        return Text("-:--:--" if left is None else _duration(left), style="progress.remaining")


def _duration(seconds: float | None) -> str:
    return "?" if seconds is None else str(dt.timedelta(seconds=int(seconds)))


def describe(task: Task) -> str:
    """One line: ``scan run 3: 1,200 of 10,000 (12 %), 120.3/s, 0:00:10 elapsed, 0:01:13 left``."""
    text = Text.from_markup(task.description).plain
    done = f"{task.completed:,.0f}"
    if task.total is not None:
        done += f" of {task.total:,.0f} ({math.floor(task.percentage)} %)"  # 229 of 230 is not 100 %
    speed = rate(task)
    parts = [f"{text}: {done}"]
    if speed:
        parts.append(f"{speed:,.1f}/s")
    parts.append(f"{_duration(task.elapsed)} elapsed")
    if task.finished:
        parts[-1] = f"done in {_duration(task.finished_time or task.elapsed)}"
    elif (left := time_left(task)) is not None:
        parts.append(f"{_duration(left)} left")
    return ", ".join(parts)


class LineProgress(Progress):
    """The bar's bookkeeping without its display: a line per started task every ``interval`` seconds, and a
    last one for each when the work stops — what a log can keep."""

    def __init__(self, *columns: Any, interval: float, **kwargs: Any) -> None:
        super().__init__(*columns, disable=True, **kwargs)
        self._interval = interval
        self._stopping = threading.Event()
        self._reporter: threading.Thread | None = None
        self._said: dict[TaskID, str] = {}

    def start(self) -> None:
        super().start()
        self._stopping.clear()
        self._reporter = threading.Thread(target=self._report_every, name="progress-lines", daemon=True)
        self._reporter.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._reporter is not None:
            self._reporter.join()
            self._reporter = None
        self._report()
        super().stop()

    def _report_every(self) -> None:
        while not self._stopping.wait(self._interval):
            self._report()

    def _report(self) -> None:
        with self._lock:
            tasks = [t for t in self.tasks if t.started and (t.completed or t.total)]
        for task in tasks:
            line = describe(task)
            if self._said.get(task.id) != line:  # nothing new: say nothing
                self._said[task.id] = line
                self.console.print(line, markup=False, highlight=False)


def progress_bar(console: Console) -> Progress:
    """The progress display of long commands on ``console`` (see the module's docstring)."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeLeftColumn(),
    )
    setting = os.environ.get("SOUVERAIN_PROGRESS")
    if setting == "0":
        return Progress(*columns, console=console, disable=True)
    if console.is_terminal:
        return Progress(*columns, console=console, transient=False)
    try:
        interval = float(os.environ.get("SOUVERAIN_PROGRESS_INTERVAL", "10"))
    except ValueError:
        interval = 10.0
    return LineProgress(*columns, console=console, interval=max(interval, 0.1))
