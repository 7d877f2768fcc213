"""Zone files written for nsd, DNSSEC-signed (ECDSAP256SHA256, NSEC) with a fast path over dnspython."""

from __future__ import annotations

import base64
import pickle
import struct
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from dns.dnssectypes import Algorithm

from souverain.lab.dnsdata import Zone

SOA_SERIAL = 2025010101
NSEC_TTL = 300
DAY = 86400


class Signer:
    """One ECDSA P-256 key (flags 257) shared by every signed zone of the lab."""

    def __init__(self, key_pem: bytes, now: int) -> None:
        key = serialization.load_pem_private_key(key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self.key = key
        self.dnskey = dns.dnssec.make_dnskey(key.public_key(), Algorithm.ECDSAP256SHA256, flags=257)
        self.keytag = dns.dnssec.key_id(self.dnskey)
        self.now = now

    def ds(self, owner: str) -> str:
        return dns.dnssec.make_ds(owner, self.dnskey, "SHA256").to_text()

    def rrsig(self, owner: str, origin: str, rtype: str, ttl: int, rdatas: list[str], mode: str) -> str:
        o = dns.name.from_text(owner)
        signer = dns.name.from_text(origin)
        labels = len(o) - 1 - (1 if o.labels[0] == b"*" else 0)
        inception, expiration = (
            (self.now - 40 * DAY, self.now - 10 * DAY)
            if mode == "broken"
            else (self.now - DAY, self.now + 30 * DAY)
        )
        rdtype = dns.rdatatype.from_text(rtype)
        head = struct.pack("!HBBIIIH", rdtype, 13, labels, ttl, expiration, inception, self.keytag)
        data: list[bytes] = [head, signer.canonicalize().to_wire() or b""]
        owner_wire = o.canonicalize().to_wire() or b""
        fixed = struct.pack("!HHI", rdtype, 1, ttl)
        wires = sorted(
            dns.rdata.from_text(dns.rdataclass.IN, rdtype, r).to_digestable(signer) for r in rdatas
        )
        for w in wires:
            data += [owner_wire, fixed, struct.pack("!H", len(w)), w]
        der = self.key.sign(b"".join(data), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = bytearray(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        if mode == "broken-corrupt" and rtype != "DNSKEY":
            sig[5] ^= 0x5A
        stamp = "%Y%m%d%H%M%S"
        exp = time.strftime(stamp, time.gmtime(expiration))
        inc = time.strftime(stamp, time.gmtime(inception))
        return (
            f"{owner} {ttl} IN RRSIG {rtype} 13 {labels} {ttl} {exp} {inc} {self.keytag} {origin} "
            f"{base64.b64encode(bytes(sig)).decode()}"
        )


def _abs(owner: str, origin: str) -> str:
    if owner == "@":
        return origin
    if owner.endswith("."):
        return owner
    return f"{owner}.{origin}" if origin != "." else f"{owner}."


def _canon_key(name: str) -> tuple[bytes, ...]:
    return tuple(lbl.lower().encode() for lbl in reversed(name.rstrip(".").split("."))) if name != "." else ()


def zone_text(zone: Zone, signer: Signer | None) -> str:
    """Presentation-format zone; signed when ``zone.sign`` is not 'unsigned' (needs ``signer``)."""
    origin = zone.origin if zone.origin.endswith(".") else zone.origin + "."
    if origin == "..":
        origin = "."
    rrsets: dict[tuple[str, str], tuple[int, list[str]]] = {}
    soa_host = "hostmaster." + (origin if origin != "." else "lab.")
    apex: list[tuple[str, int, str, str]] = [
        (origin, 3600, "SOA", f"{zone.ns[0]}. {soa_host} {SOA_SERIAL} 7200 3600 1209600 {NSEC_TTL}")
    ]
    apex += [(origin, 3600, "NS", f"{h}.") for h in zone.ns]
    signed = zone.sign != "unsigned" and signer is not None
    if signed:
        assert signer is not None
        apex.append((origin, 3600, "DNSKEY", signer.dnskey.to_text()))
    for owner, ttl, rtype, rdata in apex + [(_abs(o, origin), t, ty, r) for o, t, ty, r in zone.records]:
        if rdata == "@key":
            assert signer is not None
            rdata = signer.ds(owner)
        key = (owner.lower(), rtype)
        if key in rrsets:
            rrsets[key][1].append(rdata)
        else:
            rrsets[key] = (ttl, [rdata])
    lines = [f"$ORIGIN {origin}"] if origin != "." else []
    if not signed:
        lines += [f"{o} {ttl} IN {t} {r}" for (o, t), (ttl, rs) in rrsets.items() for r in rs]
        return "\n".join(lines) + "\n"
    assert signer is not None
    cuts = {o for (o, t) in rrsets if t == "NS" and o != origin}
    types: dict[str, list[str]] = defaultdict(list)
    for o, t in rrsets:
        if not _below_cut(o, cuts, origin):
            types[o].append(t)
    names = sorted(types, key=_canon_key)
    out: list[str] = []
    for i, name in enumerate(names):
        nxt = names[(i + 1) % len(names)]
        is_cut = name in cuts
        tset = types[name]
        for t in tset:
            ttl, rs = rrsets[(name, t)]
            out += [f"{name} {ttl} IN {t} {r}" for r in rs]
            if not (is_cut and t == "NS"):
                out.append(signer.rrsig(name, origin, t, ttl, rs, zone.sign))
        bitmap = set(tset) | {"NSEC"} | ({"RRSIG"} if not is_cut or "DS" in tset else set())
        nsec = f"{nxt} " + " ".join(sorted(bitmap, key=dns.rdatatype.from_text))
        out.append(f"{name} {NSEC_TTL} IN NSEC {nsec}")
        out.append(signer.rrsig(name, origin, "NSEC", NSEC_TTL, [nsec], zone.sign))
    for (o, t), (ttl, rs) in rrsets.items():
        if o not in types:
            out += [f"{o} {ttl} IN {t} {r}" for r in rs]
    return "\n".join(lines + out) + "\n"


def _below_cut(name: str, cuts: set[str], origin: str) -> bool:
    if not cuts:
        return False
    labels = name.split(".")
    for i in range(1, len(labels) - 1):
        parent = ".".join(labels[i:])
        if parent == origin or (origin == "." and parent == ""):
            return False
        if parent in cuts:
            return True
    return False


def zone_filename(origin: str) -> str:
    return "root.zone" if origin in (".", "") else f"{origin.rstrip('.')}.zone"


def write_zones(zones: Iterable[Zone], zone_dir: str, key_pem: bytes, now: int) -> int:
    """Worker entry point: write each zone file, return how many were written."""
    signer = Signer(key_pem, now)
    n = 0
    for z in zones:
        Path(zone_dir, zone_filename(z.origin)).write_text(zone_text(z, signer))
        n += 1
    return n


def main(argv: list[str]) -> None:
    """``python -m souverain.lab.signer JOB``: JOB is a pickle written by the lab itself."""
    zones, zone_dir, key_pem, now = pickle.loads(Path(argv[0]).read_bytes())
    write_zones(zones, zone_dir, key_pem, now)


if __name__ == "__main__":
    main(sys.argv[1:])
