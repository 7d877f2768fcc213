"""Several scanning processes for one run: each runs ``scan_shard`` on a shard of the targets, the parent
keeps the single writer. Results cross the process boundary as JSON (orjson), never as pickled objects.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import queue as queue_mod
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from souverain.evidence import Evidence, Status
from souverain.net import Net, NetConfig
from souverain.processes import die_with_parent, tune_gc
from souverain.scan.engine import QuietWhenStopping, TargetResult, loop_factory, scan_shard
from souverain.store.rows import TargetRow

__all__ = ["scan_in_processes"]

_DONE = b""


def _encode(result: TargetResult) -> bytes:
    return orjson.dumps(
        {
            "id": result.target_id,
            "domain": result.domain,
            "status": str(result.status),
            "started": result.started_at,
            "ms": result.duration_ms,
            "lag": result.lag_ms,
            "queue": result.queue_ms,
            "evidence": [ev.to_dict() for ev in result.evidence],
        }
    )


def _decode(raw: bytes) -> TargetResult:
    doc = orjson.loads(raw)
    return TargetResult(
        doc["id"],
        doc["domain"],
        Status(doc["status"]),
        doc["started"],
        doc["ms"],
        [Evidence.from_dict(ev) for ev in doc["evidence"]],
        doc["lag"],
        doc["queue"],
    )


def _worker(
    shard: list[tuple[int, str, list[str], list[str]]],
    config: dict[str, Any],
    concurrency: int,
    budget_s: float,
    only: list[str] | None,
    out: multiprocessing.Queue[bytes],
) -> None:
    die_with_parent()
    rows = [
        TargetRow(tid, domain, frozenset(roles), tuple(sirens), "pending")
        for tid, domain, roles, sirens in shard
    ]
    config["dkim_selectors"] = tuple(config["dkim_selectors"])
    net_config = NetConfig(**config)

    quiet = QuietWhenStopping()

    async def main() -> None:
        quiet.task = asyncio.current_task()
        async with Net(net_config) as net:
            await scan_shard(
                rows,
                net,
                lambda result: out.put(_encode(result)),
                concurrency=concurrency,
                target_budget_s=budget_s,
                only=set(only) if only else None,
            )

    tune_gc()
    try:
        with quiet, asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(main())
    except KeyboardInterrupt:
        return
    out.put(_DONE)


def scan_in_processes(
    pending: Sequence[TargetRow],
    net_config: NetConfig,
    record: Callable[[TargetResult], None],
    *,
    workers: int,
    concurrency: int,
    target_budget_s: float,
    only: set[str] | None,
) -> None:
    """Scan ``pending`` in ``workers`` processes; per-IP caps and concurrency are divided between them."""
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[bytes] = context.Queue(maxsize=20_000)
    config = dataclasses.asdict(
        dataclasses.replace(net_config, per_ip_limit=max(1, net_config.per_ip_limit // workers))
    )
    processes = []
    for index in range(workers):
        shard = [(t.id, t.domain, sorted(t.roles), list(t.sirens)) for t in pending[index::workers]]
        process = context.Process(
            target=_worker,
            args=(
                shard,
                config,
                max(1, concurrency // workers),
                target_budget_s,
                sorted(only) if only else None,
                out,
            ),
            name=f"souverain-scan-{index}",
            daemon=True,
        )
        process.start()
        processes.append(process)
    done = 0
    try:
        while done < workers:
            try:
                raw = out.get(timeout=1.0)
            except queue_mod.Empty:
                if not any(p.is_alive() for p in processes):
                    break  # a worker died without finishing: its targets stay pending, resumable
                continue
            if raw == _DONE:
                done += 1
            else:
                record(_decode(raw))
    except KeyboardInterrupt:
        _drain(out, record, processes)
        raise
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


def _drain(
    out: multiprocessing.Queue[bytes],
    record: Callable[[TargetResult], None],
    processes: Sequence[multiprocessing.process.BaseProcess],
) -> None:
    """After Ctrl-C: keep what the workers had finished before they stopped."""
    for _ in range(100_000):
        try:
            raw = out.get(timeout=0.5)
        except queue_mod.Empty:
            if not any(p.is_alive() for p in processes):
                return
            continue
        if raw != _DONE:
            record(_decode(raw))
