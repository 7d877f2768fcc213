"""HTTP header parsing: HSTS, cookies, security and server headers."""

from __future__ import annotations

import pytest

from souverain.parsers.headers import parse_cookie, parse_headers, parse_hsts


@pytest.mark.parametrize(
    ("value", "valid", "max_age"),
    [
        ("max-age=31536000; includeSubDomains; preload", True, 31536000),
        ('max-age="600"', True, 600),
        ("max-age=-1", False, None),
        ("max-age=abc", False, None),
        ("includeSubDomains", False, None),
        ("max-age=10; max-age=20", False, 10),
        ("", False, None),
    ],
)
def test_hsts(value: str, valid: bool, max_age: int | None) -> None:
    parsed = parse_hsts(value)
    assert parsed["valid"] is valid and parsed["max_age"] == max_age


def test_cookie_never_keeps_value() -> None:
    cookie = parse_cookie("SESSID=secret-token; Path=/; Secure; HttpOnly; SameSite=Lax; Domain=.Example.fr")
    assert cookie["name"] == "SESSID" and "secret-token" not in str(cookie)
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "lax"
    assert cookie["domain"] == "example.fr"


def test_headers_multiple_cookies_and_cdn() -> None:
    parsed = parse_headers([
        ("Set-Cookie", "a=1; Secure"), ("set-cookie", "b=2; HttpOnly"),
        ("Strict-Transport-Security", "max-age=10"), ("Strict-Transport-Security", "max-age=20"),
        ("CF-Ray", "abc-CDG"), ("X-Akamai-Transformed", "9"), ("Server", "cloudflare"),
        ("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", "default-src 'self'"),
    ])  # fmt: skip
    assert [c["name"] for c in parsed["cookies"]] == ["a", "b"]
    assert parsed["hsts"]["max_age"] == 10 and parsed["hsts"]["extra_headers_ignored"] == 1
    assert parsed["server"] == {"cf-ray": "abc-CDG", "x-akamai-transformed": "9", "server": "cloudflare"}
    assert parsed["x_content_type_options_nosniff"] is True
    assert parsed["security"]["content-security-policy"] == "default-src 'self'"
