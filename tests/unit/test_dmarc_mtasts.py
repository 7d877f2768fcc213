"""DMARC, MTA-STS and TLS-RPT records."""

from __future__ import annotations

from souverain.parsers.dmarc import parse_dmarc, select_dmarc
from souverain.parsers.mtasts import parse_sts_policy, parse_sts_txt, parse_tlsrpt


def test_full_dmarc_record() -> None:
    rec = parse_dmarc(
        "v=DMARC1; p=reject; sp=quarantine; pct=25; rua=mailto:a@x.fr, mailto:b@y.fr!10m; "
        "ruf=mailto:f@x.fr; adkim=s; aspf=r; fo=1:d; ri=3600"
    )
    assert rec.valid and rec.p == "reject" and rec.sp == "quarantine" and rec.pct == 25
    assert rec.rua == ["mailto:a@x.fr", "mailto:b@y.fr!10m"] and rec.ruf == ["mailto:f@x.fr"]
    assert rec.adkim == "s" and rec.fo == ["1", "d"] and rec.ri == 3600


def test_missing_p_with_rua_acts_as_none() -> None:
    rec = parse_dmarc("v=DMARC1; rua=mailto:a@x.fr")
    assert not rec.valid and "missing required tag 'p'" in rec.errors
    assert rec.effective_policy == "none"


def test_invalid_values() -> None:
    rec = parse_dmarc("v=DMARC1; p=block; pct=150; adkim=x; rua=ftp://x")
    assert rec.p is None and rec.pct is None
    assert len(rec.errors) == 4 and rec.effective_policy is None


def test_version_first_and_duplicates() -> None:
    assert "record must start with 'v=DMARC1'" in parse_dmarc("p=none; v=DMARC1").errors
    assert "duplicate tag 'p'" in parse_dmarc("v=DMARC1; p=none; p=reject").errors
    assert parse_dmarc("v=dmarc1; p=none").warnings == ["version should be written 'DMARC1'"]
    raw, error = select_dmarc(["v=DMARC1; p=none", "v=DMARC1; p=reject", "other"])
    assert raw == "v=DMARC1; p=none" and error is not None


def test_mta_sts_txt_and_policy() -> None:
    assert parse_sts_txt("v=STSv1; id=2024010101")["valid"]
    assert not parse_sts_txt("v=STSv1; id=bad-id!")["valid"]
    assert not parse_sts_txt("id=1; v=STSv1")["valid"]
    policy = parse_sts_policy(
        "version: STSv1\r\nmode: enforce\r\nmx: mail.example.fr\r\nmx: *.example.net\r\nmax_age: 604800\r\n"
    )
    assert policy.errors == [] and policy.mode == "enforce" and policy.max_age == 604800
    assert policy.mx_matches("mail.example.fr.") and policy.mx_matches("a.example.net")
    assert not policy.mx_matches("a.b.example.net") and not policy.mx_matches("example.net")
    bad = parse_sts_policy("version: STSv2\nmode: on\nmax_age: forever\nnonsense")
    assert len(bad.errors) == 4


def test_tlsrpt() -> None:
    ok = parse_tlsrpt("v=TLSRPTv1; rua=mailto:tls@example.fr,https://r.example.fr/x")
    assert ok["valid"] and len(ok["rua"]) == 2
    assert not parse_tlsrpt("v=TLSRPTv1")["valid"]
