"""``tls`` probe: handshake, certificate chain as sent, offline validation, accepted protocol versions.

Version support is probed with one short handshake per version below the negotiated one (the versions
above it are refused by construction: the observation handshake offered them all). With
``tls_version_probe_cache`` the result is cached per (IP, port) for the run: hosts sharing an address
are assumed to share a TLS configuration.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from souverain.evidence import Evidence, Status
from souverain.net import Net
from souverain.net.tlsctx import TLS_VERSIONS
from souverain.probes.base import ProbeContext, register
from souverain.probes.certs import describe_certificate, hostname_matches, load_store, verify_chain
from souverain.probes.common import classify_error, is_handshake_timeout, web_host

SCHEMA_VERSION = 1
_ORDER = list(TLS_VERSIONS)


def _chain_der(ssl_object: Any) -> list[bytes]:
    inner = getattr(ssl_object, "_sslobj", ssl_object)
    getter = getattr(ssl_object, "get_unverified_chain", None) or getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = getter() or []
            return [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]
        except (AttributeError, ValueError, ssl.SSLError):
            pass
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


async def _handshake(net: Net, ip: str, host: str, context: ssl.SSLContext) -> Any:
    """One TLS handshake; returns the ssl object (the connection is aborted right away)."""
    cfg = net.config
    async with net.ip_slot(ip), asyncio.timeout(cfg.connect_timeout + cfg.read_timeout):
        _, writer = await asyncio.open_connection(
            ip, cfg.https_port, ssl=context, server_hostname=host, ssl_handshake_timeout=cfg.read_timeout
        )
        ssl_object = writer.get_extra_info("ssl_object")
        writer.transport.abort()
        return ssl_object


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
    try:
        ssl_object = await _handshake(net, ip, host, net.tls_observe)
    except Exception as exc:
        status, reason = classify_error(exc)
        if status is Status.BUG:
            raise
        out.update(status=str(status), error=reason)
        return out
    version = ssl_object.version()
    cipher = ssl_object.cipher()
    chain = _chain_der(ssl_object)
    certs = [describe_certificate(der) for der in chain[:10]]
    if net.trust_store is None:
        net.trust_store = load_store(net.config.ca_file) or False
    valid, error = verify_chain(chain, host, net.trust_store or None) if chain else (False, "no certificate")
    leaf_sans = certs[0].get("sans", []) if certs else []
    out.update(
        status=str(Status.OK),
        version=version,
        cipher=cipher[0] if cipher else None,
        cipher_bits=cipher[2] if cipher else None,
        key_exchange_group=None,  # not exposed by the ssl module of CPython 3.11
        alpn=ssl_object.selected_alpn_protocol(),
        chain=certs,
        chain_length=len(chain),
        hostname_match=hostname_matches(host, leaf_sans),
        chain_valid=valid,
        validation_error=error,
    )
    if version in TLS_VERSIONS:
        out["versions"] = await _cached_versions(net, ip, host, version)
    return out


@register("tls", version="1", roles=frozenset({"web"}), budget_s=20.0, schema_version=SCHEMA_VERSION)
async def probe_tls(ctx: ProbeContext) -> list[Evidence]:
    """TLS on port 443 of the web host, first IPv4 and first IPv6 address."""
    host, addrs, which = await web_host(ctx)
    data: dict[str, Any] = {"host": host, "host_source": which, "endpoints": []}
    if not addrs:
        return [Evidence("tls", ctx.domain, Status.NOT_APPLICABLE, data, error="no address for the web host",
                         schema_version=SCHEMA_VERSION)]  # fmt: skip
    picked = [a for a in addrs if ":" not in a][:1] + [a for a in addrs if ":" in a][:1]
    data["endpoints"] = list(await asyncio.gather(*(_observe(ctx, ip, host) for ip in picked)))
    statuses = [Status(e["status"]) for e in data["endpoints"]]
    if Status.OK in statuses:
        status, error = Status.OK, None
    else:
        status, error = statuses[0], data["endpoints"][0].get("error")
    return [Evidence("tls", ctx.domain, status, data, error=error, schema_version=SCHEMA_VERSION)]
