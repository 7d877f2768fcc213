"""Process-level settings: what every child process souverain starts needs (the scanning processes, the
assessment's helper), and the garbage collector's settings for batch work."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = [
    "GC_THRESHOLDS",
    "available_cores",
    "die_with_parent",
    "redeliver_lost_interrupts",
    "scan_gc",
    "tune_gc",
]


def die_with_parent() -> None:
    """Ask Linux to kill this process if its parent dies (kill -9 included); best effort elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def redeliver_lost_interrupts() -> None:
    """Make a Ctrl-C that lands in a finaliser count.

    Python raises ``KeyboardInterrupt`` wherever the main thread is when SIGINT arrives; inside a finaliser (a
    ``__del__`` or a weakref callback the garbage collector runs — SQLAlchemy has some) the exception is
    "ignored": printed, then lost, and the command went on — a scan interrupted 1.3 s after its start ran to
    its end. The hook sends SIGINT again instead, from another thread 50 ms later, once the finaliser is over
    (sent at once, it would be raised inside the hook and lost again): the current handler then sees it (the
    default one raises ``KeyboardInterrupt``; a running scan's event loop stops its scan)."""
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if unraisable.exc_type is KeyboardInterrupt:
            again = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
            again.daemon = True
            again.start()
            return
        previous(unraisable)

    sys.unraisablehook = hook


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


GC_THRESHOLDS = (50_000, 20, 10)
"""The cyclic garbage collector's thresholds for souverain's commands (CPython's default: 700, 10, 10).

A scan allocates and frees container objects at a high rate (futures, tasks, dicts of evidence, parsed
messages, decoded portfolio rows), and almost all of them are freed by reference counting: the collector's
passes find little, and cost a lot. 10,000-domain lab scan, CPU in the collector (``gc.callbacks``): each
scanning process 7.3–7.9 s of its ~48 s (~2,100 young, ~190 middle, 17 full collections) with the default;
0.15–0.3 s with these thresholds and what exists before the scan frozen; the command's process 2.6 → 0.6 s.
Cyclic garbage (an exception's traceback and its frames, mostly) is still collected, only later; the peak
RSS did not change (see benchmarks/README.md). ``souverain`` sets them for its whole process (``cli.main``);
the scanning processes set them and freeze what they imported (``tune_gc``)."""


def tune_gc() -> None:
    """For a scanning process: collect, move what exists now (modules, configuration, the shard) out of
    the collector's passes (``gc.freeze``: it lives as long as the process), set the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


_scans_lock = threading.Lock()
_scans_running = 0
_thresholds_before: tuple[int, ...] = ()  # when the first of the scans in progress started


@contextlib.contextmanager
def scan_gc() -> Iterator[None]:
    """For the duration of a scan in a process that goes on afterwards (the command's, the web server's):
    freeze what exists (KB, targets) and set the thresholds; both undone when the last scan in progress
    ends (the web server's on-demand scans may overlap, each in its own thread). No collection first:
    whatever garbage is frozen waits for ``gc.unfreeze`` (a full collection of a command's process that
    has loaded the KB and the targets takes ~0.05 s, at the start of the scan)."""
    global _scans_running, _thresholds_before
    with _scans_lock:
        if _scans_running == 0:
            _thresholds_before = gc.get_threshold()
        _scans_running += 1
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        with _scans_lock:
            _scans_running -= 1
            if _scans_running == 0:
                gc.set_threshold(*_thresholds_before)
                gc.unfreeze()
