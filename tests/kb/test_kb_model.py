"""KB loading, validation errors, consistency checks and time-aware exposures on a small test KB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from souverain.errors import KBError
from souverain.kb.check import consistency_problems
from souverain.kb.index import SignatureIndex
from souverain.kb.jurisdiction import exposures
from souverain.kb.load import load_kb, normalise_pattern

S = "source: https://e.org/f, checked: 2026-11-01"


def test_tiny_kb_loads_and_is_consistent(tiny_kb_dir: Path) -> None:
    kb = load_kb([tiny_kb_dir])
    assert set(kb.entities) >= {"acme-mail", "bigco-de", "usparent", "softcorp"}
    assert consistency_problems(kb) == []
    assert len(kb.version) == 12


def test_exposures_follow_control_over_time(tiny_kb_dir: Path) -> None:
    kb = load_kb([tiny_kb_dir])
    # a French filter bought by a German company in 2024, which a US group bought in December 2025
    assert exposures(kb, "acme-mail", dt.date(2023, 6, 1)) == []
    assert exposures(kb, "acme-mail", dt.date(2025, 6, 1)) == []
    later = exposures(kb, "acme-mail", dt.date(2026, 1, 1))
    assert [e.law for e in later] == ["us-cloud-act"]
    assert later[0].via == ("acme-mail", "bigco-de", "usparent")
    assert exposures(kb, "hostfr", dt.date(2026, 1, 1)) == []


def _write(tmp_path: Path, body: str) -> Path:
    d = tmp_path / "bad"
    d.mkdir(exist_ok=True)
    (d / "bad.yaml").write_text(body, encoding="utf-8")
    return d


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"entities:\n  - {{id: x1, name: X, country: France, facts: {{{S}}}}}\n", "country"),
        (f"entities:\n  - {{id: X_1, name: X, country: FR, facts: {{{S}}}}}\n", "id: expected a slug"),
        (
            "entities:\n  - {id: x1, name: X, country: FR, facts: {source: https://e.org}}\n",
            "checked: missing",
        ),
        ("entities:\n  - {id: x1, name: X, country: FR, facts: {checked: 2026-01-01}}\n", "missing source"),
        (
            f"entities:\n  - {{id: x1, name: X, country: FR, facts: {{{S}}},\n"
            f"     owners: [{{parent: y, since: 2025-01-01, until: 2024-01-01, {S}}}]}}\n",
            "is not after since",
        ),
        (
            f"entities:\n  - {{id: x1, name: X, country: FR, facts: {{{S}}},\n"
            f"     signatures: [{{kind: mx, value: 'mx.*.example', role: mailbox, {S}}}]}}\n",
            "not a host name",
        ),
        (
            f"entities:\n  - {{id: x1, name: X, country: FR, facts: {{{S}}},\n"
            f"     signatures: [{{kind: asn, value: 64512x, {S}}}]}}\n",
            "ASN must be a number",
        ),
        (
            f"entities:\n  - {{id: x1, name: X, country: FR, facts: {{{S}}},\n"
            f"     signatures: [{{kind: host, value: a.example, role: sorcery, {S}}}]}}\n",
            "role: unknown",
        ),
        (
            f"entities:\n  - {{id: x1, name: X, country: FR, ids: {{siren: '123456789'}}, facts: {{{S}}}}}\n",
            "ids.siren",
        ),
        (
            "entities:\n  - {id: x1, name: X, country: FR, facts: {source: s, checked: 2999-01-01}}\n",
            "future",
        ),
        ("entities: [\n", "invalid YAML"),
    ],
)
def test_bad_kb_files_name_file_line_and_field(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(KBError) as info:
        load_kb([_write(tmp_path, body)])
    assert message in str(info.value)
    assert "bad.yaml" in str(info.value)


def test_duplicate_entity_is_reported_with_both_places(tmp_path: Path) -> None:
    one = f"  - {{id: dup, name: D, country: FR, facts: {{{S}}}}}\n"
    with pytest.raises(KBError, match=r"duplicate entity \(first at .*bad.yaml:2\)"):
        load_kb([_write(tmp_path, "entities:\n" + one + one)])


def test_consistency_one_asn_one_operator_and_dangling_parent(tmp_path: Path) -> None:
    body = (
        "entities:\n"
        f"  - {{id: a1, name: A, country: FR, facts: {{{S}}}, owners: [{{parent: ghost, {S}}}],\n"
        f"     signatures: [{{kind: asn, value: 64400, {S}}}, {{kind: prefix, value: 10.0.0.0/8, {S}}}]}}\n"
        f"  - {{id: b1, name: B, country: FR, facts: {{{S}}},\n"
        f"     signatures: [{{kind: asn, value: 64400, {S}}}, {{kind: prefix, value: 10.1.0.0/16, {S}}}]}}\n"
        f"  - {{id: c1, name: C, country: FR, facts: {{{S}}}, owners: [{{parent: d1, share: 1, {S}}}]}}\n"
        f"  - {{id: d1, name: D, country: FR, facts: {{{S}}}, owners: [{{parent: c1, share: 1, {S}}}]}}\n"
    )
    problems = consistency_problems(load_kb([_write(tmp_path, body)]))
    text = "\n".join(problems)
    assert "parent 'ghost' is not an entity" in text
    assert "asn 64400 is claimed by several entities" in text
    assert "overlaps" in text
    assert "ownership cycle" in text


def test_declared_shared_signature_is_accepted(tmp_path: Path) -> None:
    body = (
        "entities:\n"
        f"  - {{id: a1, name: A, country: FR, facts: {{{S}}},\n"
        f"     signatures: [{{kind: mx, value: mx.sh.example, role: mailbox, shared_with: [b1], {S}}}]}}\n"
        f"  - {{id: b1, name: B, country: FR, facts: {{{S}}},\n"
        f"     signatures: [{{kind: mx, value: mx.sh.example, role: mailbox, shared_with: [a1], {S}}}]}}\n"
    )
    assert consistency_problems(load_kb([_write(tmp_path, body)])) == []


def test_host_patterns_match_exact_and_suffix_only(tiny_kb_dir: Path) -> None:
    index = SignatureIndex(load_kb([tiny_kb_dir]))
    assert [s.entity for s in index.host("mx", "eu1.mail.softcorp.example")] == ["softcorp"]
    assert [s.entity for s in index.host("mx", "a.b.acme-mail.fr")] == ["acme-mail"]
    assert index.host("mx", "acme-mail.fr") == ()  # "*.x" is strictly below x
    assert index.host("mx", "evilacme-mail.fr") == ()
    assert index.host("host", "tags.softcorp.example")[0].role == "analytics"
    assert index.header("X-Edge-Id", "abc") is not None
    assert index.issuer("softcorp ca") is not None


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("asn", "AS16276", "16276"),
        ("mx", "MX1.Example.FR.", "mx1.example.fr"),
        ("spf", "_spf.google.com", "_spf.google.com"),
        ("header", "Server: Cloudflare", "server:cloudflare"),
        ("prefix", "2001:db8::/32", "2001:db8::/32"),
    ],
)
def test_patterns_are_normalised(kind: str, value: str, expected: str) -> None:
    assert normalise_pattern(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value"), [("asn", 0), ("asn", 23456), ("prefix", "10.0.0.1/8"), ("ns", "a..b")]
)
def test_bad_patterns_are_refused(kind: str, value: object) -> None:
    with pytest.raises(ValueError):
        normalise_pattern(kind, value)
