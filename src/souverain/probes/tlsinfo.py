"""What a TLS handshake showed, from any connection (the tls probe's own or the http probe's)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from souverain.net.keyexchange import key_exchange_of

__all__ = ["TLS_READY", "TLS_SEEN", "Handshake", "handshake_of"]

TLS_SEEN = "tls.seen"  # ctx.scratch key: {(host, ip): Handshake} recorded by the http probe
TLS_READY = "http.tls-ready"  # ctx.signal: the http probe reached the web host over HTTPS, or ended


@dataclass(frozen=True, slots=True)
class Handshake:
    """Negotiated parameters and the certificate chain as sent (DER, leaf first)."""

    version: str | None
    cipher: str | None
    cipher_bits: int | None
    alpn: str | None
    chain: list[bytes]
    key_exchange: str | None = None
    key_exchange_group: str | None = None


def _chain_der(ssl_object: Any) -> list[bytes]:
    inner = getattr(ssl_object, "_sslobj", ssl_object)
    getter = getattr(ssl_object, "get_unverified_chain", None) or getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = getter() or []
            der = ssl._ssl.ENCODING_DER  # type: ignore[attr-defined]
            return [c if isinstance(c, bytes) else c.public_bytes(der) for c in chain]
        except (AttributeError, ValueError, ssl.SSLError):
            pass
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def handshake_of(ssl_object: Any) -> Handshake:
    """Read a completed handshake from an ``ssl.SSLObject``/``SSLSocket``."""
    cipher = ssl_object.cipher()
    version, name = ssl_object.version(), cipher[0] if cipher else None
    kind, group = key_exchange_of(ssl_object, version, name)
    return Handshake(
        version=version,
        cipher=name,
        cipher_bits=cipher[2] if cipher else None,
        alpn=ssl_object.selected_alpn_protocol(),
        chain=_chain_der(ssl_object),
        key_exchange=kind,
        key_exchange_group=group,
    )
