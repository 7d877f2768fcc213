"""Probe registry and the guard that turns budgets and defects into evidence.

A probe is an async function ``run(ctx) -> list[Evidence]`` registered with :func:`register`. It must
record a misbehaving target as data; the guard (:func:`run_guarded`) still catches anything that escapes:

- its budget (``asyncio.timeout``) running out → one ``timeout`` evidence;
- any other exception → one ``bug`` evidence with the exception type and message (no traceback).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from souverain.evidence import Evidence, Status
from souverain.net import Net

__all__ = ["REGISTRY", "ProbeContext", "ProbeSpec", "register", "run_guarded"]


@dataclass(slots=True)
class ProbeContext:
    """What a probe gets: the target, its roles, the network and the evidence gathered so far."""

    domain: str
    roles: frozenset[str]
    net: Net
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    scratch: dict[str, Any] = field(default_factory=dict)  # probe-to-probe hand-over, never recorded
    planned: frozenset[str] = frozenset()  # the probes run for this target

    def signal(self, name: str) -> asyncio.Event:
        """A named event shared by the probes of this target (created on first use)."""
        event = self.scratch.get(name)
        if not isinstance(event, asyncio.Event):
            event = self.scratch[name] = asyncio.Event()
        return event

    def first(self, probe: str) -> Evidence | None:
        """The first evidence recorded by ``probe`` for this target, if any."""
        items = self.evidence.get(probe)
        return items[0] if items else None


ProbeRun = Callable[[ProbeContext], Awaitable[list[Evidence]]]


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """A registered probe: applies to targets having one of ``roles`` ("*" for all)."""

    name: str
    version: str
    roles: frozenset[str]
    needs: tuple[str, ...]
    budget_s: float
    run: ProbeRun
    schema_version: int = 1

    def applies(self, roles: frozenset[str]) -> bool:
        return "*" in self.roles or bool(self.roles & roles)


REGISTRY: dict[str, ProbeSpec] = {}


def register(
    name: str,
    *,
    version: str,
    roles: frozenset[str],
    needs: tuple[str, ...] = (),
    budget_s: float,
    schema_version: int = 1,
) -> Callable[[ProbeRun], ProbeRun]:
    """Decorator adding a probe to :data:`REGISTRY`."""

    def decorate(run: ProbeRun) -> ProbeRun:
        if name in REGISTRY:
            raise ValueError(f"probe {name!r} registered twice")
        REGISTRY[name] = ProbeSpec(name, version, roles, needs, budget_s, run, schema_version)
        return run

    return decorate


def _stamp(spec: ProbeSpec, items: list[Evidence], started: float, elapsed_ms: float) -> list[Evidence]:
    for item in items:
        item.probe_version = spec.version
        if not item.duration_ms:  # the probe did not time this item itself: it took the whole probe
            item.duration_ms = elapsed_ms
            item.started_at = started
    return items


async def run_guarded(spec: ProbeSpec, ctx: ProbeContext, budget_s: float | None = None) -> list[Evidence]:
    """Run one probe under its budget; never raises (cancellation aside)."""
    budget = spec.budget_s if budget_s is None else min(spec.budget_s, budget_s)
    started, t0 = time.time(), time.perf_counter()

    def single(status: Status, error: str) -> list[Evidence]:
        return [
            Evidence(
                probe=spec.name,
                target=ctx.domain,
                status=status,
                error=error,
                started_at=started,
                schema_version=spec.schema_version,
            )
        ]

    try:
        async with asyncio.timeout(budget):
            items = await spec.run(ctx)
    except TimeoutError:
        items = single(Status.TIMEOUT, f"probe budget of {budget:g} s exhausted")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a defect in souverain: recorded, never propagated
        items = single(Status.BUG, f"{type(exc).__name__}: {exc}"[:500])
    return _stamp(spec, items, started, (time.perf_counter() - t0) * 1000)
