"""Assess a whole run: every organisation, its history against the previous assessed run, the programme
trajectories; stored as one assessment (run × attribution × methodology)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from souverain.assessment.assess import Assessor
from souverain.assessment.levels import Leveller
from souverain.attribution.engine import Attributor
from souverain.attribution.observe import PROBES_READ
from souverain.attribution.run import recorded_targets, run_dependencies
from souverain.errors import InputError
from souverain.evidence import Evidence, Status
from souverain.kb.load import KB
from souverain.kb.netdata import NetworkData
from souverain.policy.load import Policy
from souverain.portfolio import Organisation
from souverain.store import Store

__all__ = ["AssessmentResult", "assess_run", "history", "trajectories"]

HYGIENE_PROBES = frozenset({"dns", "tls", "http", "spf", "dmarc", "dkim", "mta-sts", "tls-rpt"})
STATUS_ONLY = ("page",)
"""Probes whose status alone the assessment needs (their payloads are not read)."""
SENSITIVE = frozenset({"sensible-art31", "defense", "nucleaire"})


@dataclass(frozen=True, slots=True)
class AssessmentResult:
    assessment_id: int
    methodology: str
    organisations: int
    summary: dict[str, Any]


def _evidence(store: Store, run_id: int, probes: Iterable[str]) -> dict[str, dict[str, Evidence]]:
    domains = {t.id: t.domain for t in store.targets(run_id)}
    out: dict[str, dict[str, Evidence]] = {}
    for target_id, items in store.evidence_by_target(run_id, frozenset(probes)):
        out[domains[target_id]] = {e.probe: e for e in items}
    for probe in STATUS_ONLY:
        for target_id, (status, error) in store.probe_statuses(run_id, probe).items():
            domain = domains[target_id]
            out.setdefault(domain, {})[probe] = Evidence(probe, domain, Status(status), error=error)
    return out


def _assess_all(
    orgs: list[Organisation],
    evidence: dict[str, dict[str, Evidence]],
    deps_by_domain: dict[str, list[dict[str, Any]]],
    deps_by_siren: dict[str, list[dict[str, Any]]],
    assessor: Assessor,
    progress: Callable[[int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    docs = {}
    for org in orgs:
        deps = [d for dom in org.domains for d in deps_by_domain.get(dom.name, [])] + deps_by_siren.get(
            org.siren, []
        )
        ev = {dom.name: evidence[dom.name] for dom in org.domains if dom.name in evidence}
        docs[org.siren] = assessor.assess(org, ev, deps).to_dict()
        if progress is not None:
            progress(1)
    return docs


def _reassessed_previous(
    store: Store, run_id: int, orgs: list[Organisation], kb: KB, networks: NetworkData, on: dt.date
) -> tuple[dict[str, dict[str, Evidence]], dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """An old run's hygiene evidence and its dependencies under the current KB, from one read of its
    evidence (in memory, nothing stored)."""
    evidence: dict[str, dict[str, Evidence]] = {}

    def remember(
        targets: Iterable[tuple[int, str, list[Evidence]]],
    ) -> Iterator[tuple[int, str, list[Evidence]]]:
        for target_id, domain, items in targets:
            evidence[domain] = {
                e.probe: e for e in items if e.probe in HYGIENE_PROBES or e.probe in STATUS_ONLY
            }
            yield target_id, domain, items

    by_domain: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_siren: dict[str, list[dict[str, Any]]] = defaultdict(list)
    targets = remember(recorded_targets(store, run_id, PROBES_READ | HYGIENE_PROBES))
    for row in run_dependencies(Attributor(kb, networks, on), targets, orgs):
        if row["domain"] is not None:
            by_domain[row["domain"]].append(row)
        else:
            by_siren[row["siren"]].append(row)
    return evidence, by_domain, by_siren


def _stored_dependencies(
    store: Store, attribution_id: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    by_domain: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_siren: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in store.dependencies_of(attribution_id):
        if row["domain"] is not None:
            by_domain[row["domain"]].append(row)
        elif row["siren"]:
            by_siren[row["siren"]].append(row)
    return by_domain, by_siren


def _dep_index(doc: dict[str, Any] | None) -> dict[tuple[str, str, str], tuple[str | None, str]]:
    if doc is None:
        return {}
    return {
        (r["domain"] or "contacts", r["role"], r["subject"]): (r["operator"], r["level"])
        for r in doc["levels"]
    }


def history(
    old: dict[str, Any] | None, new: dict[str, Any], recomputed: dict[str, Any] | None, old_run: int | None
) -> list[dict[str, Any]]:
    """Changes from the previous assessed run, each marked ``reality`` or ``methodology`` (or ``both``).

    ``recomputed`` is the previous run's evidence assessed with today's KB and policy: where it already
    shows the new value, the change comes from the methodology/KB; where it still shows the old one, reality
    changed.
    """
    if old is None:
        return []
    before, after, redo = _dep_index(old), _dep_index(new), _dep_index(recomputed)
    changes = []

    def cause(old_value: Any, new_value: Any, redo_value: Any) -> str:
        if redo_value == new_value:
            return "methodology"
        if redo_value == old_value:
            return "reality"
        return "both"

    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        if was == now:
            continue
        domain, role, subject = key
        if was is None:
            kind = "gained"
        elif now is None:
            kind = "lost"
        elif was[0] != now[0]:
            kind = "operator-changed"
        else:
            kind = "level-changed"
        changes.append(
            {
                "change": kind,
                "domain": domain,
                "role": role,
                "subject": subject,
                "before": {"operator": was[0], "level": was[1]} if was else None,
                "after": {"operator": now[0], "level": now[1]} if now else None,
                "cause": cause(was, now, redo.get(key)),
                "since_run": old_run,
            }
        )
    if old.get("score") != new.get("score"):
        changes.append(
            {
                "change": "score-changed",
                "before": old.get("score"),
                "after": new.get("score"),
                "cause": cause(old.get("score"), new.get("score"), (recomputed or {}).get("score")),
                "since_run": old_run,
            }
        )
    return changes


def _share(values: list[bool]) -> dict[str, Any]:
    n = len(values)
    yes = sum(values)
    return {"value": round(yes / n, 4) if n else None, "numerator": yes, "denominator": n}


def trajectories(orgs: list[Organisation], docs: dict[str, dict[str, Any]], policy: Policy) -> dict[str, Any]:
    """Each indicator of the policy, measured nationally and per région and département.

    Body indicators count each body once; domain indicators count each domain once per scope, even when
    several bodies share it (a domain shared by two communes of one département counts once there)."""
    samples: dict[str, list[tuple[list[Organisation], bool]]] = defaultdict(list)
    by_domain: dict[str, dict[str, tuple[list[Organisation], bool]]] = defaultdict(dict)

    def domain_sample(indicator: str, domain: str, org: Organisation, ok: bool) -> None:
        seen = by_domain[indicator].get(domain)
        if seen is None:
            by_domain[indicator][domain] = ([org], ok)
        else:
            seen[0].append(org)

    for org in orgs:
        doc = docs.get(org.siren)
        if doc is None:
            continue
        sensitive = [s for s in doc["services"] if SENSITIVE & set(s["data_classes"]) and s["level"]]
        if sensitive:
            ok = all(
                s["level"] == "qualified" or (s["observed"] == "self" and s["level"] == "european")
                for s in sensitive
            )
            samples["sensitive-on-qualified"].append(([org], ok))
        boxes = [r for r in doc["levels"] if r["role"] == "mailbox" and r["level"] != "undetermined"]
        if boxes:
            samples["mailboxes-eu-control"].append(
                ([org], all(r["level"] in ("qualified", "european") for r in boxes))
            )
        for name, domain in doc["hygiene"]["domains"].items():
            checks = {c["rule"]: c for c in domain["checks"]}
            pol = checks.get("MAIL-DMARC-POLICY")
            dkim = checks.get("MAIL-DKIM")
            if (
                pol is not None
                and pol["status"] != "unknown"
                and not (dkim and dkim["status"] == "not-applicable")
            ):
                reject = pol["status"] == "pass" and pol["detail"] == "p=reject"
                domain_sample("dmarc-reject", name, org, reject)
                domain_sample("dmarc-enforced", name, org, pol["status"] == "pass")
            dnssec = checks.get("DNS-DNSSEC")
            if dnssec is not None and dnssec["status"] in ("pass", "fail"):
                domain_sample("dnssec-validated", name, org, dnssec["status"] == "pass")
    for indicator, domains in by_domain.items():
        samples[indicator] += [domains[name] for name in sorted(domains)]
    out: dict[str, Any] = {}
    for ind in policy.indicators:
        rows = samples.get(ind["id"], [])
        regions: dict[str, list[bool]] = defaultdict(list)
        depts: dict[str, list[bool]] = defaultdict(list)
        for members, ok in rows:
            for code in sorted({o.territory.region for o in members if o.territory.region}):
                regions[code].append(ok)
            for code in sorted({o.territory.departement for o in members if o.territory.departement}):
                depts[code].append(ok)
        national = _share([ok for _, ok in rows])
        target = ind.get("target")
        out[ind["id"]] = {
            "title": ind["title"],
            "unit": ind["unit"],
            "target": target,
            "gap": round(target["value"] - national["value"], 4)
            if target and national["value"] is not None
            else None,
            "national": national,
            "regions": {k: _share(v) for k, v in sorted(regions.items())},
            "departements": {k: _share(v) for k, v in sorted(depts.items())},
        }
    return out


def _summary(docs: dict[str, dict[str, Any]], orgs: list[Organisation], policy: Policy) -> dict[str, Any]:
    scores = [d["score"] for d in docs.values() if d["score"] is not None]
    levels: dict[str, Counter[str]] = defaultdict(Counter)
    findings: Counter[str] = Counter()
    for d in docs.values():
        for r in d["levels"]:
            levels[r["role"]][r["level"]] += 1
        for f in d["findings"]:
            findings[f"{f['rule']}:{f['status']}"] += 1
    return {
        "methodology": policy.methodology,
        "organisations": len(docs),
        "score": {
            "mean": round(statistics.fmean(scores), 1) if scores else None,
            "median": round(statistics.median(scores), 1) if scores else None,
            "provisional": sum(1 for d in docs.values() if d["provisional"]),
        },
        "levels": {role: dict(c) for role, c in sorted(levels.items())},
        "findings": dict(findings.most_common()),
        "trajectories": trajectories(orgs, docs, policy),
    }


def assess_run(
    store: Store,
    run_id: int,
    kb: KB,
    networks: NetworkData,
    policy: Policy,
    *,
    on: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
) -> AssessmentResult:
    """Assess ``run_id`` from its latest attribution; history against the previous assessed run."""
    attribution = store.latest_attribution(run_id)
    if attribution is None:
        raise InputError(f"run {run_id}: not attributed yet; run: souverain reassess {run_id}")
    on = on or dt.date.fromisoformat(attribution["as_of"])
    orgs = store.run_organisations(run_id)
    evidence = _evidence(store, run_id, HYGIENE_PROBES)
    deps_by_domain, deps_by_siren = _stored_dependencies(store, attribution["id"])
    assessor = Assessor(kb, policy, Leveller(kb, policy, on))
    docs = _assess_all(orgs, evidence, deps_by_domain, deps_by_siren, assessor, progress)
    previous = store.previous_run_with_assessment(run_id)
    if previous is not None:
        old = store.latest_assessment(previous)
        assert old is not None
        old_docs = store.org_assessments_of(old["id"])
        old_on = dt.date.fromisoformat(old["as_of"])
        old_orgs = store.run_organisations(previous)
        old_evidence, re_domain, re_siren = _reassessed_previous(
            store, previous, old_orgs, kb, networks, old_on
        )
        re_assessor = Assessor(kb, policy, Leveller(kb, policy, old_on))
        redo = _assess_all(
            [o for o in old_orgs if o.siren in docs], old_evidence, re_domain, re_siren, re_assessor
        )
        for siren, doc in docs.items():
            doc["history"] = history(old_docs.get(siren), doc, redo.get(siren), previous)
    else:
        for doc in docs.values():
            doc["history"] = []
    summary = _summary(docs, orgs, policy)
    assessment_id = store.save_assessment(
        run_id,
        attribution["id"],
        policy.methodology,
        attribution["kb_version"],
        on.isoformat(),
        summary,
        list(docs.values()),
    )
    return AssessmentResult(assessment_id, policy.methodology, len(docs), summary)
