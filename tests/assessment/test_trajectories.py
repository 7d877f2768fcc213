"""Programme indicators: bodies counted once, shared domains counted once per scope."""

from __future__ import annotations

from typing import Any

from souverain.assessment.run import trajectories
from souverain.policy.load import Policy
from souverain.portfolio.model import Organisation, Territory


def _doc(domains: dict[str, bool]) -> dict[str, Any]:
    """An assessment document whose domains pass or fail DNSSEC."""
    return {
        "services": [],
        "levels": [],
        "hygiene": {
            "domains": {
                name: {"checks": [{"rule": "DNS-DNSSEC", "status": "pass" if ok else "fail", "detail": ""}]}
                for name, ok in domains.items()
            }
        },
    }


def _org(siren: str, dept: str, region: str) -> Organisation:
    return Organisation(siren, f"Org {siren}", "commune", Territory(None, dept, region))


def test_shared_domain_counts_once_per_scope(policy: Policy) -> None:
    orgs = [_org("000000001", "35", "53"), _org("000000002", "35", "53"), _org("000000003", "29", "53")]
    docs = {
        # agglo.fr is shared by the three bodies (two départements); each body also has a domain of its own
        "000000001": _doc({"agglo.fr": True, "a.fr": False}),
        "000000002": _doc({"agglo.fr": True, "b.fr": False}),
        "000000003": _doc({"agglo.fr": True, "c.fr": True}),
    }
    dnssec = trajectories(orgs, docs, policy)["dnssec-validated"]
    assert dnssec["national"] == {"value": 0.5, "numerator": 2, "denominator": 4}
    assert dnssec["departements"]["35"] == {"value": round(1 / 3, 4), "numerator": 1, "denominator": 3}
    assert dnssec["departements"]["29"] == {"value": 1.0, "numerator": 2, "denominator": 2}
    assert dnssec["regions"]["53"]["denominator"] == 4


def test_body_indicator_counts_each_body(policy: Policy) -> None:
    orgs = [_org("000000001", "35", "53"), _org("000000002", "35", "53")]
    box = {"role": "mailbox", "level": "european"}
    us = {"role": "mailbox", "level": "extraterritorial"}
    docs = {
        "000000001": {**_doc({}), "levels": [box]},
        "000000002": {**_doc({}), "levels": [box, us]},
    }
    mail = trajectories(orgs, docs, policy)["mailboxes-eu-control"]
    assert mail["national"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert mail["target"] is None and mail["gap"] is None


def test_indicators_and_references_leave_without_yaml_line_marks() -> None:
    """The report's run.json showed `"__line__": 6` inside the trajectories' titles."""
    import json

    from souverain.policy.load import load_policy

    policy = load_policy()
    assert policy.indicators and policy.references
    assert "__line__" not in json.dumps([policy.indicators, policy.references], default=str)
