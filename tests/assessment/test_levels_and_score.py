"""Levels of dependencies, organisation score and coverage, strategic-data and declared-vs-observed rules,
history causes — on a small KB; and the two monotonicity properties with hypothesis."""

from __future__ import annotations

from typing import Any

from assess_helpers import dep
from hypothesis import given, settings
from hypothesis import strategies as st

from souverain.assessment.assess import Assessor, render_finding
from souverain.assessment.run import history
from souverain.evidence import Evidence, Status
from souverain.portfolio import DeclaredService, Domain, Organisation

ORG = Organisation(
    "213700016", "Commune", "commune", domains=(Domain("mairie.fr", frozenset({"web", "mail"})),)
)


def dns_ok(mx: bool = True) -> Evidence:
    return Evidence(
        "dns",
        "mairie.fr",
        Status.OK,
        {"mx_hosts": [{"host": "mx.example"}] if mx else [], "ad": {"SOA": True}, "queries": {}},
    )


def level_of(assessor: Assessor, d: dict[str, Any], declared: bool = False) -> str:
    return assessor.leveller.level(d, declared_offer=declared).level


def test_levels(assessor: Assessor) -> None:
    assert level_of(assessor, dep("mailbox", None)) == "undetermined"
    assert level_of(assessor, dep("mailbox", "uscloud")) == "extraterritorial"
    assert (
        level_of(assessor, dep("mailbox", "chmail")) == "exposed"
    )  # non-EEA control, no CLOUD-Act-class law
    assert level_of(assessor, dep("mailbox", "frhost")) == "european"
    # qualified only when the offer is declared and the observation agrees
    assert level_of(assessor, dep("mailbox", "frcloud")) == "european"
    assert level_of(assessor, dep("mailbox", "frcloud"), declared=True) == "qualified"
    # licensed non-European technology: exposed, unless declared on the qualified offer
    assert level_of(assessor, dep("mailbox", "trusted")) == "exposed"
    assert level_of(assessor, dep("mailbox", "trusted"), declared=True) == "qualified"
    # self-run: the body's own server is European unless its network brings worse
    assert level_of(assessor, dep("mailbox", "self", infra="frhost")) == "european"
    self_on_us = dep(
        "mailbox",
        "self",
        infra="uscloud",
        exposures=[{"law": "us-cloud-act", "via": ["uscloud"], "through": "infrastructure"}],
    )
    assert level_of(assessor, self_on_us) == "extraterritorial"


def test_score_coverage_and_worst(assessor: Assessor) -> None:
    ev = {"mairie.fr": {"dns": dns_ok()}}
    a = assessor.assess(ORG, ev, [dep("mailbox", "uscloud"), dep("dns-hosting", "frhost")])
    assert a.roles["mailbox"]["level"] == "extraterritorial" and a.roles["dns-hosting"]["level"] == "european"
    # mailbox 22 × 0 + dns 12 × 80 over evaluated weight 34
    assert a.score == round(12 * 80 / 34, 1)
    # web-hosting, CA and third parties are expected (web domain) but unevaluated
    assert a.coverage == round(34 / (22 + 12 + 16 + 5 + 20), 4)
    assert a.provisional
    assert a.worst_critical is not None and a.worst_critical["level"] == "extraterritorial"
    assert [f["rule"] for f in a.findings if f["family"] == "sovereignty"] == ["SOV-EXTRATERRITORIAL"]
    finding = render_finding(
        assessor.policy, next(f for f in a.findings if f["rule"] == "SOV-EXTRATERRITORIAL")
    )
    assert "CLOUD Act" in finding["explanation"]["fr"] and "CLOUD Act" in finding["explanation"]["en"]
    assert finding["remediation"]["fr"] and finding["evidence"]


def test_null_mx_makes_mailbox_not_applicable(assessor: Assessor) -> None:
    a = assessor.assess(ORG, {"mairie.fr": {"dns": dns_ok(mx=False)}}, [dep("dns-hosting", "frhost")])
    assert "mailbox" not in a.roles


def service_org(classes: tuple[str, ...], claimed: str, role: str = "mailbox") -> Organisation:
    return Organisation(
        ORG.siren,
        ORG.name,
        ORG.kind,
        domains=ORG.domains,
        services=(DeclaredService("Messagerie", classes, claimed, role),),
    )


def rules_of(a: Any) -> set[tuple[str, str]]:
    return {
        (f["rule"], f["status"])
        for f in a.findings
        if f["family"] in ("strategic-data", "declared-vs-observed")
    }


