"""Fetch the MTA-STS policy file over HTTPS, recording whether its certificate validates."""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp

from souverain.net import Net
from souverain.probes.common import classify_error

__all__ = ["MAX_POLICY_BYTES", "fetch_sts_policy"]

MAX_POLICY_BYTES = 65_536  # RFC 8461 §3.3


async def _get(net: Net, url: str, context: ssl.SSLContext) -> tuple[int, str, bool]:
    async with net.http.get(url, ssl=context, allow_redirects=False) as resp:
        body = await resp.content.read(MAX_POLICY_BYTES + 1)
        truncated = len(body) > MAX_POLICY_BYTES
        return resp.status, body[:MAX_POLICY_BYTES].decode("utf-8", errors="replace"), truncated


async def fetch_sts_policy(net: Net, domain: str) -> dict[str, Any]:
    """``{"policy_url", "http_status", "certificate_valid", "certificate_error", "policy_text"…}``."""
    host = f"mta-sts.{domain}"
    port = net.config.https_port
    url = f"https://{host}{'' if port == 443 else f':{port}'}/.well-known/mta-sts.txt"
    out: dict[str, Any] = {"policy_url": url, "certificate_valid": None}
    addrs = await net.addresses(host)
    if not addrs:
        out["policy_error"] = f"{host} has no address"
        return out
    async with net.ip_slot(addrs[0]):
        try:
            status, text, truncated = await _get(net, url, net.tls_validating)
            out["certificate_valid"] = True
        except aiohttp.ClientConnectorCertificateError as exc:
            out["certificate_valid"] = False
            out["certificate_error"] = str(exc.certificate_error)[:300]
            try:
                status, text, truncated = await _get(net, url, net.tls_observe)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc2:
                out["policy_error"] = classify_error(exc2)[1]
                return out
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            out["policy_error"] = classify_error(exc)[1]
            return out
    out["http_status"] = status
    if status != 200:
        out["policy_error"] = f"HTTP {status}"
        return out
    out["policy_truncated"] = truncated
    out["policy_text"] = text
    return out
