"""The O(1) concurrency limiter, the shared sub-check budget, the literal-IP shortcut, error reasons."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
from aiohttp.client_reqrep import ConnectionKey

from souverain.evidence import Status
from souverain.net.dns import literal_ip
from souverain.net.limiter import Limiter
from souverain.probes.base import ProbeContext
from souverain.probes.common import SharedBudget, classify_error, evidence_part


def test_limiter_caps_holders_and_serves_in_order() -> None:
    async def main() -> tuple[int, list[int]]:
        limiter = Limiter(2)
        holding, peak, order = 0, 0, []

        async def user(i: int) -> None:
            nonlocal holding, peak
            async with limiter:
                holding += 1
                peak = max(peak, holding)
                order.append(i)
                await asyncio.sleep(0.01)
                holding -= 1

        await asyncio.gather(*(user(i) for i in range(10)))
        return peak, order

    peak, order = asyncio.run(main())
    assert peak == 2
    assert order == list(range(10))


def test_limiter_cancelled_waiter_does_not_leak_a_slot() -> None:
    async def main() -> bool:
        limiter = Limiter(1)
        await limiter.acquire()
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        limiter.release()
        async with asyncio.timeout(1):
            await limiter.acquire()  # the slot came back
        return limiter.locked()

    assert asyncio.run(main()) is True


def test_shared_budget_times_out_each_unfinished_part() -> None:
    async def fast() -> tuple[Status, dict[str, Any], str | None]:
        await asyncio.sleep(0.01)
        return Status.OK, {"n": 1}, None

    async def slow() -> tuple[Status, dict[str, Any], str | None]:
        await asyncio.sleep(5)
        return Status.OK, {}, None

    async def main() -> list[tuple[str, Status, str | None]]:
        ctx = ProbeContext("example.fr", frozenset({"mail"}), net=None)  # type: ignore[arg-type]
        shared = SharedBudget(0.2)
        try:
            items = await asyncio.gather(
                *(
                    evidence_part(name, ctx, check, budget_s=0.2, schema_version=1, shared=shared)
                    for name, check in (("fast", fast), ("slow", slow))
                )
            )
        finally:
            shared.close()
        return [(e.probe, e.status, e.error) for e in items]

    assert asyncio.run(main()) == [
        ("fast", Status.OK, None),
        ("slow", Status.TIMEOUT, "check budget of 0.2 s exhausted"),
    ]


def test_shared_budget_lets_outer_cancellation_through() -> None:
    async def slow() -> tuple[Status, dict[str, Any], str | None]:
        await asyncio.sleep(5)
        return Status.OK, {}, None

    async def main() -> str:
        ctx = ProbeContext("example.fr", frozenset({"mail"}), net=None)  # type: ignore[arg-type]
        shared = SharedBudget(1.0)
        task = asyncio.ensure_future(
            asyncio.gather(evidence_part("slow", ctx, slow, budget_s=1.0, schema_version=1, shared=shared))
        )
        await asyncio.sleep(0.05)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        finally:
            shared.close()
        return "finished"

    assert asyncio.run(main()) == "cancelled"


def test_literal_ip() -> None:
    assert literal_ip("192.0.2.1") == "192.0.2.1"
    assert literal_ip("[2001:DB8::1]") == "2001:db8::1"
    assert literal_ip("example.fr") is None
    assert literal_ip("1.2.3.4.") is None
    assert literal_ip("999.1.1.1") is None
    assert literal_ip("") is None


def test_tls_error_reason_carries_no_memory_address() -> None:
    """aiohttp's message embeds the SSL context's repr (``object at 0x…``): the evidence must not vary."""
    reasons = set()
    for _ in range(2):
        key = ConnectionKey("mta-sts.example.fr", 443, True, ssl.create_default_context(), None, None, None)
        cause = ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version")
        status, reason = classify_error(aiohttp.ClientConnectorSSLError(key, cause))
        assert status is Status.ERROR
        reasons.add(reason)
    (reason,) = reasons
    assert "0x" not in reason
    assert reason.startswith("TLS handshake failed: Cannot connect to host mta-sts.example.fr:443")
    assert "TLSV1_ALERT_PROTOCOL_VERSION" in reason
