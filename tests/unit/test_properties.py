"""Parsers never raise on arbitrary text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from souverain.parsers.charset import decode_html
from souverain.parsers.dmarc import parse_dmarc
from souverain.parsers.headers import parse_cookie, parse_headers, parse_hsts
from souverain.parsers.html import extract_resources, parse_srcset
from souverain.parsers.mtasts import parse_sts_policy, parse_sts_txt, parse_tlsrpt
from souverain.parsers.spf import parse_spf

SPF_PIECES = [
    "v=spf1",
    "+all",
    "-all",
    "include:",
    "a",
    "mx/",
    "ip4:",
    "ip6:",
    "%{",
    "}",
    "redirect=",
    "exp=",
]
SPF_PIECES += [":", "/", "//", "1", "x.fr", " ", "%%", "?"]
SPFISH = st.lists(st.sampled_from(SPF_PIECES), max_size=30).map("".join)
HTML_PIECES = [
    "<",
    ">",
    "base href=",
    "script src=",
    "img srcset=",
    "//",
    "http://[",
    "a b",
    "'",
    '"',
    "<title>",
]
HTML_PIECES += ["</", "link rel=preload as=font href=", ","]


@given(st.text() | SPFISH)
def test_spf(text: str) -> None:
    parse_spf(text).to_dict()
    parse_spf("v=spf1 " + text)


@given(st.text())
def test_records(text: str) -> None:
    parse_dmarc(text).to_dict()
    parse_dmarc("v=DMARC1; " + text)
    parse_sts_txt(text)
    parse_sts_policy(text).to_dict()
    parse_tlsrpt(text)
    parse_hsts(text)
    parse_cookie(text)
    parse_srcset(text)


@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=60)), max_size=10))
def test_headers(pairs: list[tuple[str, str]]) -> None:
    parse_headers(pairs)


@settings(max_examples=60)
@given(st.binary(max_size=2000), st.none() | st.text(max_size=40))
def test_html_bytes(body: bytes, content_type: str | None) -> None:
    text, _, _ = decode_html(body, content_type)
    extract_resources(text, "https://www.example.fr/")


@settings(max_examples=60)
@given(st.lists(st.sampled_from(HTML_PIECES), max_size=40).map("".join))
def test_html_markup(text: str) -> None:
    extract_resources(text, "https://www.example.fr/")
