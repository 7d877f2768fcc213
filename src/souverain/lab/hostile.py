"""Hostile servers for what nginx cannot do: ``python -m souverain.lab.hostile <lab_dir>/hostile.json``.

Behaviours: ``silence`` (TCP accepted, nothing ever sent), ``tls-garbage`` (random bytes instead of a TLS
handshake), ``huge-page`` (a 100 MB page streamed over HTTP and HTTPS), ``dns-timeout`` (UDP and TCP port 53
read and never answered). Every connection is closed after ``HOLD_S`` and at most ``MAX_CONN`` are held.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HOLD_S = 120.0
MAX_CONN = 512
HUGE = 100 * 1000 * 1000
CHUNK = (b"<p>" + b"lab " * 4094 + b"</p>\n")[:16384]


class Bench:
    def __init__(self) -> None:
        self.open = 0

    def admit(self, writer: asyncio.StreamWriter) -> bool:
        if self.open >= MAX_CONN:
            writer.close()
            return False
        self.open += 1
        return True

    def holder(
        self, garbage: bool
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self.hold(reader, writer, garbage)

        return handle

    async def hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, garbage: bool) -> None:
        if not self.admit(writer):
            return
        try:
            if garbage:
                writer.write(random.Random(7).randbytes(4096))
                await writer.drain()
            async with asyncio.timeout(HOLD_S):
                while await reader.read(4096):
                    pass
        except (TimeoutError, OSError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def huge(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.admit(writer):
            return
        try:
            async with asyncio.timeout(HOLD_S):
                await reader.readuntil(b"\r\n\r\n")
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n<html><body>\n" % (HUGE + 13)
                )
                sent = 0
                while sent < HUGE:
                    part = CHUNK[: HUGE - sent]
                    writer.write(part)
                    sent += len(part)
                    await writer.drain()
        except (
            TimeoutError,
            OSError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass
        finally:
            self.open -= 1
            writer.close()


class _BlackHole(asyncio.DatagramProtocol):
    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        return None


async def serve(spec_path: Path, specs: list[dict[str, Any]]) -> None:
    bench = Bench()
    loop = asyncio.get_running_loop()
    servers: list[Any] = []
    for spec in specs:
        kind = spec["kind"]
        for listen in spec.get("listen", []):
            host, port_s = listen.rsplit(":", 1)
            port = int(port_s)
            if kind == "dns-timeout":
                tr, _ = await loop.create_datagram_endpoint(_BlackHole, local_addr=(host, port))
                servers.append(tr)
                servers.append(
                    await asyncio.start_server(bench.holder(False), host, port, reuse_address=True)
                )
            elif kind == "huge-page":
                ctx = None
                if port == 443:
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    ctx.load_cert_chain(spec["cert"], spec["key"])
                servers.append(
                    await asyncio.start_server(bench.huge, host, port, ssl=ctx, reuse_address=True)
                )
            else:
                garbage = kind == "tls-garbage"
                servers.append(
                    await asyncio.start_server(bench.holder(garbage), host, port, reuse_address=True)
                )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = spec_path.parent / "run" / "hostile.pid"
    ready.write_text(f"{os.getpid()}\n")
    await stop.wait()
    for s in servers:
        s.close()


def main() -> None:
    """Serve the hostile behaviours of ``argv[1]``; with ``--daemon``, detach first."""
    if "--daemon" in sys.argv:
        sys.argv.remove("--daemon")
        if os.fork() > 0:
            os._exit(0)
        os.setsid()
    socket.setdefaulttimeout(HOLD_S)
    path = Path(sys.argv[1]).resolve()
    asyncio.run(serve(path, json.loads(path.read_text())))


if __name__ == "__main__":
    main()
