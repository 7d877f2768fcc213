"""The key exchange of a handshake (kind and group), read from the server's handshake messages: CPython
3.11's ssl module does not tell it, and the evidence's key_exchange_group was always null."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import pytest

from souverain.net.keyexchange import _key_share
from souverain.net.tlsctx import observation_context, pinned_context
from souverain.probes.tlsinfo import handshake_of


@pytest.fixture(scope="module")
def server_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("kx")
    key, cert = d / "k.pem", d / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "dhparam", "-dsaparam", "-out", d / "dh.pem", "2048"], check=True, capture_output=True
    )
    return d


def handshake(
    files: Path, maximum: ssl.TLSVersion, ciphers: str | None = None, curve: str | None = None
) -> tuple:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files / "c.pem", files / "k.pem")
    server.maximum_version = maximum
    if ciphers:
        server.set_ciphers(ciphers)
    if curve:
        server.set_ecdh_curve(curve)
    server.load_dh_params(files / "dh.pem")

    async def main() -> tuple:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()

        listening = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server)
        port = listening.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=observation_context(), server_hostname="localhost"
        )
        seen = handshake_of(writer.get_extra_info("ssl_object"))
        writer.transport.abort()
        listening.close()
        return seen.version, seen.key_exchange, seen.key_exchange_group

    return asyncio.run(main())


def test_key_exchange_kind_and_group(server_files: Path) -> None:
    tls12 = ssl.TLSVersion.TLSv1_2
    assert handshake(server_files, ssl.TLSVersion.TLSv1_3) == ("TLSv1.3", "ECDHE", "x25519")
    assert handshake(server_files, ssl.TLSVersion.TLSv1_3, curve="secp384r1") == (
        "TLSv1.3",
        "ECDHE",
        "secp384r1",
    )
    ecdhe = handshake(server_files, tls12, "ECDHE-RSA-AES128-GCM-SHA256", "secp384r1")
    assert ecdhe == ("TLSv1.2", "ECDHE", "secp384r1")
    assert handshake(server_files, tls12, "DHE-RSA-AES128-GCM-SHA256") == ("TLSv1.2", "DHE", "DH-2048")
    assert handshake(server_files, tls12, "AES128-GCM-SHA256") == (
        "TLSv1.2",
        "RSA",
        None,
    )  # no forward secrecy


def test_a_context_without_the_hook_and_odd_messages_say_nothing() -> None:
    assert (
        not hasattr(pinned_context("TLSv1.2"), "_msg_callback")
        or pinned_context("TLSv1.2")._msg_callback is None
    )
    assert _key_share(bytes(34) + b"\x00" + b"\x13\x01\x00") is None  # a ServerHello without extensions
    # random and version, empty session id, TLS_AES_128_GCM_SHA256, no compression, 12 bytes of extensions:
    # supported_versions (TLS 1.3) and key_share
    hello = bytes(34) + b"\x00" + b"\x13\x01\x00" + b"\x00\x0c" + b"\x00\x2b\x00\x02\x03\x04"
    hello += b"\x00\x33\x00\x02"
    assert _key_share(hello + b"\x11\xec") == 0x11EC  # X25519MLKEM768 in a HelloRetryRequest's key_share
    with pytest.raises(IndexError):  # cut short: the callback catches this and records nothing
        _key_share(bytes(10))
