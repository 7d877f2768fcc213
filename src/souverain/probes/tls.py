"""``tls`` probe: handshake, certificate chain as sent, offline validation, accepted protocol versions.

Version support is probed with one short handshake per version below the negotiated one (the versions
above it are refused by construction: the observation handshake offered them all). With
``tls_version_probe_cache`` the result is cached per (IP, port) for the run: hosts sharing an address
are assumed to share a TLS configuration.

When the http probe runs too, the tls probe first waits (at most ``connect_timeout``) for it to reach the
web host over HTTPS: if that connection made the observation handshake to the same (host, IP), its result
is used (``observed_by: "http"``) instead of a second handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

from souverain.evidence import Evidence, Status
from souverain.net import Net
from souverain.net.tlsctx import TLS_VERSIONS
from souverain.probes.base import ProbeContext, register
from souverain.probes.certs import describe_certificate, hostname_matches, load_store, verify_chain
from souverain.probes.common import classify_error, is_handshake_timeout, web_host
from souverain.probes.tlsinfo import TLS_READY, TLS_SEEN, Handshake, handshake_of

SCHEMA_VERSION = 1
_ORDER = list(TLS_VERSIONS)


async def _handshake(net: Net, ip: str, host: str, context: ssl.SSLContext) -> Handshake:
    """One TLS handshake (the connection is aborted right away)."""
    cfg = net.config
    async with net.ip_slot(ip), asyncio.timeout(cfg.connect_timeout + cfg.read_timeout):
        _, writer = await asyncio.open_connection(
            ip, cfg.https_port, ssl=context, server_hostname=host, ssl_handshake_timeout=cfg.read_timeout
        )
        seen = handshake_of(writer.get_extra_info("ssl_object"))
        writer.transport.abort()
        return seen


async def _accepts(net: Net, ip: str, host: str, version: str) -> bool | None:
    try:
        await _handshake(net, ip, host, net.tls_pinned[version])
        return True
    except ConnectionAbortedError as exc:
        return None if is_handshake_timeout(exc) else False
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return False
    except (TimeoutError, OSError):
        return None


async def _versions(net: Net, ip: str, host: str, negotiated: str) -> dict[str, bool | None]:
    result: dict[str, bool | None] = {}
    below = _ORDER[: _ORDER.index(negotiated)] if negotiated in _ORDER else _ORDER
    found = await asyncio.gather(*(_accepts(net, ip, host, v) for v in below))
    result.update(zip(below, found, strict=True))
    for version in _ORDER:
        result.setdefault(version, version == negotiated)
    return {v: result[v] for v in _ORDER}


async def _cached_versions(net: Net, ip: str, host: str, negotiated: str) -> dict[str, Any]:
    if not net.config.tls_version_probe_cache:
        return {"accepted": await _versions(net, ip, host, negotiated), "cached": False}
    key = (ip, net.config.https_port)
    task = net.tls_version_cache.get(key)
    cached = task is not None
    if task is None:
        task = asyncio.ensure_future(_versions(net, ip, host, negotiated))
        net.tls_version_cache[key] = task
    return {"accepted": await asyncio.shield(task), "cached": cached}


async def _observe(ctx: ProbeContext, ip: str, host: str) -> dict[str, Any]:
    net = ctx.net
    out: dict[str, Any] = {"ip": ip, "port": net.config.https_port}
    seen = ctx.scratch.get(TLS_SEEN, {}).get((host, ip))
    out["observed_by"] = "http" if seen is not None else "tls"
    if seen is None:
        try:
            seen = await _handshake(net, ip, host, net.tls_observe)
        except Exception as exc:
            status, reason = classify_error(exc)
            if status is Status.BUG:
                raise
            out.update(status=str(status), error=reason)
            return out
    version, chain = seen.version, seen.chain
    certs = [describe_certificate(der) for der in chain[:10]]
    if net.trust_store is None:
        net.trust_store = load_store(net.config.ca_file) or False
    valid, error = verify_chain(chain, host, net.trust_store or None) if chain else (False, "no certificate")
    leaf_sans = certs[0].get("sans", []) if certs else []
    out.update(
        status=str(Status.OK),
        version=version,
        cipher=seen.cipher,
        cipher_bits=seen.cipher_bits,
        key_exchange=seen.key_exchange,
        key_exchange_group=seen.key_exchange_group,
        alpn=seen.alpn,
        chain=certs,
        chain_length=len(chain),
        hostname_match=hostname_matches(host, leaf_sans),
        chain_valid=valid,
        validation_error=error,
    )
    if version in TLS_VERSIONS:
        out["versions"] = await _cached_versions(net, ip, host, version)
    return out


@register("tls", version="2", roles=frozenset({"web"}), budget_s=20.0, schema_version=SCHEMA_VERSION)
async def probe_tls(ctx: ProbeContext) -> list[Evidence]:
    """TLS on port 443 of the web host, first IPv4 and first IPv6 address."""
    host, addrs, which = await web_host(ctx)
    data: dict[str, Any] = {"host": host, "host_source": which, "endpoints": []}
    if not addrs:
        return [Evidence("tls", ctx.domain, Status.NOT_APPLICABLE, data, error="no address for the web host",
                         schema_version=SCHEMA_VERSION)]  # fmt: skip
    picked = [a for a in addrs if ":" not in a][:1] + [a for a in addrs if ":" in a][:1]
    if "http" in ctx.planned:  # let the http probe's HTTPS connection make the handshake, briefly
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ctx.net.config.connect_timeout):
                await ctx.signal(TLS_READY).wait()
    data["endpoints"] = list(await asyncio.gather(*(_observe(ctx, ip, host) for ip in picked)))
    statuses = [Status(e["status"]) for e in data["endpoints"]]
    if Status.OK in statuses:
        status, error = Status.OK, None
    else:
        status, error = statuses[0], data["endpoints"][0].get("error")
    return [Evidence("tls", ctx.domain, status, data, error=error, schema_version=SCHEMA_VERSION)]