def test_sensitive_data_needs_a_qualified_offer(assessor: Assessor) -> None:
    ev = {"mairie.fr": {"dns": dns_ok()}}
    bad = assessor.assess(service_org(("sensible-art31",), "US Cloud"), ev, [dep("mailbox", "uscloud")])
    assert ("DATA-SENSITIVE-QUALIFIED", "fail") in rules_of(bad)
    good = assessor.assess(service_org(("sensible-art31",), "FR Cloud"), ev, [dep("mailbox", "frcloud")])
    assert not any(r == "DATA-SENSITIVE-QUALIFIED" for r, _ in rules_of(good))
    assert good.services[0]["level"] == "qualified"
    own = assessor.assess(
        service_org(("sensible-art31",), "FR Host"), ev, [dep("mailbox", "self", infra="frhost")]
    )
    assert not any(r == "DATA-SENSITIVE-QUALIFIED" for r, _ in rules_of(own))
    unknown = assessor.assess(service_org(("sensible-art31",), "FR Cloud"), ev, [dep("mailbox", None)])
    assert ("DATA-SENSITIVE-QUALIFIED", "unknown") in rules_of(unknown)


def test_health_data_needs_hds(assessor: Assessor) -> None:
    ev = {"mairie.fr": {"dns": dns_ok()}}
    org = service_org(("sante",), "FR Host", role="web-hosting")
    assert ("DATA-HEALTH-HDS", "fail") in rules_of(assessor.assess(org, ev, [dep("web-hosting", "frhost")]))
    org = service_org(("sante",), "FR Cloud", role="web-hosting")
    assert not any(
        r == "DATA-HEALTH-HDS" for r, _ in rules_of(assessor.assess(org, ev, [dep("web-hosting", "frcloud")]))
    )


def test_declared_versus_observed(assessor: Assessor) -> None:
    ev = {"mairie.fr": {"dns": dns_ok()}}
    a = assessor.assess(service_org(("public",), "FR Cloud SAS"), ev, [dep("mailbox", "uscloud")])
    mismatch = render_finding(assessor.policy, next(f for f in a.findings if f["rule"] == "DECL-MISMATCH"))
    assert "FR Cloud" in mismatch["explanation"]["en"] and "US Cloud" in mismatch["explanation"]["en"]
    ok = assessor.assess(service_org(("public",), "frcloud"), ev, [dep("mailbox", "frcloud")])
    assert not any(f["rule"].startswith("DECL-") for f in ok.findings)
    unknown = assessor.assess(service_org(("public",), "Nobody Hosting"), ev, [dep("mailbox", "frcloud")])
    assert ("DECL-UNVERIFIABLE", "unknown") in rules_of(unknown)


def test_history_tells_reality_from_methodology() -> None:
    old = {
        "score": 80.0,
        "levels": [
            {
                "domain": "a.fr",
                "role": "mailbox",
                "subject": "a.fr",
                "operator": "frhost",
                "level": "european",
            }
        ],
    }
    new = {
        "score": 0.0,
        "levels": [
            {
                "domain": "a.fr",
                "role": "mailbox",
                "subject": "a.fr",
                "operator": "uscloud",
                "level": "extraterritorial",
            }
        ],
    }
    # the old evidence, re-assessed today, still shows frhost: the body moved its mail (reality)
    moved = history(old, new, old, 1)
    assert [(c["change"], c["cause"]) for c in moved] == [
        ("operator-changed", "reality"),
        ("score-changed", "reality"),
    ]
    # the old evidence, re-assessed today, already shows uscloud: the KB changed, not the body
    relabelled = history(old, new, new, 1)
    assert {c["cause"] for c in relabelled} == {"methodology"}
    assert history(None, new, None, None) == []


ROLES = ["mailbox", "web-hosting", "dns-hosting", "certificate-authority", "identity-suite", "cdn"]
OPS = [None, "frhost", "frcloud", "chmail", "uscloud", "trusted"]


@st.composite
def dependency_sets(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 8))
    out = []
    for i in range(n):
        role = draw(st.sampled_from([*ROLES, "third-party"]))
        op = draw(st.sampled_from(OPS))
        if role == "third-party":
            out.append(dep("analytics", op, subject=f"t{i}.example", scope="page"))
        else:
            out.append(dep(role, op, subject=f"s{i}.mairie.fr"))
    return out


@settings(max_examples=500, deadline=None)
@given(deps=dependency_sets(), role=st.sampled_from([*ROLES, "third-party"]))
def test_adding_an_extraterritorial_dependency_never_raises_the_score(
    assessor: Assessor, deps: list[dict[str, Any]], role: str
) -> None:
    ev = {"mairie.fr": {"dns": dns_ok()}}
    before = assessor.assess(ORG, ev, deps).score
    extra = (
        dep("analytics", "uscloud", subject="new.example", scope="page")
        if role == "third-party"
        else dep(role, "uscloud", subject="new.mairie.fr")
    )
    after = assessor.assess(ORG, ev, [*deps, extra]).score
    assert after is not None
    assert before is None or after <= before + 1e-9


