"""Certificate details and offline chain validation (``cryptography.x509.verification``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

__all__ = ["describe_certificate", "hostname_matches", "load_store", "verify_chain"]

SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)


@lru_cache(maxsize=256)
def _load(der: bytes) -> x509.Certificate:
    """Parsed certificate; intermediates are shared by many sites, so parsing is cached.

    Small on purpose: the intermediates, used by every site, stay in it; each leaf is used a few times
    within one target and then never again, and a parsed certificate holds ~10 KB outside Python's
    heap (4,096 of them made a scanning process grow by ~40 MB)."""
    return x509.load_der_x509_certificate(der)


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{key.curve.name}", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, None


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [str(n) for n in ext.get_values_for_type(x509.DNSName)] + [
        str(ip) for ip in ext.get_values_for_type(x509.IPAddress)
    ]


def _org(name: x509.Name) -> str | None:
    attrs = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else None


@lru_cache(maxsize=1024)  # intermediates, and a leaf seen on a host's IPv4 and IPv6 endpoints
def describe_certificate(der: bytes) -> dict[str, Any]:
    """Subject, issuer, validity, SANs, key, signature algorithm and SHA-256 fingerprint of one cert."""
    fingerprint = hashlib.sha256(der).hexdigest()
    try:
        cert = _load(der)
    except ValueError as exc:
        return {"sha256": fingerprint, "error": f"unparsable certificate: {exc}"[:200]}
    key_type, key_size = _key(cert)
    try:
        sig = cert.signature_algorithm_oid._name
    except Exception:  # unknown OIDs
        sig = cert.signature_algorithm_oid.dotted_string
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "issuer_org": _org(cert.issuer),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "sans": _sans(cert),
        "key_type": key_type,
        "key_size": key_size,
        "signature_algorithm": sig,
        "sha256": fingerprint,
        "self_issued": cert.subject == cert.issuer,
    }


def hostname_matches(host: str, sans: list[str]) -> bool:
    """RFC 6125 matching against SANs: a wildcard covers exactly one leftmost label."""
    host = host.rstrip(".").lower()
    for san in sans:
        san = san.rstrip(".").lower()
        if san == host:
            return True
        if san.startswith("*.") and "." in host:
            head, rest = host.split(".", 1)
            if head and rest == san[2:] and "." in rest:
                return True
    return False


def load_store(ca_file: str | None) -> Store | None:
    """Trust store from a PEM bundle (``None`` → the system bundle); ``None`` when unreadable."""
    paths = [ca_file] if ca_file else list(SYSTEM_BUNDLES)
    for path in paths:
        try:
            certs = x509.load_pem_x509_certificates(Path(path).read_bytes())
        except (OSError, ValueError):
            continue
        return Store(certs)
    return None


_RECENT: dict[tuple[tuple[bytes, ...], str, int, int], tuple[Store, tuple[bool | None, str | None]]] = {}
_RECENT_MAX = 256


def verify_chain(chain: list[bytes], host: str, store: Store | None) -> tuple[bool | None, str | None]:
    """Whether the chain (leaf first, as sent) builds to the store and matches ``host``.

    The same chain for the same host within the same second (a site's IPv4 and IPv6 endpoints) is
    verified once."""
    if store is None:
        return None, "no trust store"
    key = (tuple(chain), host, id(store), int(time.time()))
    recent = _RECENT.get(key)
    if recent is not None and recent[0] is store:  # the entry holds its store: its id is not reused
        return recent[1]
    result = _verify_chain(chain, host, store)
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.clear()
    _RECENT[key] = (store, result)
    return result


_PROCESSING = re.compile(r"\(encountered processing <Certificate\(subject=<Name\((.*?)\)>, \.\.\.\)>\)")


def verification_message(exc: VerificationError) -> str:
    """cryptography's message without the Python repr it embeds: ``(encountered processing
    <Certificate(subject=<Name(CN=x)>, ...)>)`` becomes ``(certificate CN=x)``; shown in reports."""
    return _PROCESSING.sub(r"(certificate \1)", str(exc))[:300]


def _verify_chain(chain: list[bytes], host: str, store: Store) -> tuple[bool | None, str | None]:
    try:
        leaf = _load(chain[0])
        intermediates = [_load(der) for der in chain[1:8]]
    except ValueError as exc:
        return False, f"unparsable certificate: {exc}"[:300]
    try:
        subject: DNSName | IPAddress = IPAddress(ipaddress.ip_address(host))
    except ValueError:
        try:
            subject = DNSName(host)
        except ValueError as exc:
            return False, f"invalid host name: {exc}"[:300]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        verifier = PolicyBuilder().store(store).time(now).build_server_verifier(subject)
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        return False, verification_message(exc)
    except ValueError as exc:
        return False, f"{exc}"[:300]
    return True, None
