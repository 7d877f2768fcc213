"""Resources an HTML page loads, and the third-party hosts behind them (selectolax/lexbor parser)."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

from publicsuffixlist import PublicSuffixList
from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["extract_resources", "parse_srcset", "registrable_domain"]

MAX_NODES = 5000
MAX_EXAMPLES = 3
_SELECTOR = (
    "base[href], script[src], link[href], img, iframe[src], frame[src], video, audio, source, track[src], "
    "form[action], embed[src], object[data], style, input[src]"
)
_LINK_KINDS = {
    "stylesheet": "stylesheet", "preconnect": "preconnect", "dns-prefetch": "dns-prefetch",
    "icon": "icon", "apple-touch-icon": "icon", "apple-touch-icon-precomposed": "icon", "mask-icon": "icon",
    "manifest": "manifest", "prefetch": "prefetch", "modulepreload": "script",
}  # fmt: skip
_PRELOAD_AS = {"font": "font", "script": "script", "style": "stylesheet", "image": "image", "fetch": "fetch"}
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]{0,4000}\}", re.I)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]{1,2048})""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]{1,2048})""", re.I)
_SKIP_SCHEMES = ("data:", "javascript:", "mailto:", "tel:", "about:", "blob:", "#")
_psl: PublicSuffixList | None = None


@lru_cache(maxsize=65_536)
def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` per the Public Suffix List; an IP address is its own."""
    global _psl
    host = host.strip("[]").rstrip(".").lower()
    if ":" in host or host[-1:].isdigit():  # otherwise it cannot be an IP address
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
    if _psl is None:
        _psl = PublicSuffixList()
    return str(_psl.privatesuffix(host) or host)


def parse_srcset(value: str) -> list[str]:
    """Candidate URLs of a ``srcset`` (WHATWG algorithm, simplified: descriptors skipped)."""
    urls: list[str] = []
    pos, size = 0, len(value)
    while pos < size:
        while pos < size and (value[pos].isspace() or value[pos] == ","):
            pos += 1
        start = pos
        while pos < size and not value[pos].isspace():
            pos += 1
        url = value[start:pos]
        descriptors_follow = not url.endswith(",")
        url = url.rstrip(",")
        if url:
            urls.append(url)
        if descriptors_follow:
            depth = 0
            while pos < size and (value[pos] != "," or depth):
                depth += {"(": 1, ")": -1}.get(value[pos], 0)
                pos += 1
    return urls


def _node_urls(node: LexborNode) -> list[tuple[str, str]]:
    """(kind, raw URL) pairs a node makes the browser load."""
    tag, attrs = node.tag, node.attributes
    out: list[tuple[str, str]] = []

    def add(kind: str, raw: str | None) -> None:
        if raw and raw.strip():
            out.append((kind, raw.strip()))

    if tag == "script":
        add("script", attrs.get("src"))
    elif tag == "link":
        rels = (attrs.get("rel") or "").lower().split()
        for rel in rels:
            if rel == "preload":
                add(_PRELOAD_AS.get((attrs.get("as") or "").lower(), "preload"), attrs.get("href"))
                break
            if rel in _LINK_KINDS:
                add(_LINK_KINDS[rel], attrs.get("href"))
                break
    elif tag in ("img", "input"):
        add("image", attrs.get("src"))
        for url in parse_srcset(attrs.get("srcset") or ""):
            add("image", url)
    elif tag in ("iframe", "frame"):
        add("frame", attrs.get("src"))
    elif tag in ("video", "audio"):
        add("media", attrs.get("src"))
        add("image", attrs.get("poster"))
    elif tag == "source":
        in_picture = node.parent is not None and node.parent.tag == "picture"
        add("image" if in_picture else "media", attrs.get("src"))
        for url in parse_srcset(attrs.get("srcset") or ""):
            add("image", url)
    elif tag == "track":
        add("media", attrs.get("src"))
    elif tag == "form":
        add("form", attrs.get("action"))
    elif tag == "embed":
        add("embed", attrs.get("src"))
    elif tag == "object":
        add("embed", attrs.get("data"))
    elif tag == "style":
        css = node.text(deep=True)[:200_000]
        for block in _FONT_FACE.findall(css):
            for url in _CSS_URL.findall(block):
                add("font", url)
        for url in _CSS_IMPORT.findall(css):
            add("stylesheet", url)
    return out


def _clean_text(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def extract_resources(html: str, page_url: str, *, max_examples: int = MAX_EXAMPLES) -> dict[str, Any]:
    """Title, generator, resource counts per kind and third-party hosts (kinds and example URLs)."""
    tree = LexborHTMLParser(html)
    base = page_url
    page_host = (urlsplit(page_url).hostname or "").lower()
    own = registrable_domain(page_host) if page_host else ""
    third: dict[str, dict[str, Any]] = {}
    kinds: dict[str, int] = {}
    first_party = 0
    nodes = tree.css(_SELECTOR)
    for node in nodes[:MAX_NODES]:
        if node.tag == "base":
            if base == page_url:
                with contextlib.suppress(ValueError):  # unusable <base href> ("http://["): page URL stays
                    base = urljoin(page_url, (node.attributes.get("href") or "").strip())
            continue
        for kind, raw in _node_urls(node):
            if raw.lower().startswith(_SKIP_SCHEMES):
                continue
            try:
                url = urljoin(base, raw)
                parts = urlsplit(url)
                host = (parts.hostname or "").lower()
            except ValueError:
                continue
            if parts.scheme not in ("http", "https") or not host:
                continue
            kinds[kind] = kinds.get(kind, 0) + 1
            if registrable_domain(host) == own:
                first_party += 1
                continue
            entry = third.setdefault(host, {"kinds": set(), "examples": [], "count": 0})
            entry["kinds"].add(kind)
            entry["count"] += 1
            if len(entry["examples"]) < max_examples and url not in entry["examples"]:
                entry["examples"].append(url[:512])
    title_node = tree.css_first("title")
    generator = None
    for meta in tree.css("meta[name][content]"):
        if (meta.attributes.get("name") or "").strip().lower() == "generator":
            generator = _clean_text(meta.attributes.get("content") or "", 200)
            break
    return {
        "title": _clean_text(title_node.text(deep=True)) if title_node is not None else None,
        "generator": generator,
        "base_url": base if base != page_url else None,
        "registrable_domain": own,
        "resource_counts": dict(sorted(kinds.items())),
        "first_party_resources": first_party,
        "nodes_truncated": len(nodes) > MAX_NODES,
        "third_party": {
            host: {
                "registrable_domain": registrable_domain(host),
                "kinds": sorted(e["kinds"]),
                "count": e["count"],
                "examples": e["examples"],
            }
            for host, e in sorted(third.items())
        },
    }
