"""DNS stub client: EDNS queries to one recursive resolver, per-run cache, in-flight de-duplication.

The resolver's DNSSEC verdict is its AD flag. Queries ask for it with the AD bit (RFC 6840 §5.7) when the
resolver is seen to honour that — its answer for the root's SOA carries AD — and with the DO bit
otherwise (then the answers carry the signatures and denial proofs too, which the client does not use).

A few shared, connected UDP sockets multiplex queries by message id (no socket per query); a truncated
answer is retried over TCP. Messages are built and read by the small codec of :mod:`souverain.net.wire`
(answer section only), with dnspython as the fallback for anything it does not handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import math
import random
import socket
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from souverain.evidence import Status
from souverain.net import wire
from souverain.net.limiter import Limiter

__all__ = ["DnsAnswer", "DnsClient", "literal_ip", "txt_to_str"]

MAX_CNAME_CHAIN = 12
_EDNS_PAYLOAD = 1232
_FAST_TYPES = frozenset(wire.TYPES.values())
_AD, _TC = int(dns.flags.AD), int(dns.flags.TC)
_RCVBUF = 4 * 1024 * 1024
_CNAME = int(dns.rdatatype.CNAME)
_RCODE_TEXT = {code: dns.rcode.to_text(dns.rcode.Rcode(code)) for code in range(16)}
_RCODE_STATUS: dict[int, Status] = {
    int(dns.rcode.NOERROR): Status.OK,
    int(dns.rcode.NXDOMAIN): Status.NOT_FOUND,
    int(dns.rcode.REFUSED): Status.REFUSED,
}


@dataclass(slots=True)
class DnsAnswer:
    """The outcome of one (name, type) question, CNAME chain followed."""

    name: str
    rdtype: str
    status: Status
    rcode: str | None = None
    ad: bool = False
    tc: bool = False
    rrs: list[str] = field(default_factory=list)
    ttl: int | None = None
    cname_chain: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    error: str | None = None

    @property
    def nodata(self) -> bool:
        return self.status is Status.OK and not self.rrs

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": str(self.status),
            "rcode": self.rcode,
            "ad": self.ad,
            "tc": self.tc,
            "rrs": self.rrs,
            "ttl": self.ttl,
            "elapsed_ms": round(self.elapsed_ms, 2),
        }
        if self.cname_chain:
            out["cname_chain"] = self.cname_chain
        if self.nodata:
            out["nodata"] = True
        if self.error:
            out["error"] = self.error
        return out


@lru_cache(maxsize=65_536)
def literal_ip(host: str) -> str | None:
    """``host`` as a normalised IP address when it is one (``[v6]`` accepted), else ``None``."""
    host = host.strip("[]")
    if ":" not in host and not host[-1:].isdigit():  # an IPv4 address ends with a digit, IPv6 has ":"
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def txt_to_str(strings: Any) -> str:
    """Join the character-strings of a TXT rdata; UTF-8, else latin-1 (never raises)."""
    raw = b"".join(strings)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _presentation(rdata: Any) -> str:
    if rdata.rdtype in (dns.rdatatype.TXT, dns.rdatatype.SPF):
        return txt_to_str(rdata.strings)
    if rdata.rdtype == dns.rdatatype.CAA:
        return str(rdata.to_text())
    return str(rdata.to_text()).lower()  # names are case-insensitive: one spelling for matching


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


_RRsets = dict[tuple[str, int], tuple[int, list[str]]]


def _build(name: str, qtype: int, qid: int, dnssec_ok: bool = True) -> bytes:
    try:
        return wire.build_query(name, qtype, qid, dnssec_ok)
    except (wire.Unsupported, UnicodeError):
        rdtype = dns.rdatatype.RdataType(qtype)
        query = dns.message.make_query(name, rdtype, want_dnssec=dnssec_ok, payload=_EDNS_PAYLOAD)
        if not dnssec_ok:
            query.flags |= dns.flags.AD
        query.id = qid
        return bytes(query.to_wire())


_TICK = 0.01  # UDP waits end on the next 10 ms boundary after their deadline: one timer per tick


def _expire(bucket: list[asyncio.Future[bytes]]) -> None:
    for fut in bucket:
        if not fut.done():
            fut.set_exception(TimeoutError())


def _parse(reply: bytes, qid: int, name: str, qtype: int, question: bytes) -> tuple[int, int, _RRsets, bool]:
    """Answer records by (owner, type) and whether the answer is negative (an SOA in the authority
    section); the fast codec first, dnspython for anything unusual."""
    if qtype in _FAST_TYPES:
        try:
            flags, rcode, records, negative = wire.parse_response(reply, qid, question, qtype)
        except wire.Unsupported:
            pass
        else:
            rrsets: _RRsets = {}
            for owner, rtype, ttl, text in records:
                entry = rrsets.setdefault((owner, rtype), (ttl, []))
                entry[1].append(text)
            return flags, rcode, rrsets, negative
    msg = dns.message.from_wire(reply, ignore_trailing=True)
    asked = msg.question[0] if msg.question else None
    if msg.id != qid or asked is None or asked.rdtype != qtype:
        raise ValueError("not a response to this query")
    if _norm(asked.name.to_text()) != _norm(name):
        raise ValueError("not a response to this query")
    rrsets = {}
    for rrset in msg.answer:
        if rrset.rdtype in (qtype, dns.rdatatype.CNAME):
            key = (_norm(rrset.name.to_text()), int(rrset.rdtype))
            rrsets[key] = (rrset.ttl, [_presentation(rd) for rd in rrset])
    negative = any(rrset.rdtype == dns.rdatatype.SOA for rrset in msg.authority)
    return int(msg.flags), int(msg.rcode()), rrsets, negative


class _UdpMux(asyncio.DatagramProtocol):
    """One connected UDP socket; replies are matched to waiters by message id."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, asyncio.Future[bytes]] = {}
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 12:
            return
        fut = self.pending.pop(int.from_bytes(data[:2], "big"), None)
        if fut is not None and not fut.done():
            fut.set_result(data)

    def error_received(self, exc: Exception) -> None:  # ICMP errors: waiters time out
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("DNS socket closed"))
        self.pending.clear()


