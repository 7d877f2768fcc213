"""``Net``: the per-run network layer shared by every probe."""

from __future__ import annotations

import asyncio
import ssl
from types import TracebackType
from typing import Any

import aiohttp

from souverain.net.addresses import refuse_non_public
from souverain.net.config import NetConfig
from souverain.net.dns import DnsAnswer, DnsClient, literal_ip
from souverain.net.limiter import Limiter
from souverain.net.session import make_session
from souverain.net.tlsctx import TLS_VERSIONS, observation_context, pinned_context, validating_context

__all__ = ["Net"]


class _Slot:
    __slots__ = ("limiter", "users")

    def __init__(self, limit: int) -> None:
        self.limiter = Limiter(limit)
        self.users = 0


class _IpSlot:
    """``async with net.ip_slot(ip)``: one of the per-IP connection slots, held for the block."""

    __slots__ = ("_ip", "_limit", "_slot", "_slots")

    def __init__(self, slots: dict[str, _Slot], ip: str, limit: int) -> None:
        self._slots, self._ip, self._limit = slots, ip, limit
        self._slot: _Slot | None = None

    async def __aenter__(self) -> None:
        slot = self._slots.get(self._ip)
        if slot is None:
            slot = self._slots[self._ip] = _Slot(self._limit)
        slot.users += 1
        try:
            await slot.limiter.acquire()
        except BaseException:
            self._leave(slot)
            raise
        self._slot = slot

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            slot.limiter.release()
            self._leave(slot)

    def _leave(self, slot: _Slot) -> None:
        slot.users -= 1
        if slot.users == 0 and self._slots.get(self._ip) is slot:
            del self._slots[self._ip]


class Net:
    """Async context manager holding the DNS client, HTTP session, TLS contexts and per-IP caps.

    One ``Net`` lives for one run: its DNS cache and TLS-version cache are per run.
    """

    def __init__(self, config: NetConfig | None = None) -> None:
        self.config = config or NetConfig()
        cfg = self.config
        self.dns = DnsClient(
            cfg.resolver_address(),
            cfg.dns_timeout,
            cfg.dns_retries,
            cache_size=cfg.dns_cache_size,
            max_inflight=cfg.dns_max_inflight,
        )
        self.tls_observe: ssl.SSLContext = observation_context()
        self.tls_pinned: dict[str, ssl.SSLContext] = {v: pinned_context(v) for v in TLS_VERSIONS}
        self._tls_validating: ssl.SSLContext | None = None
        self._http: aiohttp.ClientSession | None = None
        self._slots: dict[str, _Slot] = {}
        self.tls_version_cache: dict[tuple[str, int], asyncio.Task[dict[str, Any]]] = {}
        self.trust_store: Any = None  # cryptography Store, built lazily by the tls probe

    @property
    def http(self) -> aiohttp.ClientSession:
        """The shared aiohttp session (created on first use inside the event loop)."""
        if self._http is None:
            self._http = make_session(self.config, self.dns, self.tls_observe)
        return self._http

    @property
    def tls_validating(self) -> ssl.SSLContext:
        """Context that validates certificates against ``config.ca_file``."""
        if self._tls_validating is None:
            self._tls_validating = validating_context(self.config.ca_file)
        return self._tls_validating

    async def __aenter__(self) -> Net:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for task in self.tls_version_cache.values():
            task.cancel()
        self.tls_version_cache.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None
        await self.dns.close()

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        """Shortcut for ``net.dns.query``."""
        return await self.dns.query(name, rdtype)

    def cached_addresses(self, host: str) -> list[str] | None:
        """What :meth:`addresses` would return, when it is known without asking; else ``None``."""
        ip = literal_ip(host)
        if ip is not None:
            return [ip]
        a, aaaa = self.dns.peek(host, "A"), self.dns.peek(host, "AAAA")
        if a is not None and aaaa is not None:
            return a.rrs + aaaa.rrs
        return None

    async def addresses(self, host: str) -> list[str]:
        """IPv4 then IPv6 addresses of ``host`` (through the cache); empty when none. An IP is its own."""
        known = self.cached_addresses(host)
        if known is not None:
            return known
        dns = self.dns
        v4 = asyncio.ensure_future(dns.query(host, "A"))  # both questions in flight, one task (not gather)
        try:
            v6 = await dns.query(host, "AAAA")
        except BaseException:
            v4.cancel()
            raise
        return (await v4).rrs + v6.rrs

    def ip_slot(self, ip: str) -> _IpSlot:
        """Hold one of the ``per_ip_limit`` connection slots of a destination IP (``async with``). With
        ``public_only``, a non-public destination raises :class:`AddressRefused` instead."""
        if self.config.public_only:
            refuse_non_public(ip)
        return _IpSlot(self._slots, ip, self.config.per_ip_limit)