PROBES = ["dns", "tls", "http", "page", "spf", "dmarc", "dkim"]


@settings(max_examples=500, deadline=None)
@given(deps=dependency_sets(), drop=st.sets(st.sampled_from(PROBES)))
def test_removing_evidence_never_raises_coverage(
    assessor: Assessor, deps: list[dict[str, Any]], drop: set[str]
) -> None:
    page = Evidence("page", "mairie.fr", Status.OK, {"parsed": True, "third_party": {}})
    tls = Evidence("tls", "mairie.fr", Status.OK, {"endpoints": []})
    full = {"dns": dns_ok(), "tls": tls, "page": page}
    scopes = {
        "dns-hosting": "dns",
        "mailbox": "dns",
        "web-hosting": "dns",
        "certificate-authority": "tls",
        "cdn": "dns",
        "identity-suite": "dns",
        "analytics": "page",
    }
    before = assessor.assess(ORG, {"mairie.fr": full}, deps).coverage
    kept_ev = {p: e for p, e in full.items() if p not in drop}
    # the dependencies derived from a dropped probe disappear with it
    kept_deps = [d for d in deps if scopes[str(d["role"])] not in drop]
    after = assessor.assess(ORG, {"mairie.fr": kept_ev}, kept_deps).coverage
    assert after <= before + 1e-9


def test_undetermined_optional_dependencies_beside_a_determined_one_do_not_weigh(assessor: Assessor) -> None:
    """Found by hypothesis: an identity suite seen once (frhost) beside undetermined ones lowered coverage, so
    losing the DNS evidence that showed them all raised it. Optional roles count determined dependencies
    only."""
    ident = [dep("identity-suite", "frhost", subject="s0.mairie.fr")] + [
        dep("identity-suite", None, subject=f"s{i}.mairie.fr") for i in (2, 3, 4)
    ]
    deps = [*ident, dep("mailbox", None, subject="s1.mairie.fr")]
    page = Evidence("page", "mairie.fr", Status.OK, {"parsed": True, "third_party": {}})
    tls = Evidence("tls", "mairie.fr", Status.OK, {"endpoints": []})
    before = assessor.assess(ORG, {"mairie.fr": {"dns": dns_ok(), "tls": tls, "page": page}}, deps)
    after = assessor.assess(ORG, {"mairie.fr": {"tls": tls, "page": page}}, [])
    assert before.roles["identity-suite"]["coverage"] == 1.0
    assert after.coverage <= before.coverage


def test_a_self_run_service_on_a_foreign_platform_is_said_as_such(assessor: Assessor) -> None:
    """The finding said the French body itself was subject to the US CLOUD Act ("the organisation itself is
    subject to … (control: …)"); it is its own service, through the platform it runs on."""
    self_on_us = dep(
        "mailbox",
        "self",
        infra="uscloud",
        exposures=[{"law": "us-cloud-act", "via": ["uscloud"], "through": "infrastructure"}],
    )
    a = assessor.assess(ORG, {"mairie.fr": {"dns": dns_ok()}}, [self_on_us])
    finding = next(f for f in a.findings if f["rule"] == "SOV-EXTRATERRITORIAL")
    text = render_finding(assessor.policy, finding)["explanation"]
    assert (
        "the organisation's own service, run on " in text["en"] and "organisation itself is" not in text["en"]
    )
    assert "le service de l'organisme lui-même, exploité sur " in text["fr"]


def test_a_sensitive_service_self_run_on_a_cloud_says_where_it_runs(assessor: Assessor) -> None:
    """It said the service 'runs on the organisation itself' when the body's own servers were on a US
    cloud."""
    ev = {"mairie.fr": {"dns": dns_ok()}}
    self_on_us = dep(
        "mailbox",
        "self",
        infra="uscloud",
        exposures=[{"law": "us-cloud-act", "via": ["uscloud"], "through": "infrastructure"}],
    )
    a = assessor.assess(service_org(("sensible-art31",), "FR Host"), ev, [self_on_us])
    finding = next(f for f in a.findings if f["rule"] == "DATA-SENSITIVE-QUALIFIED")
    text = render_finding(assessor.policy, finding)["explanation"]
    assert "runs on the organisation's own servers on " in text["en"]
    assert "repose sur les propres serveurs de l'organisme chez " in text["fr"]
