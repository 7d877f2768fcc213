"""A tiny loopback internet for probe tests: a DNS responder, a test CA, aiohttp and raw TCP servers."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from souverain.net import NetConfig

HTTP_PORT = 18080
HTTPS_PORT = 18443


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Souverain Test")])  # fmt: skip


class TestCA:
    """A throwaway CA issuing leaf certificates for loopback servers."""

    __test__ = False

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("Souverain Test Root"))
            .issuer_name(_name("Souverain Test Root"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._n = 0

    def server_context(
        self, names: list[str], *, expired: bool = False, self_signed: bool = False
    ) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        start, end = (
            (now - dt.timedelta(days=60), now - dt.timedelta(days=1))
            if expired
            else (now - dt.timedelta(days=1), now + dt.timedelta(days=90))
        )
        signer, issuer = (key, _name(names[0])) if self_signed else (self.key, self.cert.subject)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        cert = builder.sign(signer, hashes.SHA256())
        self._n += 1
        cert_path, key_path = self.dir / f"leaf{self._n}.pem", self.dir / f"leaf{self._n}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))  # fmt: skip
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert_path, key_path)
        return ctx


def _quote_txt(value: str) -> str:
    chunks = [value[i : i + 200] for i in range(0, len(value), 200)] or [""]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


class DnsServer:
    """Answers like a recursive resolver would: CNAME chains included, NXDOMAIN vs NODATA, AD flag."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.cnames: dict[str, str] = {}
        self.servfail: set[str] = set()
        self.refused: set[str] = set()
        self.silent: set[str] = set()
        self.truncate: set[str] = set()
        self.secure: set[str] = set()
        self.stops_at_cname: set[str] = set()  # names answered with their first CNAME only, like a forwarder
        self.with_soa = True  # negative answers carry an SOA in the authority section (RFC 2308)
        self.honours_ad_bit = True  # RFC 6840 §5.7: AD in the query asks for AD in the answer
        self.queries: list[tuple[str, str, str]] = []
        self.query_bits: list[tuple[str, bool, bool]] = []  # (name, AD bit, DO bit) of each query
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    def add(self, name: str, rdtype: str, *values: str) -> None:
        vals = [_quote_txt(v) if rdtype == "TXT" else v for v in values]
        self.records.setdefault((name.lower(), rdtype), []).extend(vals)

    def _exists(self, name: str) -> bool:
        names = [n for n, _ in self.records] + list(self.cnames)
        return any(n == name or n.endswith("." + name) for n in names)

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        qname = query.question[0].name
        qtype = query.question[0].rdtype
        name = qname.to_text().rstrip(".").lower()
        self.queries.append((transport, name, dns.rdatatype.to_text(qtype)))
        asks_ad = bool(query.flags & dns.flags.AD)
        asks_do = bool(query.ednsflags & dns.flags.DO)
        self.query_bits.append((name, asks_ad, asks_do))
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if name in self.servfail or name in self.refused:
            response.set_rcode(dns.rcode.SERVFAIL if name in self.servfail else dns.rcode.REFUSED)
            return response.to_wire()
        current, owner = name, qname
        for _ in range(8):
            if qtype == dns.rdatatype.CNAME or current not in self.cnames:
                break
            target = self.cnames[current]
            response.answer.append(dns.rrset.from_text(owner, 300, "IN", "CNAME", target + "."))
            current, owner = target, dns.name.from_text(target)
            if name in self.stops_at_cname:
                return response.to_wire()
        values = self.records.get((current, dns.rdatatype.to_text(qtype)))
        if qtype == dns.rdatatype.CNAME and current in self.cnames:
            values = [self.cnames[current] + "."]
        if values:
            response.answer.append(
                dns.rrset.from_text(owner, 300, "IN", dns.rdatatype.to_text(qtype), *values)
            )
        elif not self._exists(current):
            response.set_rcode(dns.rcode.NXDOMAIN)
        if not values and self.with_soa:  # the zone of the last name: its last two labels, here
            zone = ".".join(current.split(".")[-2:]) + "."
            response.authority.append(
                dns.rrset.from_text(
                    zone, 300, "IN", "SOA", f"ns.{zone} hostmaster.{zone} 1 7200 3600 86400 300"
                )
            )
        if name in self.secure and (asks_do or (asks_ad and self.honours_ad_bit)):
            response.flags |= dns.flags.AD
        if name in self.truncate and transport == "udp":
            response.flags |= dns.flags.TC
            response.answer = []
        return response.to_wire()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        server = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                reply = server.answer(data, "udp")
                if reply is not None:
                    self.transport.sendto(reply, addr)

        async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                size = int.from_bytes(await reader.readexactly(2), "big")
                reply = self.answer(await reader.readexactly(size), "tcp")
                if reply is not None:
                    writer.write(len(reply).to_bytes(2, "big") + reply)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        for _ in range(50):  # UDP and TCP on the same free port
            transport, _ = await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", 0))
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(tcp, "127.0.0.1", port)
            except OSError:
                transport.close()
                continue
            self._udp, self.port = transport, port
            return
        raise OSError("no free port for the DNS responder")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()


class World:
    """Servers of one test; ``async with World(ca) as w`` stops them all at the end."""

    def __init__(self, ca: TestCA) -> None:
        self.ca = ca
        self.dns = DnsServer()
        self._runners: list[web.AppRunner] = []
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> World:
        await self.dns.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for runner in self._runners:
            await runner.cleanup()
        for writer in list(self._writers):
            writer.transport.abort()
        for server in self._servers:
            server.close()
            await server.wait_closed()
        await self.dns.stop()

    def config(self, **overrides: Any) -> NetConfig:
        values: dict[str, Any] = {
            "resolver": f"127.0.0.1:{self.dns.port}", "ca_file": str(self.ca.ca_file),
            "http_port": HTTP_PORT, "https_port": HTTPS_PORT, "dns_timeout": 1.0,
            "connect_timeout": 1.0, "read_timeout": 1.0,
        }  # fmt: skip
        values.update(overrides)
        return NetConfig(**values)

    async def web(
        self, ip: str, app: web.Application, *, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, ip, port, ssl_context=ssl_context).start()
        self._runners.append(runner)

    async def raw(self, ip: str, port: int, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                                            Awaitable[None]]) -> None:  # fmt: skip
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.add(writer)
            try:
                await handler(reader, writer)
            finally:
                writer.transport.abort()
                self._writers.discard(writer)

        self._servers.append(await asyncio.start_server(tracked, ip, port))
