"""Size- and time-capped body reading with safe decompression (a gzip bomb stays small)."""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass

import aiohttp

__all__ = ["Body", "read_body"]

CHUNK = 65_536


@dataclass(slots=True)
class Body:
    """A response body as read: decoded bytes, wire size, and why it stops early, if it does."""

    content: bytes
    wire_bytes: int
    truncated: str | None = None  # "size" | "time" | None
    decode_error: str | None = None


def _decompressor(encoding: str, first: bytes) -> zlib._Decompress | None:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":  # zlib-wrapped per RFC, raw deflate in the wild
        return zlib.decompressobj(zlib.MAX_WBITS if first[:1] == b"\x78" else -zlib.MAX_WBITS)
    return None


async def read_body(resp: aiohttp.ClientResponse, limit: int, time_s: float) -> Body:
    """Read at most ``limit`` wire bytes and produce at most ``limit`` decoded bytes within ``time_s``."""
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    parts: list[bytes] = []
    size = wire = 0
    body = Body(b"", 0)
    decoder: zlib._Decompress | None = None
    try:
        async with asyncio.timeout(time_s):
            while wire < limit:
                chunk = await resp.content.read(min(CHUNK, limit - wire))
                if not chunk:
                    break
                wire += len(chunk)
                if encoding and encoding != "identity":
                    if decoder is None:
                        decoder = _decompressor(encoding, chunk)
                        if decoder is None:
                            body.decode_error = f"unsupported content-encoding {encoding[:40]!r}"
                            break
                    chunk = decoder.decompress(chunk, limit - size)
                    if decoder.unconsumed_tail:
                        body.truncated = "size"
                parts.append(chunk)
                size += len(chunk)
                if body.truncated or size >= limit:
                    break
            else:
                body.truncated = "size"
            if body.truncated is None and size >= limit:
                body.truncated = "size"
            if not body.truncated and wire >= limit and not resp.content.at_eof():
                body.truncated = "size"
    except TimeoutError:
        body.truncated = "time"
    except zlib.error as exc:
        body.decode_error = f"corrupt {encoding} stream: {exc}"[:200]
    body.content = b"".join(parts)[:limit]
    body.wire_bytes = wire
    return body
