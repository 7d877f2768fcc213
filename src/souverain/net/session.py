"""The aiohttp session: names resolved through the DNS client, manual redirects, no auto-decompression."""

from __future__ import annotations

import socket
import ssl

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from souverain.net.addresses import ip_problem, refuse_non_public
from souverain.net.config import NetConfig
from souverain.net.dns import DnsClient, literal_ip

__all__ = ["KEEPALIVE_S", "NetResolver", "make_session"]

KEEPALIVE_S = 3.0
"""How long an idle connection stays pooled. It serves the requests of one target (redirect hops,
robots.txt, the page), which follow each other within a second; a scan never comes back to a host
later. With the former 15 s, a scan at ~90 domains/s kept ~2,500 idle TLS connections open (at the
scanner and at the servers), which was most of a scanning process's growth in memory."""


class NetResolver(AbstractResolver):
    """aiohttp resolver backed by the shared, cached :class:`DnsClient`."""

    def __init__(self, client: DnsClient, public_only: bool = False) -> None:
        self._client = client
        self._public_only = public_only

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        ip = literal_ip(host)
        if ip is not None:
            addrs = [ip]
        else:
            want = [("A", socket.AF_INET), ("AAAA", socket.AF_INET6)]
            if family == socket.AF_INET:
                want = want[:1]
            elif family == socket.AF_INET6:
                want = want[1:]
            addrs = []
            for rdtype, _fam in want:
                addrs.extend((await self._client.query(host, rdtype)).rrs)
        if self._public_only:
            public = [a for a in addrs if ip_problem(a) is None]
            if addrs and not public:
                refuse_non_public(addrs[0])  # every address is internal: say why for the first one
            addrs = public
        results: list[ResolveResult] = []
        for addr in addrs:
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            results.append(
                {
                    "hostname": host,
                    "host": addr,
                    "port": port,
                    "family": fam,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        if not results:
            raise OSError(socket.EAI_NONAME, f"no address for {host}")
        return results

    async def close(self) -> None:
        return None


def make_session(config: NetConfig, client: DnsClient, ssl_context: ssl.SSLContext) -> aiohttp.ClientSession:
    """The one HTTP session of a run."""
    connector = aiohttp.TCPConnector(
        resolver=NetResolver(client, config.public_only),
        limit=config.global_connection_limit,
        limit_per_host=config.per_ip_limit,
        ssl=ssl_context,
        use_dns_cache=False,
        keepalive_timeout=KEEPALIVE_S,
    )
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=config.connect_timeout,
        sock_connect=config.connect_timeout,
        sock_read=config.read_timeout,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        headers={"User-Agent": config.user_agent, "Accept-Encoding": "gzip, deflate"},
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        raise_for_status=False,
    )
