"""DNS stub client: EDNS+DO queries to one recursive resolver, per-run cache, in-flight de-duplication.

A few shared, connected UDP sockets multiplex queries by message id (no socket per query); a truncated
answer is retried over TCP with ``dns.asyncquery.tcp``.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from souverain.evidence import Status

__all__ = ["DnsAnswer", "DnsClient", "txt_to_str"]

MAX_CNAME_CHAIN = 12
_EDNS_PAYLOAD = 1232
_RCODE_STATUS = {
    dns.rcode.NOERROR: Status.OK,
    dns.rcode.NXDOMAIN: Status.NOT_FOUND,
    dns.rcode.REFUSED: Status.REFUSED,
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
    return str(rdata.to_text())


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


class _UdpMux(asyncio.DatagramProtocol):
    """One connected UDP socket; replies are matched to waiters by message id."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, asyncio.Future[bytes]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 12:
            return
        fut = self.pending.pop(int.from_bytes(data[:2], "big"), None)
        if fut is not None and not fut.done():
            fut.set_result(data)

    def error_received(self, exc: Exception) -> None:  # ICMP errors: waiters time out
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("DNS socket closed"))
        self.pending.clear()


class DnsClient:
    """Cached, de-duplicated DNS questions to the configured recursive resolver."""

    def __init__(self, resolver: tuple[str, int], timeout: float, retries: int = 2, sockets: int = 4) -> None:
        self.server, self.port = resolver
        self.timeout = timeout
        self.retries = max(0, retries)
        self._n_sockets = sockets
        self._muxes: list[_UdpMux] = []
        self._next = 0
        self._open_lock = asyncio.Lock()
        self._cache: dict[tuple[str, str], asyncio.Task[DnsAnswer]] = {}
        self.queries_sent = 0

    async def close(self) -> None:
        for mux in self._muxes:
            if mux.transport is not None:
                mux.transport.close()
        self._muxes.clear()
        for task in self._cache.values():
            task.cancel()
        self._cache.clear()

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        """Answer for (name, rdtype) from the per-run cache; concurrent askers share one query."""
        key = (_norm(name), rdtype.upper())
        task = self._cache.get(key)
        if task is None:
            task = asyncio.ensure_future(self._resolve(key[0], key[1]))
            self._cache[key] = task
        return await asyncio.shield(task)

    async def _resolve(self, name: str, rdtype: str) -> DnsAnswer:
        started = time.perf_counter()
        answer = await self._resolve_chain(name, rdtype)
        answer.elapsed_ms = (time.perf_counter() - started) * 1000
        return answer

    async def _resolve_chain(self, name: str, rdtype: str) -> DnsAnswer:
        answer = DnsAnswer(name=name, rdtype=rdtype, status=Status.ERROR)
        try:
            qname = dns.name.from_text(name)
            qtype = dns.rdatatype.from_text(rdtype)
        except (dns.exception.DNSException, ValueError) as exc:
            answer.error = f"invalid question: {exc}"
            return answer
        seen = {qname}
        current = qname
        for _round in range(3):  # a resolver normally follows the chain itself; re-ask at most twice
            try:
                msg, answer.tc = await self._exchange(current, qtype)
            except TimeoutError:
                answer.status, answer.error = Status.TIMEOUT, "no answer from the resolver"
                return answer
            except (OSError, dns.exception.DNSException, ValueError) as exc:
                answer.error = f"{type(exc).__name__}: {exc}"
                return answer
            rcode = msg.rcode()
            answer.rcode = dns.rcode.to_text(rcode)
            answer.ad = bool(msg.flags & dns.flags.AD)
            rrsets = {(rr.name, rr.rdtype): rr for rr in msg.answer}
            if qtype != dns.rdatatype.CNAME:
                for _ in range(MAX_CNAME_CHAIN):
                    cname = rrsets.get((current, dns.rdatatype.CNAME))
                    if cname is None:
                        break
                    target = next(iter(cname)).target
                    answer.cname_chain.append(_norm(target.to_text()))
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
            if final is None and answer.cname_chain and status is Status.OK and _round < 2:
                continue  # the resolver stopped at a CNAME: ask for the target
            answer.status = status
            if final is not None:
                answer.rrs = sorted(_presentation(rd) for rd in final)
                answer.ttl = final.ttl
            if status is Status.ERROR:
                answer.error = f"rcode {answer.rcode}"
            return answer
        answer.error = "CNAME chain not resolved"
        return answer

    async def _exchange(self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType) -> tuple[Any, bool]:
        """Send one question; returns (message, truncated-over-UDP)."""
        query = dns.message.make_query(qname, qtype, want_dnssec=True, payload=_EDNS_PAYLOAD)
        per_try = self.timeout / (self.retries + 1)
        for _attempt in range(self.retries + 1):
            mux = await self._mux()
            qid = random.randrange(65536)
            while qid in mux.pending:
                qid = random.randrange(65536)
            query.id = qid
            fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            mux.pending[qid] = fut
            self.queries_sent += 1
            assert mux.transport is not None
            mux.transport.sendto(query.to_wire())
            try:
                async with asyncio.timeout(per_try):
                    wire = await fut
            except TimeoutError:
                continue
            finally:
                mux.pending.pop(qid, None)
            try:
                msg = dns.message.from_wire(wire, ignore_trailing=True)
            except dns.exception.DNSException:
                continue  # garbage: ask again
            if not query.is_response(msg):
                continue
            if msg.flags & dns.flags.TC:
                tcp = await dns.asyncquery.tcp(query, self.server, timeout=self.timeout, port=self.port)
                return tcp, True
            return msg, False
        raise TimeoutError

    async def _mux(self) -> _UdpMux:
        if len(self._muxes) < self._n_sockets:
            async with self._open_lock:
                if len(self._muxes) < self._n_sockets:
                    loop = asyncio.get_running_loop()
                    _, proto = await loop.create_datagram_endpoint(
                        _UdpMux, remote_addr=(self.server, self.port)
                    )
                    self._muxes.append(proto)
                    return proto
        self._next = (self._next + 1) % len(self._muxes)
        return self._muxes[self._next]


async def gather_answers(client: DnsClient, questions: list[tuple[str, str]]) -> list[DnsAnswer]:
    """Ask several questions concurrently, in order."""
    return list(await asyncio.gather(*(client.query(n, t) for n, t in questions)))
