"""Decode an HTML body of any charset without ever raising."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

__all__ = ["decode_html"]

_META = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]{1,40})""", re.I)
_HEADER = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]{1,40})""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_WEB_ALIASES = {"iso8859-1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252", "utf-16": "utf-8"}
_SNIFF_BYTES = 65_536


def _codec(label: str) -> str | None:
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return _WEB_ALIASES.get(name, name)


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str, str]:
    """``(text, encoding, source)``: the BOM, then the HTTP charset, then ``<meta>`` in the first 4 KB,
    then strict UTF-8, then charset-normalizer, then UTF-8 with replacement characters."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name, "bom"
    if content_type:
        match = _HEADER.search(content_type)
        codec = _codec(match.group(1)) if match else None
        if codec:
            return body.decode(codec, errors="replace"), codec, "http"
    meta = _META.search(body[:4096])
    codec = _codec(meta.group(1).decode("ascii")) if meta else None
    if codec:
        return body.decode(codec, errors="replace"), codec, "meta"
    try:
        return body.decode("utf-8"), "utf-8", "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:_SNIFF_BYTES]).best()
    codec = _codec(best.encoding) if best is not None else None
    if codec:
        return body.decode(codec, errors="replace"), codec, "detected"
    return body.decode("utf-8", errors="replace"), "utf-8", "fallback"
