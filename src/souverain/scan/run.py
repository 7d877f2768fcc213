"""Drive a run: pending targets → scan_shard → single writer, with progress and clean interruption."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from souverain.errors import InputError
from souverain.net import Net, NetConfig
from souverain.processes import scan_gc
from souverain.scan.engine import QuietWhenStopping, TargetResult, loop_factory, scan_shard
from souverain.scan.workers import scan_in_processes
from souverain.store import Store, TargetRow, Writer
from souverain.store.db import RecordedTarget
from souverain.store.rows import is_busy

__all__ = ["ScanInterrupted", "ScanOptions", "ScanSummary", "run_scan"]


@dataclass(frozen=True, slots=True)
class ScanOptions:
    concurrency: int = 200
    target_budget_s: float = 60.0
    only: frozenset[str] | None = None
    workers: int = 0  # scanning processes; 0 = automatic (2 from 1,000 pending targets on, else 1)


@dataclass(slots=True)
class ScanSummary:
    run_id: int
    scanned: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    busy: dict[str, int] = field(default_factory=dict)
    """Targets scanned while their scanning process delayed its own work (``store.rows.is_busy``), by
    status."""
    worst_lag_ms: float = 0.0
    worst_queue_ms: float = 0.0


class ScanInterrupted(Exception):
    """The scan was interrupted; finished targets are stored and the run can be resumed."""

    def __init__(self, run_id: int, saved: int) -> None:
        super().__init__(
            f"run {run_id} interrupted after {saved} target(s) saved; "
            f"resume with: souverain scan --resume {run_id}"
        )
        self.run_id = run_id
        self.saved = saved


def net_config_from(config: dict[str, Any]) -> NetConfig:
    """NetConfig from a run's stored configuration; a bad resolver is an InputError naming it."""
    values = {k: v for k, v in config.items() if k in NetConfig.__dataclass_fields__ and v is not None}
    net_config = NetConfig(**values)
    host, port = net_config.resolver_address() if _parses(net_config) else ("", 0)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        reason = "expected an IP address, optionally with :port"
        raise InputError(f"--resolver '{net_config.resolver}': {reason}") from None
    if not 0 < port < 65536:
        raise InputError(f"--resolver '{net_config.resolver}': port out of range")
    return net_config


def _parses(net_config: NetConfig) -> bool:
    try:
        net_config.resolver_address()
    except ValueError:
        return False
    return True


def spread(targets: Sequence[TargetRow], run_id: int) -> list[TargetRow]:
    """The targets in a pseudo-random order fixed by the run (the same after a resume).

    Portfolios are sorted (by territory, by name): neighbouring bodies often share a provider, and a
    scan in that order hits one provider's servers in bursts, queues behind its per-IP cap, and leaves
    whatever is slow in one part of the file to the end of the run. Spread out, the load on each
    provider is even and a slow target overlaps with the others instead of delaying the end."""

    def key(t: TargetRow) -> bytes:
        return hashlib.blake2b(f"{run_id}:{t.domain}".encode(), digest_size=8).digest()

    return sorted(targets, key=key)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_scan(
    store: Store,
    run_id: int,
    net_config: NetConfig,
    options: ScanOptions,
    *,
    on_start: Callable[[int, int], None] | None = None,
    on_result: Callable[[TargetResult], None] | None = None,
    on_batch: Callable[[list[RecordedTarget]], None] | None = None,
) -> ScanSummary:
    """Scan every pending target of ``run_id``. ``on_start(pending, total)`` then ``on_result`` per target;
    ``on_batch`` in the writer's thread with each batch of targets it recorded (see ``Writer``)."""
    all_targets = store.targets(run_id)
    pending = spread([t for t in all_targets if t.status == "pending"], run_id)
    if on_start is not None:
        on_start(len(pending), len(all_targets))
    summary = ScanSummary(run_id)
    clock = time.perf_counter()
    writer = Writer(store, on_batch=on_batch)
    writer.__enter__()
    store.set_run_status(run_id, "running")

    def record(result: TargetResult) -> None:
        writer.submit(
            (
                run_id,
                result.target_id,
                str(result.status),
                result.started_at,
                result.duration_ms,
                result.evidence,
                result.lag_ms,
                result.queue_ms,
            )
        )
        summary.scanned += 1
        if is_busy(result.lag_ms, result.queue_ms):
            summary.busy[str(result.status)] = summary.busy.get(str(result.status), 0) + 1
            summary.worst_queue_ms = max(summary.worst_queue_ms, result.queue_ms)
            summary.worst_lag_ms = max(summary.worst_lag_ms, result.lag_ms)
        if on_result is not None:
            on_result(result)

    quiet = QuietWhenStopping()

    async def main() -> None:
        task = quiet.task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            async with Net(net_config) as net:
                await scan_shard(
                    pending,
                    net,
                    record,
                    concurrency=options.concurrency,
                    target_budget_s=options.target_budget_s,
                    only=set(options.only) if options.only else None,
                )
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    interrupted = False
    workers = options.workers if options.workers > 0 else (2 if len(pending) >= 1000 else 1)
    workers = max(1, min(workers, len(pending)))
    try:
        if workers == 1:
            with scan_gc(), quiet, asyncio.Runner(loop_factory=loop_factory()) as runner:
                runner.run(main())
        else:
            previous = signal.signal(signal.SIGTERM, _raise_interrupt)
            try:
                with scan_gc():  # this process writes and attributes what the workers send
                    scan_in_processes(
                        pending,
                        net_config,
                        record,
                        workers=workers,
                        concurrency=options.concurrency,
                        target_budget_s=options.target_budget_s,
                        only=set(options.only) if options.only else None,
                    )
            finally:
                signal.signal(signal.SIGTERM, previous)
    except (KeyboardInterrupt, asyncio.CancelledError):
        interrupted = True
    finally:
        writer.close()
    summary.seconds = time.perf_counter() - clock
    summary.counts = store.status_counts(run_id)
    if interrupted or summary.counts.get("pending", 0):
        store.set_run_status(run_id, "interrupted")
        raise ScanInterrupted(run_id, summary.scanned)
    store.set_run_status(run_id, "completed")
    return summary
