"""The KB schema change: entities carry their French registrations (``sirens``), checksum-validated, each
sourced, one SIREN → one entity."""

from __future__ import annotations

from pathlib import Path

import pytest

from souverain.errors import KBError
from souverain.kb.check import consistency_problems
from souverain.kb.load import load_kb

from .conftest import siren_from

SRC = "source: https://example.org/fact, checked: 2026-11-01"
A, B = siren_from("91000001"), siren_from("91000002")


def _kb(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "kb.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def _entity(eid: str, sirens: str, ids: str = "") -> str:
    return f"""
  - id: {eid}
    name: {eid} SA
    country: US
    facts: {{{SRC}}}
    {ids}
    sirens:
{sirens}
"""


def test_registrations_load_with_their_sources(tmp_path: Path) -> None:
    path = _kb(
        tmp_path,
        "entities:"
        + _entity(
            "acme",
            f"""      - {{siren: "{A}", name: ACME France, kind: subsidiary, {SRC}}}
      - {{siren: "{B}", name: ACME SARL (succursale), kind: branch, legal_category: "3120",
          {SRC}, verified: false}}""",
        ),
    )
    kb = load_kb([path])
    regs = kb.entity("acme").sirens
    assert [(r.siren, r.kind, r.legal_category, r.source.verified) for r in regs] == [
        (A, "subsidiary", None, True),
        (B, "branch", "3120", False),
    ]
    assert regs[0].where.startswith(f"{path}:")
    facts = [what for what, _ in kb.facts()]
    assert f"acme: French registration {A} (ACME France)" in facts
    assert consistency_problems(kb) == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            f'{{siren: "{A[:-1]}0", name: X, kind: subsidiary, {SRC}}}',
            "sirens[0]: siren: checksum (Luhn) fails",
        ),
        (
            f'{{siren: "12345", name: X, kind: subsidiary, {SRC}}}',
            "sirens[0]: siren: must be exactly 9 digits",
        ),
        (f'{{siren: "{A}", name: X, kind: cousin, {SRC}}}', "sirens[0]: kind: unknown 'cousin'"),
        (f'{{siren: "{A}", kind: subsidiary, {SRC}}}', "sirens[0]: name: missing"),
        (
            f'{{siren: "{A}", name: X, kind: branch, legal_category: "31", {SRC}}}',
            "legal_category: expected 4 digits",
        ),
        (f'{{siren: "{A}", name: X, kind: subsidiary}}', "sirens[0]: source: missing source"),
    ],
)
def test_bad_registrations_name_file_line_entity_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = _kb(tmp_path, "entities:" + _entity("acme", f"      - {line}"))
    with pytest.raises(KBError) as info:
        load_kb([path])
    assert any(message in p and str(path) in p and "acme" in p for p in info.value.problems), (
        info.value.problems
    )


def test_one_siren_one_entity(tmp_path: Path) -> None:
    reg = f'      - {{siren: "{A}", name: X, kind: subsidiary, {SRC}}}'
    path = _kb(tmp_path, "entities:" + _entity("acme", reg) + _entity("other", reg))
    problems = consistency_problems(load_kb([path]))
    assert any(f"SIREN {A} is also claimed by acme" in p for p in problems), problems
    # an entity's own SIREN (ids.siren) counts too
    path = _kb(
        tmp_path,
        "entities:"
        + _entity("acme", reg)
        + _entity(
            "other",
            f'      - {{siren: "{B}", name: Y, kind: subsidiary, {SRC}}}',
            ids=f'ids: {{siren: "{A}"}}',
        ),
    )
    assert any(f"SIREN {A}" in p for p in consistency_problems(load_kb([path])))


def test_shipped_kb_carries_the_sirens_given_in_the_brief() -> None:
    kb = load_kb()
    owner = {r.siren: (e.id, r) for e in kb.entities.values() for r in e.sirens}
    assert owner["327733184"][0] == "microsoft"
    assert owner["552118465"][0] == "ibm"
    aws_id, aws = owner["831001334"]
    assert (aws_id, aws.kind, aws.legal_category) == ("aws", "branch", "3120")
    assert consistency_problems(kb) == []
    unsourced = [r for e in kb.entities.values() for r in e.sirens if not r.source.url]
    assert unsourced == []
