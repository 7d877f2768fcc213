"""What every child process souverain starts needs (the scanning processes, the assessment's helper)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

__all__ = ["available_cores", "die_with_parent"]


def die_with_parent() -> None:
    """Ask Linux to kill this process if its parent dies (kill -9 included); best effort elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1
