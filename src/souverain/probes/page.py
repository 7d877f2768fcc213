"""``page`` probe: robots.txt of the final origin, then the final page, capped, decoded and parsed.

The ``http`` probe already received the final response; its body (read with the same caps) is handed
over in ``ctx.scratch`` and used only once robots.txt allows it — one request fewer per target.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from souverain.evidence import Evidence, Status
from souverain.net import Net
from souverain.parsers.charset import decode_html
from souverain.parsers.html import extract_resources
from souverain.probes.base import ProbeContext, register
from souverain.probes.common import classify_error
from souverain.probes.fetch import read_body
from souverain.probes.http import FINAL_BODY, REDIRECTS

SCHEMA_VERSION = 1
BUDGET_S = 25.0
ROBOTS_REDIRECTS = 5
HTML_TYPES = ("text/html", "application/xhtml+xml")


async def _get(net: Net, url: str, limit: int, time_s: float) -> tuple[int, dict[str, str], Any]:
    host = urlsplit(url).hostname or ""
    addrs = await net.addresses(host)
    if not addrs:
        raise OSError(f"{host} has no address")
    async with net.ip_slot(addrs[0]), net.http.get(url, allow_redirects=False) as resp:
        headers = {k.lower(): v for k, v in resp.headers.items()}
        body = None if resp.status in REDIRECTS else await read_body(resp, limit, time_s)
        return resp.status, headers, body


async def _robots(net: Net, origin: str, time_s: float) -> dict[str, Any]:
    """RFC 9309: 4xx → allowed; 5xx or unreachable → disallowed; up to 5 redirects followed."""
    url = f"{origin}/robots.txt"
    out: dict[str, Any] = {"url": url}
    for _ in range(ROBOTS_REDIRECTS + 1):
        status, headers, body = await _get(net, url, net.config.max_robots_bytes, time_s)
        out["status"] = status
        if status in REDIRECTS and headers.get("location"):
            url = urljoin(url, headers["location"])
            continue
        break
    out["final_url"] = url
    if body is not None and 200 <= status < 300:
        out["size"] = len(body.content)
        out["truncated"] = body.truncated
        parser = RobotFileParser()
        parser.parse(body.content.decode("utf-8", errors="replace").splitlines())
        out["parser"] = parser
    elif 400 <= status < 500:
        out["allowed"] = True
    else:
        out["allowed"] = False
        out["reason"] = f"robots.txt unavailable (HTTP {status})"
    return out


@register("page", version="1", roles=frozenset({"web"}), needs=("http",), budget_s=BUDGET_S,
          schema_version=SCHEMA_VERSION)  # fmt: skip
async def probe_page(ctx: ProbeContext) -> list[Evidence]:
    """Third-party hosts the page loads (with kinds), title, generator, size and content type."""
    net = ctx.net
    data: dict[str, Any] = {}

    def done(status: Status, error: str | None = None) -> list[Evidence]:
        return [Evidence("page", ctx.domain, status, data, error=error, schema_version=SCHEMA_VERSION)]

    http = ctx.first("http")
    if http is None or http.status is not Status.OK or "final_url" not in http.data:
        return done(Status.NOT_APPLICABLE, "no final URL from the http probe")
    url = http.data["final_url"]
    data["url"] = url
    parts = urlsplit(url)
    time_s = net.config.read_timeout
    t0 = time.perf_counter()
    try:
        robots = await _robots(net, f"{parts.scheme}://{parts.netloc}", time_s)
        parser = robots.pop("parser", None)
        if parser is not None:
            robots["allowed"] = parser.can_fetch(net.config.user_agent, url)
        data["robots"] = robots
        if not robots["allowed"]:
            return done(Status.SKIPPED, robots.get("reason", "robots.txt disallows"))
        stashed = ctx.scratch.pop(FINAL_BODY, None)
        if stashed is not None and stashed[0] == url:
            status, headers, body = stashed[1:]
            data["reused_http_response"] = True
        else:
            status, headers, body = await _get(net, url, net.config.max_page_bytes, time_s * 2)
    except Exception as exc:
        failure, reason = classify_error(exc)
        if failure is Status.BUG:
            raise
        return done(failure, reason)
    content_type = headers.get("content-type", "")
    data.update(
        status=status,
        content_type=content_type[:200],
        content_encoding=headers.get("content-encoding"),
        elapsed_ms=round((time.perf_counter() - t0) * 1000, 2),
    )
    if body is None:
        return done(Status.ERROR, f"the final URL now redirects (HTTP {status})")
    data.update(wire_bytes=body.wire_bytes, size=len(body.content), truncated=body.truncated)
    if body.decode_error:
        return done(Status.ERROR, body.decode_error)
    if content_type and content_type.split(";")[0].strip().lower() not in HTML_TYPES:
        data["parsed"] = False
        return done(Status.OK)
    text, encoding, source = decode_html(body.content, content_type)
    data.update(encoding=encoding, encoding_source=source, parsed=True)
    data.update(extract_resources(text, url))
    await _third_party_addresses(net, data.get("third_party") or {})
    return done(Status.OK)


MAX_RESOLVED = 40


async def _third_party_addresses(net: Any, third: dict[str, dict[str, Any]]) -> None:
    """Addresses of the third-party hosts (through the run's DNS cache: shared hosts are asked once), so an
    unknown third party can still be attributed to a network."""
    hosts = list(third)[:MAX_RESOLVED]
    found = await asyncio.gather(*(net.addresses(h) for h in hosts), return_exceptions=True)
    for host, addrs in zip(hosts, found, strict=True):
        if isinstance(addrs, list):
            third[host]["addresses"] = addrs[:4]
