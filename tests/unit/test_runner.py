"""Registry guard and target runner: budgets, defects, dependency order, skipping."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from souverain.evidence import Evidence, Status
from souverain.net import Net, NetConfig
from souverain.probes import REGISTRY, ProbeContext, register, run_target

ROLE = frozenset({"unit-test"})
ORDER: list[str] = []
FAKE = {"t-first", "t-second", "t-bug", "t-slow", "t-late"}


@pytest.fixture
def fake_probes() -> Iterator[None]:
    @register("t-first", version="1", roles=ROLE, budget_s=1.0)
    async def first(ctx: ProbeContext) -> list[Evidence]:
        await asyncio.sleep(0.05)
        ORDER.append("first")
        return [Evidence("t-first", ctx.domain, Status.OK, {"n": 1})]

    @register("t-second", version="2", roles=ROLE, needs=("t-first",), budget_s=1.0)
    async def second(ctx: ProbeContext) -> list[Evidence]:
        ORDER.append("second")
        seen = ctx.first("t-first")
        return [Evidence("t-second", ctx.domain, Status.OK, {"saw": seen.data if seen else None})]

    @register("t-bug", version="1", roles=ROLE, budget_s=1.0)
    async def bug(ctx: ProbeContext) -> list[Evidence]:
        raise KeyError("oops")

    @register("t-slow", version="1", roles=ROLE, budget_s=0.1)
    async def slow(ctx: ProbeContext) -> list[Evidence]:
        await asyncio.sleep(5)
        return []

    @register("t-late", version="1", roles=ROLE, needs=("t-slow",), budget_s=1.0)
    async def late(ctx: ProbeContext) -> list[Evidence]:
        return [Evidence("t-late", ctx.domain, Status.OK)]

    ORDER.clear()
    yield
    for name in FAKE:
        REGISTRY.pop(name)


def test_guard_order_and_budget(fake_probes: None) -> None:
    async def main() -> dict[str, Evidence]:
        async with Net(NetConfig(resolver="127.0.0.1:9")) as net:
            items = await run_target("Example.FR.", ROLE, net, budget_s=5, only=FAKE)
        return {e.probe: e for e in items}

    ev = asyncio.run(main())
    assert ORDER == ["first", "second"]
    assert ev["t-second"].data == {"saw": {"n": 1}} and ev["t-second"].probe_version == "2"
    assert ev["t-bug"].status is Status.BUG and ev["t-bug"].error == "KeyError: 'oops'"
    assert ev["t-slow"].status is Status.TIMEOUT
    assert ev["t-late"].status is Status.OK
    assert all(e.target == "example.fr" for e in ev.values())


def test_target_budget_skips_and_only(fake_probes: None) -> None:
    async def main() -> dict[str, Evidence]:
        async with Net(NetConfig(resolver="127.0.0.1:9")) as net:
            items = await run_target("example.fr", ROLE, net, budget_s=0.02, only={"t-second"})
        return {e.probe: e for e in items}

    ev = asyncio.run(main())
    assert set(ev) == {"t-first", "t-second"}  # ``only`` pulls in what it needs
    assert ev["t-first"].status is Status.TIMEOUT
    assert ev["t-second"].status is Status.SKIPPED and "budget" in (ev["t-second"].error or "")


def test_registry_contents() -> None:
    assert {"dns", "mail", "tls", "http", "page"} <= set(REGISTRY)
    assert REGISTRY["page"].needs == ("http",)
    assert REGISTRY["dns"].applies(frozenset({"other"}))
    assert not REGISTRY["mail"].applies(frozenset({"web"}))
