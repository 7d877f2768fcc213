"""TLS client contexts: a permissive one for observation, version-pinned ones, a validating one."""

from __future__ import annotations

import ssl
import warnings

from souverain.net.keyexchange import watch_key_exchange

__all__ = ["TLS_VERSIONS", "observation_context", "pinned_context", "validating_context"]

TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def _permissive(minimum: ssl.TLSVersion, maximum: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: that is what we want to observe
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = minimum
        ctx.maximum_version = maximum
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def observation_context() -> ssl.SSLContext:
    """Accepts anything from TLS 1.0 to 1.3, certificates unchecked: we observe, we do not trust. It notes
    each handshake's key exchange (``souverain.net.keyexchange``)."""
    ctx = _permissive(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_3)
    watch_key_exchange(ctx)
    return ctx


def pinned_context(version: str) -> ssl.SSLContext:
    """A context that offers exactly one protocol version (keys of ``TLS_VERSIONS``)."""
    pinned = TLS_VERSIONS[version]
    return _permissive(pinned, pinned)


def validating_context(ca_file: str | None) -> ssl.SSLContext:
    """Certificate and hostname checked against ``ca_file`` (or the system store)."""
    ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
