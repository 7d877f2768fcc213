"""Minimal DNS wire codec for the hot path: build a query, read only the answer section of a response.

dnspython builds and parses every section into objects; a stub that only needs the answer records of a
few types can skip most of that work. Anything unusual raises :class:`Unsupported` and the caller falls
back to dnspython.
"""

from __future__ import annotations

import re
import socket
import struct

__all__ = ["TYPES", "Record", "Unsupported", "build_query", "parse_response"]

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33,
         "CAA": 257}  # fmt: skip
_NAME_TYPES = frozenset({2, 5, 12})
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_OPT_DO = b"\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00"  # root, OPT, payload 1232, DO bit, no options
_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"  # the same without the DO bit
_RD, _RD_AD = 0x0100, 0x0120
_LENGTH = [bytes((n,)) for n in range(64)]
_QTAIL = {t: b"\x00" + struct.pack("!HH", t, 1) + _OPT_DO for t in TYPES.values()}  # root, type, IN, OPT
_QTAIL_AD = {t: b"\x00" + struct.pack("!HH", t, 1) + _OPT for t in TYPES.values()}
_UNSAFE = re.compile(rb"[^A-Za-z0-9_*-]")
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*")

Record = tuple[str, int, int, str]  # (owner, type, ttl, rdata in presentation format); names lowercased


class Unsupported(ValueError):
    """The message needs the full parser (unknown type in the answer, odd name, malformed data)."""


def build_query(name: str, qtype: int, qid: int, dnssec_ok: bool = True) -> bytes:
    """Query with RD, one question and an EDNS OPT record (payload 1232) carrying the DO bit.

    ``dnssec_ok=False``: no DO bit, the AD bit set instead — RFC 6840 §5.7: the resolver says whether
    it validated the answer (AD) without sending the signatures and denial proofs (RRSIG, NSEC), which
    make signed answers 3 to 5 times larger. Same OPT size either way (11 bytes)."""
    labels = name.rstrip(".").encode("ascii").split(b".") if name not in ("", ".") else []
    out = [_HEADER.pack(qid, _RD if dnssec_ok else _RD_AD, 1, 0, 0, 1)]
    size = 0
    for raw in labels:
        if not raw or len(raw) > 63 or b"\\" in raw:
            raise Unsupported(f"label {raw!r}")
        out.append(_LENGTH[len(raw)])
        out.append(raw)
        size += 1 + len(raw)
    if size > 254:
        raise Unsupported("name too long")
    tail = (_QTAIL if dnssec_ok else _QTAIL_AD).get(qtype)
    out.append(tail or b"\x00" + struct.pack("!HH", qtype, 1) + (_OPT_DO if dnssec_ok else _OPT))
    return b"".join(out)


def _label_text(raw: bytes) -> str:
    if not _UNSAFE.search(raw):
        return raw.decode("ascii")
    return "".join(chr(b) if b in _SAFE else f"\\{b:03d}" for b in raw)


def _read_name(wire: bytes, pos: int) -> tuple[str, int]:
    """Decompress a name; returns (text without trailing dot, position after it in the record)."""
    labels: list[str] = []
    end = -1
    jumps = 0
    while True:
        length = wire[pos]
        if length == 0:
            pos += 1
            break
        if length & 0xC0 == 0xC0:
            if end < 0:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | wire[pos + 1]
            jumps += 1
            if jumps > 64:
                raise Unsupported("compression loop")
            continue
        if length & 0xC0:
            raise Unsupported("bad label type")
        labels.append(_label_text(wire[pos + 1 : pos + 1 + length]))
        pos += 1 + length
    return ".".join(labels), (end if end >= 0 else pos)


def _quoted(raw: bytes) -> str:
    chars = ['"']
    for b in raw:
        if b in (0x22, 0x5C):
            chars.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            chars.append(chr(b))
        else:
            chars.append(f"\\{b:03d}")
    chars.append('"')
    return "".join(chars)


def _rdata(wire: bytes, rtype: int, start: int, length: int) -> str:
    end = start + length
    if rtype == 1 and length == 4:
        return socket.inet_ntop(socket.AF_INET, wire[start:end])
    if rtype == 28 and length == 16:
        return socket.inet_ntop(socket.AF_INET6, wire[start:end])
    if rtype in _NAME_TYPES:
        return _read_name(wire, start)[0].lower() + "."
    if rtype == 15:
        return f"{int.from_bytes(wire[start : start + 2], 'big')} {_read_name(wire, start + 2)[0].lower()}."
    if rtype == 16:
        parts, pos = [], start
        while pos < end:
            size = wire[pos]
            parts.append(wire[pos + 1 : pos + 1 + size])
            pos += 1 + size
        raw = b"".join(parts)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if rtype == 6:
        mname, pos = _read_name(wire, start)
        rname, pos = _read_name(wire, pos)
        numbers = struct.unpack("!IIIII", wire[pos : pos + 20])
        return f"{mname.lower()}. {rname.lower()}. " + " ".join(map(str, numbers))
    if rtype == 33:
        prio, weight, port = struct.unpack("!HHH", wire[start : start + 6])
        return f"{prio} {weight} {port} {_read_name(wire, start + 6)[0].lower()}."
    if rtype == 257:
        flags, tag_len = wire[start], wire[start + 1]
        tag = wire[start + 2 : start + 2 + tag_len].decode("ascii", errors="replace")
        return f"{flags} {tag} {_quoted(wire[start + 2 + tag_len : end])}"
    raise Unsupported(f"type {rtype}")


def parse_response(wire: bytes, qid: int, question: bytes, qtype: int) -> tuple[int, int, list[Record], bool]:
    """``(flags, rcode, answer records of type qtype or CNAME, negative)`` of the reply to a query whose
    question section was ``question`` (compared case-insensitively); raises Unsupported/ValueError.

    ``negative``: the authority section holds an SOA record — RFC 2308 §2: the answer is negative
    (NXDOMAIN or NODATA) for the last name of the answer's CNAME chain, so nothing is left to ask."""
    if len(wire) < 12:
        raise ValueError("short message")
    rid, flags, qdcount, ancount, nscount, _ar = _HEADER.unpack_from(wire)
    if rid != qid or not flags & 0x8000 or qdcount != 1:
        raise ValueError("not a response to this query")
    try:
        pos = 12 + len(question)
        if wire[12:pos].lower() != question.lower():
            raise ValueError("question mismatch")
        records: list[Record] = []
        for _ in range(ancount):
            owner, pos = _read_name(wire, pos)
            rtype, _rclass, ttl, rdlength = _RR.unpack_from(wire, pos)
            pos += 10
            if rtype == qtype or rtype == 5:
                records.append((owner.lower(), rtype, ttl, _rdata(wire, rtype, pos, rdlength)))
            pos += rdlength
        if pos > len(wire):
            raise ValueError("truncated record")
        negative = False
        for _ in range(nscount):  # SOA first in practice; signatures and NSEC records may come first
            pos = _read_name(wire, pos)[1]
            rtype, _rclass, _ttl, rdlength = _RR.unpack_from(wire, pos)
            if rtype == 6:
                negative = True
                break
            pos += 10 + rdlength
    except (IndexError, struct.error) as exc:
        raise ValueError(f"malformed message: {exc}") from exc
    return flags, flags & 0x0F, records, negative
