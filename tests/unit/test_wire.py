"""The minimal DNS codec agrees with dnspython."""

from __future__ import annotations

import contextlib

import dns.flags
import dns.message
import dns.rrset
from hypothesis import given
from hypothesis import strategies as st

from souverain.net import wire


def _reply(qname: str, rdtype: str, *rrsets: tuple[str, str, list[str]]) -> tuple[bytes, bytes]:
    query = wire.build_query(qname, wire.TYPES[rdtype], 4242)
    msg = dns.message.from_wire(query)
    assert msg.flags & dns.flags.RD and msg.ednsflags & dns.flags.DO and msg.payload == 1232
    response = dns.message.make_response(msg)
    for owner, rtype, values in rrsets:
        response.answer.append(dns.rrset.from_text(owner, 300, "IN", rtype, *values))
    return query, response.to_wire()


def test_answer_types_match_dnspython_presentation() -> None:
    cases = [
        ("A", ["192.0.2.1", "192.0.2.2"]),
        ("AAAA", ["2001:db8::1"]),
        ("MX", ["10 mx1.example.fr.", "20 mx2.example.fr."]),
        ("NS", ["ns1.example.fr."]),
        ("TXT", ['"v=spf1 " "include:_spf.example.fr -all"', '"caf\\195\\169"', '"\\255\\254"']),
        ("SOA", ["ns1.example.fr. hostmaster.example.fr. 2024010101 3600 600 86400 300"]),
        ("SRV", ["0 5 443 autodiscover.example.fr."]),
        ("CAA", ['0 issue "letsencrypt.org"', '128 iodef "mailto:a@b.fr"']),
    ]
    for rdtype, values in cases:
        query, reply = _reply("Example.FR", rdtype, ("example.fr.", rdtype, values))
        flags, rcode, records, negative = wire.parse_response(reply, 4242, query[12:-11], wire.TYPES[rdtype])
        expected = dns.rrset.from_text("example.fr.", 300, "IN", rdtype, *values)
        if rdtype == "TXT":
            assert sorted(r[3] for r in records) == sorted(
                ["v=spf1 include:_spf.example.fr -all", "café", "ÿþ"]
            )
        else:
            assert sorted(r[3] for r in records) == sorted(rd.to_text() for rd in expected)
        assert rcode == 0 and flags & 0x8000 and negative is False


def test_cname_chain_and_mismatch() -> None:
    query, reply = _reply("www.example.fr", "A", ("www.example.fr.", "CNAME", ["cdn.example.net."]),
                          ("cdn.example.net.", "A", ["192.0.2.9"]))  # fmt: skip
    _, _, records, _ = wire.parse_response(reply, 4242, query[12:-11], 1)
    assert records == [
        ("www.example.fr", 5, 300, "cdn.example.net."),
        ("cdn.example.net", 1, 300, "192.0.2.9"),
    ]
    other = wire.build_query("other.fr", 1, 4242)
    try:
        wire.parse_response(reply, 4242, other[12:-11], 1)
    except ValueError:
        pass
    else:
        raise AssertionError("question mismatch accepted")


def test_negative_answers_are_told_by_an_soa_in_the_authority_section() -> None:
    """RFC 2308 §2: NODATA and NXDOMAIN carry the zone's SOA in the authority section, after the CNAME
    chain if any; a positive answer may carry NS records there (non-minimal resolvers), or nothing."""
    soa = "ns.example.net. hostmaster.example.net. 1 7200 3600 86400 300"
    query, reply = _reply("www.example.fr", "AAAA", ("www.example.fr.", "CNAME", ["cdn.example.net."]))
    msg = dns.message.from_wire(reply)
    for authority, negative in (
        ([], False),
        ([("example.net.", "NS", ["ns.example.net."])], False),
        ([("example.net.", "SOA", [soa])], True),
        ([("cdn.example.net.", "NSEC", ["example.net. A RRSIG NSEC"]), ("example.net.", "SOA", [soa])], True),
    ):
        msg.authority = [dns.rrset.from_text(o, 300, "IN", t, *v) for o, t, v in authority]
        _, rcode, records, found = wire.parse_response(msg.to_wire(), 4242, query[12:-11], 28)
        assert (rcode, found) == (0, negative), authority
        assert records == [("www.example.fr", 5, 300, "cdn.example.net.")]


@given(st.binary(max_size=600))
def test_parse_never_crashes_on_garbage(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        wire.parse_response(data, int.from_bytes(data[:2] or b"\0\0", "big"), data[12:30], 1)


def test_query_asks_for_the_ad_flag_instead_of_dnssec_records() -> None:
    for dnssec_ok in (True, False):
        for name, qtype in (("example.fr", 1), ("_dmarc.example.fr", 16), (".", 6), ("x.fr", 99)):
            msg = dns.message.from_wire(wire.build_query(name, qtype, 4242, dnssec_ok))
            assert msg.id == 4242 and msg.flags & dns.flags.RD
            assert bool(msg.ednsflags & dns.flags.DO) is dnssec_ok
            assert bool(msg.flags & dns.flags.AD) is not dnssec_ok
            assert msg.edns == 0 and msg.payload == 1232
            assert msg.question[0].rdtype == qtype
