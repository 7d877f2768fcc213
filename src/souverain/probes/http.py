"""``http`` probe: ``http://<host>/``, manual redirects hop by hop, then the final response's headers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from souverain.evidence import Evidence, Status
from souverain.parsers.headers import parse_headers
from souverain.probes.base import ProbeContext, register
from souverain.probes.common import classify_error, web_host
from souverain.probes.fetch import read_body
from souverain.probes.tlsinfo import TLS_READY, TLS_SEEN, handshake_of

SCHEMA_VERSION = 1
BUDGET_S = 25.0
FINAL_BODY = "http.final_body"
PENDING = "http.pending"
REDIRECTS = frozenset({301, 302, 303, 307, 308})


async def _hop(ctx: ProbeContext, url: str) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
    """One request: (hop record, headers), or a hop with ``outcome`` and ``error`` when it failed.

    A redirect's body is not read; a final response's body is read (capped) and handed to ``page``."""
    net = ctx.net
    host = urlsplit(url).hostname or ""
    hop: dict[str, Any] = {"url": url}
    addrs = await net.addresses(host)
    if not addrs:
        hop.update(outcome=str(Status.NOT_FOUND), error=f"{host} has no address")
        return hop, None
    t0 = time.perf_counter()
    pending = ctx.scratch[PENDING] = {"url": url, "ip": addrs[0], "since": t0, "in_slot": False}
    try:
        async with net.ip_slot(addrs[0]):
            pending["in_slot"] = True
            if (waited := time.perf_counter() - t0) > 0.05:
                hop["slot_wait_ms"] = round(waited * 1000, 1)  # queued behind the per-IP cap
            t0 = time.perf_counter()
            async with net.http.get(url, allow_redirects=False) as resp:
                return await _response(ctx, url, host, resp, hop, t0)
    except Exception as exc:
        status, reason = classify_error(exc)
        if status is Status.BUG:
            raise
        hop.update(outcome=str(status), error=reason)
        hop["elapsed_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        return hop, None


async def _response(
    ctx: ProbeContext, url: str, host: str, resp: aiohttp.ClientResponse, hop: dict[str, Any], t0: float
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Record a response; a redirect's body is not read, a final body is read (capped) for ``page``."""
    net = ctx.net
    hop["status"] = resp.status
    hop["elapsed_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    headers = list(resp.headers.items())
    if url.startswith("https://"):
        _remember_tls(ctx, host, resp)
    if resp.status in REDIRECTS:
        hop["location"] = resp.headers.get("Location", "")[:2048]
        resp.release()
    else:  # read once, handed to the page probe; a drained connection is reused
        cfg = net.config
        body = await read_body(resp, cfg.max_page_bytes, cfg.read_timeout * 2)
        ctx.scratch[FINAL_BODY] = (url, resp.status, {k.lower(): v for k, v in headers}, body)
    return hop, headers


def _remember_tls(ctx: ProbeContext, host: str, resp: aiohttp.ClientResponse) -> None:
    """Hand the connection's handshake to the tls probe (same observation context, same SNI)."""
    if resp.connection is not None:
        transport = resp.connection.transport
    else:  # a small response is complete with its headers and its connection already back in the pool
        transport = getattr(getattr(resp.content, "_protocol", None), "transport", None)
    if transport is None or urlsplit(str(resp.url)).port not in (None, ctx.net.config.https_port):
        return
    ssl_object, peer = transport.get_extra_info("ssl_object"), transport.get_extra_info("peername")
    if ssl_object is not None and peer:
        seen = ctx.scratch.setdefault(TLS_SEEN, {})
        seen.setdefault((host, str(peer[0])), handshake_of(ssl_object))
        ctx.signal(TLS_READY).set()


def _origin(scheme: str, host: str, port: int) -> str:
    default = 80 if scheme == "http" else 443
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


@register("http", version="1", roles=frozenset({"web"}), budget_s=BUDGET_S, schema_version=SCHEMA_VERSION)
async def probe_http(ctx: ProbeContext) -> list[Evidence]:
    """Redirect chain from ``http://<host>/`` (then ``https://`` if plain HTTP fails) and final headers."""
    try:
        return await _probe_http(ctx)
    finally:
        ctx.signal(TLS_READY).set()


async def _probe_http(ctx: ProbeContext) -> list[Evidence]:
    host, addrs, which = await web_host(ctx)
    data: dict[str, Any] = {"host": host, "host_source": which, "hops": []}

    def done(status: Status, error: str | None = None) -> list[Evidence]:
        return [Evidence("http", ctx.domain, status, data, error=error, schema_version=SCHEMA_VERSION)]

    if not addrs:
        return done(Status.NOT_APPLICABLE, "no address for the web host")
    try:
        async with asyncio.timeout(BUDGET_S - 2.0):
            return await _follow(ctx, host, data, done)
    except TimeoutError:
        pending = ctx.scratch.get(PENDING) or {"url": None, "ip": None, "since": 0.0, "in_slot": True}
        waited = sum(h.get("slot_wait_ms", 0) for h in data["hops"]) / 1000
        if not pending["in_slot"]:
            waited += time.perf_counter() - pending["since"]
        data["unfinished_hop"] = pending["url"]
        reason = f"probe budget exhausted during {pending['url']}"
        if waited > 1:
            reason += f" ({waited:.1f} s queued behind the per-IP connection cap of {pending['ip']})"
        return done(Status.TIMEOUT, reason)


async def _follow(
    ctx: ProbeContext, host: str, data: dict[str, Any], done: Callable[..., list[Evidence]]
) -> list[Evidence]:
    hops: list[dict[str, Any]] = data["hops"]
    cfg = ctx.net.config
    url = _origin("http", host, cfg.http_port) + "/"
    seen: set[str] = set()
    headers = None
    while True:
        if url in seen:
            return done(Status.ERROR, "redirect loop")
        if len(hops) > ctx.net.config.max_redirects:
            return done(Status.ERROR, f"more than {ctx.net.config.max_redirects} redirects")
        seen.add(url)
        hop, headers = await _hop(ctx, url)
        hops.append(hop)
        if "error" in hop:
            if len(hops) == 1 and url.startswith("http://"):
                data["http_error"] = hop["error"]
                url = _origin("https", host, cfg.https_port) + "/"
                continue
            return done(Status(hop["outcome"]), hop["error"])
        if hop["status"] not in REDIRECTS or not hop.get("location"):
            break
        url = urljoin(url, hop["location"])
        if urlsplit(url).scheme not in ("http", "https"):
            return done(Status.ERROR, "redirect to a non-HTTP URL")
    final = hops[-1]
    final_parts = urlsplit(final["url"])
    data["final_url"] = final["url"]
    data["final_status"] = final["status"]
    data["redirects"] = len(hops) - 1 - (1 if "http_error" in data else 0)
    data["https"] = final_parts.scheme == "https"
    data["http_redirects_to_https"] = (
        None if "http_error" in data else data["https"] and hops[0]["url"].startswith("http://")
    )
    data["https_same_host"] = data["https"] and (final_parts.hostname or "") == host
    data["headers"] = parse_headers(headers or [])
    return done(Status.OK)
