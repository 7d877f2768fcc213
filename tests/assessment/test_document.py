"""The stored document's compact form (check records as lists, hygiene findings derived) and its expansion."""

from __future__ import annotations

from typing import Any

import orjson
from assess_helpers import dep

from souverain.assessment.assess import Assessor
from souverain.assessment.document import FORMAT, check_view, expand, hygiene_findings
from souverain.assessment.run import _Tally
from souverain.evidence import Evidence, Status
from souverain.policy.load import Policy
from souverain.portfolio import Domain, Organisation, Territory

ORG = Organisation(
    "213700016",
    "Mairie",
    "commune",
    Territory("37001", "37", "24"),
    (Domain("mairie.fr", frozenset({"web", "mail"})), Domain("ville.fr", frozenset({"mail"}))),
)


def _evidence() -> dict[str, dict[str, Evidence]]:
    dns = Evidence("dns", "mairie.fr", Status.OK, {"mx_hosts": [{"host": "mx"}], "ad": {}, "queries": {}})
    spf = Evidence("spf", "mairie.fr", Status.OK, {"record": "v=spf1 ?all", "all": "?", "dns_lookups": 1})
    refused = {"endpoints": [{"status": "refused"}]}
    tls = Evidence("tls", "mairie.fr", Status.REFUSED, refused, error="refused")
    return {"mairie.fr": {"dns": dns, "spf": spf, "tls": tls}, "ville.fr": {"dns": dns}}


def test_compact_document_expands_to_dict_checks_and_findings(assessor: Assessor, policy: Policy) -> None:
    a = assessor.assess(ORG, _evidence(), [dep("mailbox", "uscloud")])
    stored = orjson.loads(orjson.dumps(a.to_dict()))
    assert stored["format"] == FORMAT
    records = stored["hygiene"]["domains"]["mairie.fr"]["checks"]
    assert all(isinstance(r, list) and len(r) == 7 for r in records)
    assert not any(f["family"] == "hygiene" for f in stored["findings"])

    full = expand(stored)
    assert "format" not in full and full["siren"] == ORG.siren
    checks = full["hygiene"]["domains"]["mairie.fr"]["checks"]
    assert set(checks[0]) == {"rule", "category", "required", "status", "detail", "evidence"}
    assert [check_view(c) for c in checks] == [check_view(r) for r in records]
    spf_all = next(c for c in checks if c["rule"] == "MAIL-SPF-ALL")
    assert spf_all == {
        "rule": "MAIL-SPF-ALL",
        "category": "mail",
        "required": policy.rules["MAIL-SPF-ALL"].required,
        "status": "warn",
        "detail": "all qualifier ?",
        "evidence": "mairie.fr:spf.all",
    }
    # hygiene findings: after the others, one per failed or warned check, domain by domain in check order
    kinds = [f["family"] for f in full["findings"]]
    first = len(stored["findings"])
    assert kinds.index("hygiene") == first and set(kinds[first:]) == {"hygiene"}
    flagged = [
        (domain, c["rule"], c["status"])
        for domain, part in full["hygiene"]["domains"].items()
        for c in part["checks"]
        if c["status"] in ("fail", "warn")
    ]
    derived = [f for f in full["findings"] if f["family"] == "hygiene"]
    assert [(f["subject"], f["rule"], f["status"]) for f in derived] == flagged
    spf_finding = next(f for f in derived if f["rule"] == "MAIL-SPF-ALL")
    assert spf_finding == {
        "rule": "MAIL-SPF-ALL",
        "family": "hygiene",
        "status": "warn",
        "severity": policy.rules["MAIL-SPF-ALL"].severity,
        "subject": "mairie.fr",
        "facts": {"subject": "mairie.fr", "detail": "all qualifier ?"},
        "evidence": ["mairie.fr:spf.all"],
    }
    assert a.all_findings() == full["findings"]
    assert [f["family"] for f in a.findings] == [f["family"] for f in stored["findings"]]


def test_documents_of_format_1_are_read_as_they_are(assessor: Assessor, policy: Policy) -> None:
    legacy = expand(orjson.loads(orjson.dumps(assessor.assess(ORG, _evidence(), []).to_dict())))
    assert expand(legacy) is legacy
    assert list(hygiene_findings(legacy)) == []


def test_run_aggregates_are_the_same_from_either_form(assessor: Assessor, policy: Policy) -> None:
    a = assessor.assess(ORG, _evidence(), [dep("mailbox", "uscloud")])
    compact = orjson.loads(orjson.dumps(a.to_dict()))

    def summary(doc: dict[str, Any]) -> dict[str, Any]:
        tally = _Tally()
        tally.add(ORG, doc)
        return tally.summary(policy)

    assert summary(compact) == summary(expand(compact))
    assert any(k.startswith("MAIL-SPF-ALL:") for k in summary(compact)["findings"])


def test_an_unknown_strategic_data_finding_does_not_claim_what_was_not_seen(policy: Policy) -> None:
    """ "Le service « Portail » (données personnelles) repose sur indéterminé, soumis à ." — the rule's fail
    sentence with no operator and no law (the audit's 7 bodies)."""
    from souverain.assessment.assess import render_finding

    facts = {"service": "Portail", "classes": "personnelles", "operator": "undetermined",
             "level": "undetermined", "laws": "", "extra": ""}  # fmt: skip
    for rule in ("DATA-PERSONAL-EXTRATERRITORIAL", "DATA-SENSITIVE-QUALIFIED", "DATA-HEALTH-HDS"):
        shown = render_finding(policy, {"rule": rule, "status": "unknown", "facts": facts})
        for lang in ("fr", "en"):
            text = shown["explanation"][lang]
            assert "Portail" in text and "soumis à ." not in text and "subject to ." not in text, text
            assert "indéterminé" not in text and "undetermined" not in text, text
        assert "n'est pas visible dans les observations" in shown["explanation"]["fr"]
    seen = facts | {"operator": "AWS", "laws": "US CLOUD Act"}
    failing = render_finding(
        policy, {"rule": "DATA-PERSONAL-EXTRATERRITORIAL", "status": "warn", "facts": seen}
    )
    assert (
        failing["explanation"]["en"]
        == "Service “Portail” (personal data) runs on AWS, subject to US CLOUD Act."
    )
