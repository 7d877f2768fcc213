"""The key exchange of a TLS handshake — kind and group — read from the server's handshake messages.

CPython 3.11's ``ssl`` module does not say which group a handshake negotiated. OpenSSL's message callback,
which CPython keeps as the private ``SSLContext._msg_callback`` hook (its own test suite uses it), hands
each handshake message to Python as it is read: the group is in the ``key_share`` extension of a TLS 1.3
ServerHello (RFC 8446 §4.2.8), and in the ServerKeyExchange of a TLS ≤ 1.2 ECDHE handshake (RFC 8422
§5.4); a DHE one gives the size of its prime (RFC 5246 §7.4.3). Only the observation context has the hook,
and it reads the first bytes of two messages; without the hook (another Python), the fields stay null.
"""

from __future__ import annotations

import ssl
import weakref
from typing import Any

__all__ = ["GROUPS", "key_exchange_of", "watch_key_exchange"]

GROUPS: dict[int, str] = {  # IANA "TLS Supported Groups"
    23: "secp256r1",
    24: "secp384r1",
    25: "secp521r1",
    26: "brainpoolP256r1",
    27: "brainpoolP384r1",
    28: "brainpoolP512r1",
    29: "x25519",
    30: "x448",
    256: "ffdhe2048",
    257: "ffdhe3072",
    258: "ffdhe4096",
    259: "ffdhe6144",
    260: "ffdhe8192",
    4587: "SecP256r1MLKEM768",  # draft-ietf-tls-ecdhe-mlkem: hybrid post-quantum
    4588: "X25519MLKEM768",
    4589: "SecP384r1MLKEM1024",
    25497: "X25519Kyber768Draft00",
}
_HANDSHAKE = 22
_SERVER_HELLO, _SERVER_KEY_EXCHANGE = 2, 12
_KEY_SHARE = 51
_SEEN: weakref.WeakKeyDictionary[Any, tuple[int, bytes]] = weakref.WeakKeyDictionary()


def _message(conn: Any, direction: str, _version: Any, content_type: Any, msg_type: Any, data: bytes) -> None:
    """OpenSSL's message callback: keep what the server's ServerHello or ServerKeyExchange says of the key
    exchange (a few bytes), by connection. It runs for every record: it returns at once for the others."""
    if (
        content_type != _HANDSHAKE
        or direction != "read"
        or msg_type not in (_SERVER_HELLO, _SERVER_KEY_EXCHANGE)
    ):
        return
    try:
        if msg_type == _SERVER_HELLO:
            group = _key_share(data[4:])
            if group is not None:
                _SEEN[conn] = (_SERVER_HELLO, group.to_bytes(2, "big"))
        else:
            _SEEN[conn] = (_SERVER_KEY_EXCHANGE, bytes(data[4:7]))
    except (IndexError, TypeError, ValueError):  # a malformed message: nothing recorded
        return


def _key_share(body: bytes) -> int | None:
    """The group of a ServerHello's key_share extension (TLS 1.3; a HelloRetryRequest names one too)."""
    pos = 2 + 32  # legacy_version, random
    pos += 1 + body[pos]  # legacy_session_id_echo
    pos += 2 + 1  # cipher_suite, legacy_compression_method
    if pos + 2 > len(body):
        return None  # no extensions: TLS ≤ 1.2
    end = min(len(body), pos + 2 + int.from_bytes(body[pos : pos + 2], "big"))
    pos += 2
    while pos + 4 <= end:
        ext, size = int.from_bytes(body[pos : pos + 2], "big"), int.from_bytes(body[pos + 2 : pos + 4], "big")
        if ext == _KEY_SHARE and size >= 2:
            return int.from_bytes(body[pos + 4 : pos + 6], "big")
        pos += 4 + size
    return None


def watch_key_exchange(ctx: ssl.SSLContext) -> bool:
    """Give ``ctx`` the hook (False when this Python has none). Set on the C type's attribute: the ``ssl``
    module's own setter wraps the callback in one that turns three integers into enum members on every
    call, 1.7 µs against 0.07 µs for the hook alone, and a connection makes ~40 calls (a handshake and a
    30 KB page: every record header counts) — measured 2026-11-25; the hook compares integers."""
    raw = getattr(getattr(ssl, "_ssl", None), "_SSLContext", None)
    slot = getattr(raw, "_msg_callback", None)
    if slot is None or not hasattr(slot, "__set__"):
        return False
    slot.__set__(ctx, _message)
    return True


_message.user_function = _message  # type: ignore[attr-defined]  # what ctx._msg_callback reads back


def _group(code: int) -> str:
    return GROUPS.get(code, f"0x{code:04x}")


def key_exchange_of(
    ssl_object: Any, version: str | None, cipher: str | None
) -> tuple[str | None, str | None]:
    """(kind, group) of a completed handshake: kind ``ECDHE``, ``ECDHE+ML-KEM`` (hybrid post-quantum),
    ``DHE`` or ``RSA`` (no forward secrecy); group ``x25519``, ``secp256r1``, ``ffdhe2048``, ``DH-2048``… —
    None for what was not seen."""
    seen = _SEEN.pop(ssl_object, None)
    if seen is not None and seen[0] == _SERVER_HELLO:  # TLS 1.3: the group decides the kind
        group = _group(int.from_bytes(seen[1], "big"))
        hybrid = "MLKEM" in group or "Kyber" in group
        return ("ECDHE+ML-KEM" if hybrid else "DHE" if group.startswith("ffdhe") else "ECDHE"), group
    suite = (cipher or "").upper()
    if seen is not None and "ECDHE" in suite and len(seen[1]) >= 3 and seen[1][0] == 3:  # named_curve
        return "ECDHE", _group(int.from_bytes(seen[1][1:3], "big"))
    if seen is not None and "DHE" in suite and len(seen[1]) >= 2:  # dh_p: its length gives the size
        return "DHE", f"DH-{int.from_bytes(seen[1][0:2], 'big') * 8}"
    if version in ("TLSv1", "TLSv1.1", "TLSv1.2") and cipher and "DHE" not in suite and "ECDH" not in suite:
        return "RSA", None  # static RSA key transport (OpenSSL names those suites without a kx prefix)
    return None, None
