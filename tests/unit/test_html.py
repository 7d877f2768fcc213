"""HTML resources and charset decoding."""

from __future__ import annotations

from souverain.parsers.charset import decode_html
from souverain.parsers.html import extract_resources, parse_srcset, registrable_domain


def test_base_href_protocol_relative_and_uppercase() -> None:
    html = """<HTML><HEAD><BASE HREF="https://static.cdn-example.net/site/">
    <SCRIPT SRC="//www.googletagmanager.com/gtm.js"></SCRIPT>
    <LINK REL="Stylesheet" HREF="css/main.css">
    <LINK rel="preload" as="font" href="https://fonts.gstatic.com/a.woff2">
    <link rel="preconnect" href="https://fonts.googleapis.com">
    <link rel="dns-prefetch" href="//cdn.jsdelivr.net">
    <link rel="icon" href="/favicon.ico"><link rel="canonical" href="https://elsewhere.example.org/">
    </HEAD><BODY>
    <IMG SRC="logo.png" SRCSET="https://img.example.org/a.png 1x, https://img2.example.org/b.png 2x">
    <picture><source srcset="https://pics.example.com/p.webp 100w"></picture>
    <video poster="https://poster.example.com/p.jpg"><source src="https://media.example.com/v.mp4"></video>
    <form action="https://docs.google.com/forms/x"></form><iframe src="https://www.youtube.com/embed/x"></iframe>
    <a href="https://not-a-resource.example.com/">link</a>
    <img src="data:image/png;base64,xx"><p>broken <div"""
    out = extract_resources(html, "https://www.mairie-exemple.fr/accueil")
    third = out["third_party"]
    assert out["base_url"] == "https://static.cdn-example.net/site/"
    assert third["www.googletagmanager.com"]["kinds"] == ["script"]
    assert third["static.cdn-example.net"]["kinds"] == ["icon", "image", "stylesheet"]
    assert third["fonts.gstatic.com"]["kinds"] == ["font"]
    assert third["fonts.googleapis.com"]["kinds"] == ["preconnect"]
    assert third["cdn.jsdelivr.net"]["kinds"] == ["dns-prefetch"]
    assert {"img.example.org", "img2.example.org", "pics.example.com", "poster.example.com"} <= set(third)
    assert third["media.example.com"]["kinds"] == ["media"]
    assert third["docs.google.com"]["kinds"] == ["form"]
    assert third["www.youtube.com"]["kinds"] == ["frame"]
    assert "not-a-resource.example.com" not in third and "elsewhere.example.org" not in third


def test_first_party_by_registrable_domain() -> None:
    html = '<script src="https://static.mairie.gouv.fr/x.js"></script><img src="https://other.gouv.fr/y.png">'
    out = extract_resources(html, "https://www.mairie.gouv.fr/")
    assert out["registrable_domain"] == "mairie.gouv.fr" and out["first_party_resources"] == 1
    assert list(out["third_party"]) == ["other.gouv.fr"]
    assert registrable_domain("127.0.0.1") == "127.0.0.1"


def test_title_keeps_injection_as_text_and_generator() -> None:
    html = (
        "<title>  Accueil <script>alert(1)</script> &amp; plus\n</title>"
        + "<META NAME=GENERATOR CONTENT='Joomla!'>"
    )
    out = extract_resources(html, "https://a.fr/")
    assert out["title"] == "Accueil <script>alert(1)</script> & plus"
    assert out["generator"] == "Joomla!"


def test_inline_font_face_and_import() -> None:
    html = """<style>@import url("https://fonts.googleapis.com/css?family=X");
    @font-face { font-family: X; src: url(https://use.typekit.net/f.woff2) format("woff2"); }
    body { background: url(https://bg.example.com/b.png) }</style>"""
    third = extract_resources(html, "https://a.fr/")["third_party"]
    assert third["use.typekit.net"]["kinds"] == ["font"]
    assert third["fonts.googleapis.com"]["kinds"] == ["stylesheet"]
    assert "bg.example.com" not in third


def test_srcset_with_commas_in_urls() -> None:
    assert parse_srcset("a.png 1x, b,c.png 2x,d.png") == ["a.png", "b,c.png", "d.png"]
    assert parse_srcset("  ") == []


def test_charset_sources() -> None:
    latin = "<p>Évreux</p>".encode("latin-1")
    assert decode_html(latin, "text/html; charset=ISO-8859-1")[1:] == ("cp1252", "http")
    assert decode_html(b"\xef\xbb\xbf<p>\xc3\x89</p>")[0] == "<p>É</p>"
    meta = b'<meta charset="windows-1252"><title>\xc9vreux</title>'
    assert decode_html(meta)[0].endswith("Évreux</title>") and decode_html(meta)[2] == "meta"
    assert decode_html("<p>Évreux</p>".encode())[2] == "utf-8"
    text, _encoding, source = decode_html("<p>Évreux, Orléans, Besançon, Nîmes</p>".encode("cp1252"))
    assert source == "detected" and "Orléans" in text
    assert decode_html(b"<p>\xff\xfe\xfd</p>", "text/html; charset=bogus")[0]


def test_non_utf8_bytes_never_raise() -> None:
    text, _, _ = decode_html(bytes(range(256)) * 10)
    extract_resources(text, "https://a.fr/")


def test_unusable_base_href_is_ignored() -> None:
    out = extract_resources('<base href=http://[><script src="https://cdn.example.net/a.js"></script>',
                            "https://www.example.fr/")  # fmt: skip
    assert out["base_url"] is None
    assert list(out["third_party"]) == ["cdn.example.net"]