class DnsClient:
    """Cached, de-duplicated DNS questions to the configured recursive resolver."""

    def __init__(
        self,
        resolver: tuple[str, int],
        timeout: float,
        retries: int = 2,
        sockets: int = 4,
        cache_size: int = 100_000,
        max_inflight: int = 512,
    ) -> None:
        self.server, self.port = resolver
        self.timeout = timeout
        self.retries = max(0, retries)
        self._n_sockets = sockets
        self._muxes: list[_UdpMux] = []
        self._next = 0
        self._open_lock = asyncio.Lock()
        self._cache: dict[tuple[str, str], asyncio.Future[DnsAnswer]] = {}
        self.cache_size = max(16, cache_size)
        self._inflight = Limiter(max(1, max_inflight))  # do not flood the resolver
        self._deadlines: dict[int, list[asyncio.Future[bytes]]] = {}  # tick -> UDP waits ending then
        self.queries_sent = 0
        self.queued_s = 0.0
        """Time questions waited for one of the ``max_inflight`` slots (the client's own queue)."""
        self.dnssec_ok = True  # DO bit in queries; False once the resolver showed it honours the AD bit
        self._mode: asyncio.Future[None] | None = None  # the one-time check of that

    async def _choose_mode(self) -> None:
        """Ask the root's SOA with the AD bit and no DO bit: an answer with AD means the resolver honours
        RFC 6840 §5.7, and later queries ask that way. Anything else (no AD, no answer) keeps the DO bit."""
        try:
            flags, rcode, *_ = await self._exchange(".", wire.TYPES["SOA"], dnssec_ok=False)
        except (TimeoutError, OSError, EOFError, ValueError, dns.exception.DNSException):
            return  # the questions themselves will record what is wrong with the resolver
        self.dnssec_ok = not (flags & _AD and rcode == 0)

    async def close(self) -> None:
        for mux in self._muxes:
            if mux.transport is not None:
                mux.transport.close()
        self._muxes.clear()
        if self._mode is not None and not self._mode.done():
            self._mode.cancel()
        for fut in self._cache.values():
            fut.cancel()
        self._cache.clear()

    def peek(self, name: str, rdtype: str) -> DnsAnswer | None:
        """The cached answer for (name, rdtype) when there is one already, without waiting."""
        key = (_norm(name), rdtype.upper())
        fut = self._cache.get(key)
        if fut is None or not fut.done() or fut.cancelled():
            return None
        del self._cache[key]
        self._cache[key] = fut  # most recently used last
        return fut.result()

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        """Answer for (name, rdtype) from the per-run cache; concurrent askers share one query.

        The first asker resolves in its own task (no extra task per question); the others wait on its
        future. If the first asker is cancelled, the entry is dropped and a waiter asks again.
        """
        key = (_norm(name), rdtype.upper())
        cache = self._cache
        fut = cache.pop(key, None)
        if fut is not None:
            cache[key] = fut  # most recently used last
            if fut.done() and not fut.cancelled():
                return fut.result()
            return await self._wait(fut, name, rdtype)
        if len(cache) >= self.cache_size:
            self._evict()
        fut = asyncio.get_running_loop().create_future()
        cache[key] = fut
        try:
            started = time.perf_counter()
            answer = await self._resolve_chain(key[0], key[1])
            answer.elapsed_ms = (time.perf_counter() - started) * 1000
        except BaseException:
            if cache.get(key) is fut:
                del cache[key]
            fut.cancel()
            raise
        if not fut.done():  # close() may have cancelled it meanwhile
            fut.set_result(answer)
        return answer

    async def _wait(self, fut: asyncio.Future[DnsAnswer], name: str, rdtype: str) -> DnsAnswer:
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if fut.cancelled() and task is not None and not task.cancelling():
                return await self.query(name, rdtype)  # the asker we waited on was cancelled, not us
            raise

    def _evict(self) -> None:
        """Drop the least recently used finished answers (a quarter of the cache)."""
        drop = [k for k, t in itertools.islice(self._cache.items(), self.cache_size // 4 + 1) if t.done()]
        for key in drop:
            del self._cache[key]

    async def _resolve_chain(self, name: str, rdtype: str) -> DnsAnswer:
        answer = DnsAnswer(name=name, rdtype=rdtype, status=Status.ERROR)
        qtype = wire.TYPES.get(rdtype, 0)
        if not qtype:
            try:
                qtype = int(dns.rdatatype.from_text(rdtype))
            except (dns.exception.DNSException, ValueError) as exc:
                answer.error = f"invalid question: {exc}"
                return answer
        seen = {name}
        current = name
        for _round in range(3):  # a resolver normally follows the chain itself; re-ask at most twice
            # (RFC 2308: a negative answer for the chain's last name carries that zone's SOA)
            try:
                if self._mode is None or not self._mode.done():
                    await self._known_mode()
                flags, rcode, rrsets, answer.tc, negative = await self._exchange(
                    current, qtype, self.dnssec_ok
                )
            except TimeoutError:
                answer.status, answer.error = Status.TIMEOUT, "no answer from the resolver"
                return answer
            except (OSError, EOFError, dns.exception.DNSException, ValueError) as exc:
                answer.error = f"{type(exc).__name__}: {exc}"[:300]
                return answer
            answer.rcode = _RCODE_TEXT.get(rcode) or str(rcode)
            answer.ad = bool(flags & _AD)
            linked = len(answer.cname_chain)
            if qtype != _CNAME:
                for _ in range(MAX_CNAME_CHAIN):
                    cname = rrsets.get((current, _CNAME))
                    if cname is None:
                        break
                    target = _norm(cname[1][0])
                    answer.cname_chain.append(target)
                    if target in seen:
                        answer.error = "CNAME loop"
                        return answer
                    seen.add(target)
                    current = target
                else:
                    answer.error = "CNAME chain too long"
                    return answer
            final = rrsets.get((current, qtype))
            status = _RCODE_STATUS.get(rcode, Status.ERROR)
            stopped = final is None and status is Status.OK and len(answer.cname_chain) > linked
            if stopped and not negative and _round < 2:
                continue  # the answer ends at a CNAME, and no SOA says its target has no such record: ask
            answer.status = status
            if final is not None:
                answer.ttl, answer.rrs = final[0], sorted(final[1])
            if status is Status.ERROR:
                answer.error = f"rcode {answer.rcode}"
            return answer
        answer.error = "CNAME chain not resolved"
        return answer

    async def _known_mode(self) -> None:
        """Wait for the one-time choice between the AD and the DO bit (the first asker starts it)."""
        if self._mode is None:
            self._mode = asyncio.ensure_future(self._choose_mode())
        await asyncio.shield(self._mode)

    async def _exchange(self, name: str, qtype: int, dnssec_ok: bool) -> tuple[int, int, _RRsets, bool, bool]:
        """Send one question (UDP, retried; TCP when truncated).

        Returns (flags, rcode, answer rrsets, truncated, negative: an SOA in the authority section)."""
        per_try = self.timeout / (self.retries + 1)
        template = _build(name, qtype, 0, dnssec_ok)
        question = template[12:-11]  # the question section, between header and OPT record
        inflight = self._inflight
        for _attempt in range(self.retries + 1):
            if inflight.locked():  # all slots taken: count the wait (the usual case costs nothing)
                waited = time.perf_counter()
                await inflight.acquire()
                self.queued_s += time.perf_counter() - waited
            else:
                await inflight.acquire()
            try:
                qid, query, reply = await self._send_udp(template, per_try)
            finally:
                inflight.release()
            if reply is None:
                continue
            try:
                flags, rcode, rrsets, negative = _parse(reply, qid, name, qtype, question)
            except (ValueError, dns.exception.DNSException):
                continue  # garbage or someone else's answer: ask again
            if flags & _TC:
                reply = await self._tcp(query)
                flags, rcode, rrsets, negative = _parse(reply, qid, name, qtype, question)
                return flags, rcode, rrsets, True, negative
            return flags, rcode, rrsets, False, negative
        raise TimeoutError

    async def _send_udp(self, template: bytes, wait_s: float) -> tuple[int, bytes, bytes | None]:
        """One UDP try: (id, query sent, reply or None when none came within ``wait_s``)."""
        muxes = self._muxes
        if len(muxes) == self._n_sockets and not muxes[self._next].closed:  # the usual case: no await
            self._next = (self._next + 1) % len(muxes)
            mux = muxes[self._next]
        else:
            mux = await self._mux()
        qid = random.getrandbits(16)
        while qid in mux.pending:
            qid = random.getrandbits(16)
        query = qid.to_bytes(2, "big") + template[2:]
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes] = loop.create_future()
        mux.pending[qid] = fut
        self.queries_sent += 1
        assert mux.transport is not None
        mux.transport.sendto(query)
        self._expire_at(loop, fut, wait_s)
        try:
            return qid, query, await fut
        except TimeoutError:
            return qid, query, None
        finally:
            mux.pending.pop(qid, None)

    def _expire_at(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[bytes], wait_s: float) -> None:
        """Fail ``fut`` with TimeoutError once ``wait_s`` has passed (shared timers, one per 10 ms tick)."""
        tick = math.ceil((loop.time() + wait_s) / _TICK)
        bucket = self._deadlines.get(tick)
        if bucket is None:
            bucket = self._deadlines[tick] = []
            loop.call_at(tick * _TICK, self._fire, tick)
        bucket.append(fut)

    def _fire(self, tick: int) -> None:
        _expire(self._deadlines.pop(tick, []))

    async def _tcp(self, query: bytes) -> bytes:
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(self.server, self.port)
            try:
                writer.write(len(query).to_bytes(2, "big") + query)
                size = int.from_bytes(await reader.readexactly(2), "big")
                return await reader.readexactly(size)
            finally:
                writer.transport.abort()

    async def _mux(self) -> _UdpMux:
        if self._muxes and self._muxes[self._next % len(self._muxes)].closed:
            self._muxes = [m for m in self._muxes if not m.closed]
        if len(self._muxes) < self._n_sockets:
            async with self._open_lock:
                if len(self._muxes) < self._n_sockets:
                    loop = asyncio.get_running_loop()
                    transport, proto = await loop.create_datagram_endpoint(
                        _UdpMux, remote_addr=(self.server, self.port)
                    )
                    sock = transport.get_extra_info("socket")
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
                    self._muxes.append(proto)
                    return proto
        self._next = (self._next + 1) % len(self._muxes)
        return self._muxes[self._next]
