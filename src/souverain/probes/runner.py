"""Run the applicable probes of one target in dependency order within a target budget."""

from __future__ import annotations

import asyncio
import time

from souverain.evidence import Evidence, Status
from souverain.net import Net
from souverain.probes.base import REGISTRY, ProbeContext, ProbeSpec, run_guarded

__all__ = ["run_target"]


def _selected(roles: frozenset[str], only: set[str] | None) -> dict[str, ProbeSpec]:
    """Applicable probes; ``only`` is closed over ``needs`` so a dependency is never missing."""
    wanted = set(REGISTRY) if only is None else {n for n in only if n in REGISTRY}
    stack = list(wanted)
    while stack:
        for need in REGISTRY[stack.pop()].needs:
            if need in REGISTRY and need not in wanted:
                wanted.add(need)
                stack.append(need)
    return {n: REGISTRY[n] for n in sorted(wanted) if REGISTRY[n].applies(roles)}


async def run_target(
    domain: str,
    roles: frozenset[str],
    net: Net,
    *,
    budget_s: float = 60.0,
    only: set[str] | None = None,
) -> list[Evidence]:
    """All evidence for one target. Independent probes run concurrently; a probe starts once the probes
    it needs are done; once ``budget_s`` is spent no new probe starts (it is recorded as ``skipped``) and a
    running probe's budget is cut to what remains of the target's."""
    domain = domain.strip().rstrip(".").lower()
    specs = _selected(roles, only)
    ctx = ProbeContext(domain=domain, roles=roles, net=net, planned=frozenset(specs))
    deadline = time.monotonic() + budget_s
    done: dict[str, asyncio.Event] = {name: asyncio.Event() for name in specs}

    async def run_one(spec: ProbeSpec) -> list[Evidence]:
        try:
            for need in spec.needs:
                if need in done:
                    await done[need].wait()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                items = [
                    Evidence(
                        probe=spec.name,
                        target=domain,
                        status=Status.SKIPPED,
                        error="target budget exhausted before the probe started",
                        probe_version=spec.version,
                        schema_version=spec.schema_version,
                    )
                ]
            else:
                items = await run_guarded(spec, ctx, remaining)
            ctx.evidence[spec.name] = items
            return items
        finally:
            done[spec.name].set()

    results = await asyncio.gather(*(run_one(spec) for spec in specs.values()))
    return [item for items in results for item in items]
