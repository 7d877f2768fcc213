"""A small KB and policy context for assessment tests (independent of the shipped KB data)."""

from __future__ import annotations

import datetime as dt

import pytest

from souverain.assessment.assess import Assessor
from souverain.assessment.levels import Leveller
from souverain.kb.load import KB, load_kb
from souverain.policy.load import Policy, load_policy

S = "source: https://e.org/f, checked: 2026-11-01"
KB_TEXT = f"""
entities:
  - {{id: frcloud, name: FR Cloud SAS, country: FR, facts: {{{S}}},
     offers: [{{id: frcloud-snc, name: FR Cloud SNC, roles: [web-hosting, mailbox],
               certifications: [{{scheme: secnumcloud, status: qualified, since: 2024-01-01, {S}}},
                                {{scheme: hds, status: certified, since: 2023-01-01, {S}}}]}}]}}
  - {{id: uscloud, name: US Cloud Inc, country: US, facts: {{{S}}}}}
  - {{id: chmail, name: CH Mail AG, country: CH, facts: {{{S}}}}}
  - {{id: trusted, name: Trusted SAS, country: FR, facts: {{{S}}},
     technology_from: [{{entity: uscloud, {S}}}],
     offers: [{{id: trusted-q, name: Trusted Q, roles: [mailbox],
               certifications: [{{scheme: secnumcloud, status: qualified, since: 2025-12-17, {S}}}]}}]}}
  - {{id: frhost, name: FR Host SAS, country: FR, facts: {{{S}}}}}
laws:
  - {{id: us-cloud-act, name: CLOUD Act, countries: [US], {S}}}
"""

ON = dt.date(2026, 6, 1)


@pytest.fixture(scope="session")
def small_kb(tmp_path_factory: pytest.TempPathFactory) -> KB:
    d = tmp_path_factory.mktemp("kb")
    (d / "kb.yaml").write_text(KB_TEXT, encoding="utf-8")
    return load_kb([d])


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="session")
def assessor(small_kb: KB, policy: Policy) -> Assessor:
    return Assessor(small_kb, policy, Leveller(small_kb, policy, ON))
