"""The single writer: a thread that records finished targets in batches, so the event loop never blocks."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType

from souverain.store.db import RecordedTarget, Store

__all__ = ["Writer"]

_Item = RecordedTarget
_STOP = object()


class Writer:
    """Batches (at most ``batch`` targets or ``interval`` seconds) and commits each batch atomically."""

    def __init__(
        self,
        store: Store,
        *,
        batch: int = 200,
        interval: float = 0.5,
        on_batch: Callable[[list[RecordedTarget]], None] | None = None,
    ) -> None:
        """``on_batch``: called in the writer's thread with the targets of each committed batch that were
        written (not those already recorded); it must not raise."""
        self.store = store
        self.on_batch = on_batch
        self.batch = batch
        self.interval = interval
        self.queue: queue.Queue[object] = queue.Queue(maxsize=10_000)
        self.written = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="souverain-writer", daemon=True)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def submit(self, item: _Item) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def close(self) -> None:
        if self.thread.is_alive():
            self.queue.put(_STOP)
            self.thread.join()
        if self.error is not None:
            raise self.error

    def _loop(self) -> None:
        pending: list[_Item] = []
        deadline = time.monotonic() + self.interval
        stop = False
        while not stop:
            try:
                item = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                if item is _STOP:
                    stop = True
                else:
                    pending.append(item)  # type: ignore[arg-type]
            except queue.Empty:
                pass
            if pending and (stop or len(pending) >= self.batch or time.monotonic() >= deadline):
                try:
                    written = self.store.record_targets(pending)
                    self.written += len(written)
                    if self.on_batch is not None and written:
                        self.on_batch([item for item in pending if item[1] in written])
                except BaseException as exc:  # surfaced to the scan by submit()/close()
                    self.error = exc
                    return
                pending = []
            if time.monotonic() >= deadline:
                deadline = time.monotonic() + self.interval
