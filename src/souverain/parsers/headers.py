"""HTTP response headers: HSTS, security headers, cookies (never their values), server and CDN headers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["parse_cookie", "parse_headers", "parse_hsts"]

MAX_VALUE = 1024
SECURITY_HEADERS = (
    "content-security-policy",
    "content-security-policy-report-only",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "cross-origin-embedder-policy",
)
SERVER_HEADERS = frozenset(
    {
        "server", "via", "x-powered-by", "x-aspnet-version", "x-generator", "cf-ray", "cf-cache-status",
        "x-amz-cf-id", "x-amz-cf-pop", "x-amz-request-id", "x-served-by", "x-cache", "x-cache-hits",
        "x-azure-ref", "x-msedge-ref", "x-fastly-request-id", "x-iinfo", "x-cdn", "x-sucuri-id",
        "x-varnish", "x-ovh-request-id", "x-gitlab-meta", "x-github-request-id", "x-vercel-id",
        "x-nf-request-id", "server-timing", "x-oracle-dms-ecid", "x-goog-generation", "x-guploader-uploadid",
    }
)  # fmt: skip


def _clip(value: str) -> str:
    return value if len(value) <= MAX_VALUE else value[:MAX_VALUE] + "…"


def parse_hsts(value: str) -> dict[str, Any]:
    """Strict-Transport-Security (RFC 6797 §6.1): max-age required, directives unique."""
    out: dict[str, Any] = {
        "raw": _clip(value), "max_age": None, "include_subdomains": False, "preload": False,
        "valid": True, "errors": [],
    }  # fmt: skip
    errors: list[str] = out["errors"]
    seen: set[str] = set()
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, arg = part.partition("=")
        name, arg = name.strip().lower(), arg.strip().strip('"')
        if name in seen:
            errors.append(f"duplicate directive {name!r}")
            continue
        seen.add(name)
        if name == "max-age":
            if sep and arg.isdigit() and len(arg) <= 12:
                out["max_age"] = int(arg)
            else:
                errors.append(f"invalid max-age {arg[:20]!r}")
        elif name == "includesubdomains":
            out["include_subdomains"] = True
        elif name == "preload":
            out["preload"] = True
    if out["max_age"] is None and not any(e.startswith("invalid max-age") for e in errors):
        errors.append("missing max-age")
    out["valid"] = not errors
    return out


def parse_cookie(value: str) -> dict[str, Any]:
    """A Set-Cookie header's name and attributes; the cookie value is never kept."""
    first, *attrs = value.split(";")
    name = first.partition("=")[0].strip() if "=" in first else ""
    cookie: dict[str, Any] = {"name": _clip(name), "secure": False, "httponly": False, "samesite": None,
                              "domain": None, "path": None, "expires": False, "max_age": None}  # fmt: skip
    for attr in attrs:
        key, _, arg = attr.strip().partition("=")
        key, arg = key.strip().lower(), arg.strip()
        if key == "secure":
            cookie["secure"] = True
        elif key == "httponly":
            cookie["httponly"] = True
        elif key == "samesite":
            cookie["samesite"] = arg.lower()[:16] or None
        elif key == "domain":
            cookie["domain"] = arg.lower().lstrip(".")[:253] or None
        elif key == "path":
            cookie["path"] = _clip(arg)
        elif key == "expires":
            cookie["expires"] = True
        elif key == "max-age":
            cookie["max_age"] = int(arg) if arg.lstrip("-").isdigit() and len(arg) < 12 else None
    return cookie


def parse_headers(headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Headers as (name, value) pairs, repeated names allowed → the observed security-relevant shape."""
    hsts_values: list[str] = []
    security: dict[str, str] = {}
    server: dict[str, str] = {}
    cookies: list[dict[str, Any]] = []
    content_type = None
    for raw_name, value in headers:
        name = raw_name.strip().lower()
        if name == "strict-transport-security":
            hsts_values.append(value)
        elif name == "set-cookie":
            if len(cookies) < 50:
                cookies.append(parse_cookie(value))
        elif name in SECURITY_HEADERS:
            security[name] = _clip(value) if name not in security else _clip(security[name] + ", " + value)
        elif name in SERVER_HEADERS or name.startswith(("x-akamai", "akamai-", "x-edge", "x-cdn")):
            server.setdefault(name, _clip(value))
        elif name == "content-type":
            content_type = _clip(value)
    hsts = parse_hsts(hsts_values[0]) if hsts_values else None
    if hsts is not None and len(hsts_values) > 1:
        hsts["extra_headers_ignored"] = len(hsts_values) - 1
    xcto = security.get("x-content-type-options")
    return {
        "hsts": hsts,
        "security": security,
        "x_content_type_options_nosniff": xcto is not None and xcto.strip().lower() == "nosniff",
        "cookies": cookies,
        "server": server,
        "content_type": content_type,
    }
