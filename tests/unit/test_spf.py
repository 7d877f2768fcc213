"""SPF parsing and lookup counting (RFC 7208)."""

from __future__ import annotations

import pytest

from souverain.parsers.spf import is_spf, parse_spf, select_spf


def test_terms_qualifiers_and_modifiers() -> None:
    rec = parse_spf(
        "v=spf1 ip4:192.0.2.0/24 -ip6:2001:db8::/32 a/24 mx:mx.example.fr//64 ?ptr "
        "include:_spf.google.com exists:%{i}._spf.example.fr ~all exp=explain.%{d} x-foo=bar"
    )
    assert rec.errors == []
    names = [(t.qualifier, t.name) for t in rec.mechanisms]
    assert names == [
        ("+", "ip4"),
        ("-", "ip6"),
        ("+", "a"),
        ("+", "mx"),
        ("?", "ptr"),
        ("+", "include"),
        ("+", "exists"),
        ("~", "all"),
    ]
    assert rec.mechanisms[2].cidr4 == 24 and rec.mechanisms[3].cidr6 == 64
    assert rec.mechanisms[3].value == "mx.example.fr"
    assert rec.exp == "explain.%{d}" and rec.unknown_modifiers == ["x-foo"]
    assert rec.mechanisms[6].has_macro and rec.mechanisms[6].value == "%{i}._spf.example.fr"
    assert rec.lookup_terms == 5  # a, mx, ptr, include, exists
    assert rec.all_qualifier == "~"


def test_plus_all_and_case() -> None:
    rec = parse_spf("V=SPF1 +ALL")
    assert rec.errors == [] and rec.all_qualifier == "+"


def test_redirect_counts_only_without_all() -> None:
    assert parse_spf("v=spf1 redirect=_spf.example.fr").lookup_terms == 1
    with_all = parse_spf("v=spf1 -all redirect=_spf.example.fr")
    assert (
        with_all.redirect == "_spf.example.fr" and not with_all.redirect_used and with_all.lookup_terms == 0
    )


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ("v=spf1 include", "needs a domain"),
        ("v=spf1 ip4:300.1.2.3", "invalid address"),
        ("v=spf1 ip4:2001:db8::1", "invalid address"),
        ("v=spf1 a/33", "invalid CIDR"),
        ("v=spf1 foo:bar", "unknown mechanism"),
        ("v=spf1 redirect=a.fr redirect=b.fr", "duplicate 'redirect='"),
        ("v=spf1 include:%{z}.example.fr", "invalid macro"),
        ("v=spf1 all:example.fr", "takes no argument"),
        ("spf1 -all", "not an SPF record"),
    ],
)
def test_invalid_terms_are_reported(record: str, fragment: str) -> None:
    assert any(fragment in e for e in parse_spf(record).errors)


def test_more_than_ten_lookup_terms_in_one_record() -> None:
    rec = parse_spf("v=spf1 " + " ".join(f"include:s{i}.example.fr" for i in range(11)) + " -all")
    assert rec.lookup_terms == 11


def test_macros_kept_verbatim() -> None:
    rec = parse_spf("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all")
    assert rec.errors == [] and rec.mechanisms[0].raw == "exists:%{ir}.%{l1r+-}._spf.%{d}"


def test_select_and_duplicates() -> None:
    assert is_spf("v=spf1") and is_spf("v=spf1 -all") and not is_spf("v=spf10 -all")
    assert select_spf(["google-site-verification=x"]) == (None, None)
    raw, error = select_spf(["v=spf1 -all", "v=spf1 +all"])
    assert raw == "v=spf1 -all" and error is not None and "2 SPF records" in error
