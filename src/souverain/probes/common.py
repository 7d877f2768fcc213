"""Helpers shared by probes: the web host, guarded sub-checks, exception → reason mapping."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from souverain.evidence import Evidence, Status
from souverain.net.addresses import AddressRefused
from souverain.probes.base import ProbeContext

__all__ = ["SharedBudget", "classify_error", "evidence_part", "is_handshake_timeout", "mx_hosts", "web_host"]


async def web_host(ctx: ProbeContext) -> tuple[str, list[str], str]:
    """``(host, addresses, which)``: the domain if it has an address, else ``www.<domain>``."""
    addrs = await ctx.net.addresses(ctx.domain)
    if addrs:
        return ctx.domain, addrs, "domain"
    www = f"www.{ctx.domain}"
    return www, await ctx.net.addresses(www), "www"


def mx_hosts(rrs: list[str], limit: int = 10) -> list[str]:
    """Host names of MX records in presentation format (``"10 mx.example.fr."``), null MX excluded."""
    hosts: list[str] = []
    for rr in sorted(rrs, key=lambda r: (int(r.split()[0]) if r.split()[0].isdigit() else 65536, r)):
        parts = rr.split()
        if len(parts) == 2 and parts[1] != ".":
            host = parts[1].rstrip(".").lower()
            if host not in hosts:
                hosts.append(host)
    return hosts[:limit]


def is_handshake_timeout(exc: BaseException) -> bool:
    """asyncio reports an expired ``ssl_handshake_timeout`` as ConnectionAbortedError."""
    return isinstance(exc, ConnectionAbortedError) and "handshake is taking longer" in str(exc)


_MEMORY_ADDRESS = re.compile(r" object at 0x[0-9a-fA-F]+")  # aiohttp prints the SSL context's repr


def classify_error(exc: BaseException) -> tuple[Status, str]:
    """Map a network exception to a status and a short reason."""
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError) or is_handshake_timeout(exc):
        return Status.TIMEOUT, "timed out"
    if isinstance(exc, AddressRefused):  # by our own public-only policy: no packet was sent
        return Status.REFUSED, str(exc)[:300]
    if isinstance(exc, ConnectionRefusedError):
        return Status.REFUSED, "connection refused"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return Status.ERROR, f"certificate rejected: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError | ssl.SSLError):
        reason = getattr(exc, "reason", None) or _MEMORY_ADDRESS.sub("", str(exc))
        return Status.ERROR, f"TLS handshake failed: {reason}"[:300]
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, AddressRefused):
            return Status.REFUSED, str(exc.os_error)[:300]
        if isinstance(exc.os_error, ConnectionRefusedError):
            return Status.REFUSED, "connection refused"
        return Status.ERROR, f"connection failed: {exc.os_error}"[:300]
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return Status.ERROR, "server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return Status.ERROR, f"HTTP protocol error: {exc}"[:300]
    if isinstance(exc, aiohttp.ClientError | OSError):
        return Status.ERROR, f"{type(exc).__name__}: {exc}"[:300]
    return Status.BUG, f"{type(exc).__name__}: {exc}"[:300]


class SharedBudget:
    """One timer for sibling sub-checks started together with the same budget (instead of one each).

    When it expires, the sub-checks still running (each in its own task) are cancelled and each ends as
    its own ``timeout``, exactly as with a per-check ``asyncio.timeout``.
    """

    __slots__ = ("_handle", "budget_s", "expired", "running")

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.expired = False
        self.running: set[asyncio.Task[Any]] = set()
        self._handle = asyncio.get_running_loop().call_later(budget_s, self._expire)

    def _expire(self) -> None:
        self.expired = True
        for task in self.running:
            task.cancel()

    def close(self) -> None:
        self._handle.cancel()


async def _within(
    shared: SharedBudget, check: Callable[[], Awaitable[tuple[Status, dict[str, Any], str | None]]]
) -> tuple[Status, dict[str, Any], str | None]:
    """``await check()``, raising TimeoutError when ``shared`` expires first (``asyncio.timeout`` rules)."""
    task = asyncio.current_task()
    assert task is not None
    if shared.expired:
        raise TimeoutError
    cancelling = task.cancelling()
    shared.running.add(task)
    try:
        return await check()
    except asyncio.CancelledError:
        if shared.expired and task.uncancel() <= cancelling:
            raise TimeoutError from None  # our cancellation only: the budget ran out
        raise
    finally:
        shared.running.discard(task)


async def evidence_part(
    name: str,
    ctx: ProbeContext,
    check: Callable[[], Awaitable[tuple[Status, dict[str, Any], str | None]]],
    *,
    budget_s: float,
    schema_version: int,
    shared: SharedBudget | None = None,
) -> Evidence:
    """Run one sub-check of a multi-evidence probe; its failure never hides its siblings.

    Must run in its own task when ``shared`` (the siblings' common budget, replacing ``budget_s``) is given.
    """
    started, t0 = time.time(), time.perf_counter()
    data: dict[str, Any] = {}
    try:
        if shared is not None:
            budget_s = shared.budget_s
            status, data, error = await _within(shared, check)
        else:
            async with asyncio.timeout(budget_s):
                status, data, error = await check()
    except TimeoutError:
        status, error = Status.TIMEOUT, f"check budget of {budget_s:g} s exhausted"
    except Exception as exc:
        status, error = Status.BUG, f"{type(exc).__name__}: {exc}"[:500]
    return Evidence(
        probe=name,
        target=ctx.domain,
        status=status,
        data=data,
        error=error,
        started_at=started,
        duration_ms=(time.perf_counter() - t0) * 1000,
        schema_version=schema_version,
    )
