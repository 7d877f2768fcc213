"""Operators' passwords (scrypt), CSRF tokens, API tokens (shown once, stored as SHA-256) and rate limits.

Rate limits are in-memory token buckets, one per key (an API token, or a client address for anonymous
requests): ``capacity`` requests at once, refilled at ``capacity`` per minute. They reset when the server
restarts and are per process (run one process, or put a shared limiter in front, for several).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = ["Csrf", "RateLimiter", "hash_password", "hash_token", "new_token", "verify_password"]

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
TOKEN_PREFIX = "sv_"


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (hex)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


def new_token() -> str:
    """A fresh API token (256 random bits); only its hash is stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Csrf:
    """Signed, timed form tokens bound to a session id ('anon' for visitors without a session)."""

    def __init__(self, secret: str, max_age_s: int = 7200) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="souverain-csrf")
        self.max_age_s = max_age_s

    def token(self, binding: str) -> str:
        return self._serializer.dumps({"b": binding, "n": secrets.token_hex(4)})

    def valid(self, token: str | None, binding: str) -> bool:
        if not token:
            return False
        try:
            data = self._serializer.loads(token, max_age=self.max_age_s)
        except BadSignature:
            return False
        return isinstance(data, dict) and data.get("b") == binding


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


@dataclass(slots=True)
class RateLimiter:
    """Token buckets by key; :meth:`take` returns 0 when allowed, else the seconds to wait."""

    buckets: dict[str, _Bucket] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    max_keys: int = 100_000

    def take(self, key: str, per_minute: int) -> float:
        now = time.monotonic()
        rate = per_minute / 60.0
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                if len(self.buckets) >= self.max_keys:
                    self.buckets.clear()  # bounded memory under a flood of distinct keys
                bucket = self.buckets[key] = _Bucket(float(per_minute), now)
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate if rate > 0 else 60.0
