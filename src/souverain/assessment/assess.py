"""Assessment of one organisation: levels, score with coverage, findings (sovereignty, strategic data,
declared vs observed, hygiene). A pure function of (organisation, its evidence, its dependencies, KB, policy,
date); docs/methodology.md explains every rule and weight.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from souverain.assessment.document import FORMAT, expand
from souverain.assessment.french import french_facts
from souverain.assessment.hygiene import Counts, add_counts, check_counts, check_domain, rounded, scores_of
from souverain.assessment.levels import Leveller, LevelResult
from souverain.evidence import Evidence
from souverain.kb.load import KB
from souverain.policy.load import LEVELS, Policy
from souverain.portfolio import Organisation

__all__ = ["Assessor", "OrgAssessment", "render_finding"]


_ELISION = re.compile(r"\bde (?=[aeiouyàâéèêëîïôûAEIOUYÀÂÉÈÊÎÔÛ])")


def render_finding(policy: Policy, finding: dict[str, Any]) -> dict[str, Any]:
    """The finding with its title, explanation and remediation in French and English, and its basis."""
    rule = policy.rules.get(finding["rule"])
    if rule is None:
        return {
            **finding,
            "title": {"fr": finding["rule"], "en": finding["rule"]},
            "explanation": {"fr": "", "en": ""},
            "remediation": {"fr": "", "en": ""},
            "basis": [],
        }
    facts = finding.get("facts") or {}
    said = {"en": _Facts(facts), "fr": _Facts(french_facts(facts))}  # English codes and texts put in French
    texts = (
        rule.explanation_unknown if finding.get("status") == "unknown" and rule.explanation_unknown else None
    )
    explanation = {
        lang: text.format_map(said.get(lang, said["en"]))
        for lang, text in (texts or rule.explanation).items()
    }
    if "fr" in explanation:
        explanation["fr"] = _ELISION.sub("d'", explanation["fr"])  # "de agriculture.gouv.fr" → "d'agri…"
    explanation = {  # "{role} of …" begins a sentence
        lang: text[:1].upper() + text[1:] if rule.explanation[lang].startswith("{role}") else text
        for lang, text in explanation.items()
    }
    return {
        **finding,
        "title": rule.title,
        "explanation": explanation,
        "remediation": rule.remediation,
        "basis": list(rule.basis),
    }


RANK = {level: i for i, level in enumerate(LEVELS)}  # lower is better
WORST_KEYS = ("role", "subject", "domain", "operator", "level", "why")
SOVEREIGNTY_FINDINGS = {
    "extraterritorial": ("SOV-EXTRATERRITORIAL", "fail"),
    "exposed": ("SOV-EXPOSED", "warn"),
    "undetermined": ("SOV-UNDETERMINED", "unknown"),
}
"""Level of a critical dependency → (rule, status) of its sovereignty finding."""
NONE_LOADED = "(no third party)"
MIN_ROLES = (
    "mailbox",
    "identity-suite",
    "mail-gateway",
    "web-hosting",
    "cdn",
    "dns-hosting",
    "certificate-authority",
)
"""Roles whose level is the worst of their dependencies (third parties are averaged)."""


@dataclass(slots=True)
class OrgAssessment:
    siren: str
    score: float | None
    coverage: float
    provisional: bool
    levels: list[dict[str, Any]]
    roles: dict[str, dict[str, Any]]
    worst_critical: dict[str, Any] | None
    findings: list[dict[str, Any]]
    """Sovereignty, strategic-data and declaration findings; the hygiene ones are the checks that fail or
    warn (:meth:`all_findings`)."""
    hygiene: dict[str, Any]
    services: list[dict[str, Any]]

    def all_findings(self) -> list[dict[str, Any]]:
        """Every finding, the hygiene ones last, as the expanded document lists them."""
        return expand(self.to_dict())["findings"]  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        """The document as stored (compact: see ``souverain.assessment.document.expand``)."""
        return {
            "format": FORMAT,
            "siren": self.siren,
            "score": self.score,
            "coverage": self.coverage,
            "provisional": self.provisional,
            "worst_critical": self.worst_critical,
            "roles": self.roles,
            "levels": self.levels,
            "findings": self.findings,
            "hygiene": self.hygiene,
            "services": self.services,
        }


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


class Assessor:
    def __init__(self, kb: KB, policy: Policy, leveller: Leveller) -> None:
        self.kb, self.policy, self.leveller = kb, policy, leveller
        self._claims: dict[str, str | None] = {}
        self._rule_meta = {r.id: (r.family, r.severity) for r in policy.rules.values()}
        self._names_cache: dict[tuple[Any, ...], tuple[str, str, str]] = {}
        names: list[tuple[str, str]] = []
        for e in kb.entities.values():
            for label in (e.id, e.name, *e.brands, *(o.name for o in e.offers)):
                if label:
                    names.append((_norm(label), e.id))
        self._names = names

    # -- declared hosting → KB entity ----------------------------------------------------------------------
    def resolve_claim(self, text: str) -> str | None:
        """The KB entity a declared hosting names: exact id/name/brand/offer, else a unique word prefix."""
        if text in self._claims:
            return self._claims[text]
        n = _norm(text)
        exact = {e for label, e in self._names if label == n}
        found: str | None = None
        if len(exact) == 1:
            found = exact.pop()
        elif len(exact) > 1:
            found = None  # ambiguous: several entities carry this very name
        else:
            prefix = {
                e
                for label, e in self._names
                if label and (n.startswith(label + " ") or label.startswith(n + " "))
            }
            if len(prefix) == 1:
                found = prefix.pop()
        self._claims[text] = found
        return found

    # -- findings ------------------------------------------------------------------------------------------
    def finding(
        self, rule_id: str, status: str, subject: str, facts: dict[str, Any], evidence: list[str]
    ) -> dict[str, Any]:
        """A finding as stored: the rule, its outcome and the facts; :func:`render_finding` adds the French
        and English texts of the policy version that produced it."""
        family, severity = self._rule_meta[rule_id]
        return {
            "rule": rule_id,
            "family": family,
            "status": status,
            "severity": severity if status != "unknown" else "info",
            "subject": subject,
            "facts": facts,
            "evidence": evidence,
        }

    def _label(self, entity: str | None) -> str:
        if entity is None:
            return "undetermined"
        if entity == "self":
            return "the organisation itself"
        ent = self.kb.entities.get(entity)
        return ent.label if ent else entity

    # -- the organisation ----------------------------------------------------------------------------------
    def assess(
        self,
        org: Organisation,
        evidence: dict[str, dict[str, Evidence]],
        dependencies: list[dict[str, Any]],
    ) -> OrgAssessment:
        """``evidence``: domain → probe → evidence; ``dependencies``: stored dependency rows of the org."""
        levels = []
        for dep in dependencies:
            lv = self.leveller.level(dep)
            levels.append(self._level_row(dep, lv))
        units = self._units(org, evidence, levels)
        score, coverage, roles = self._score(units)
        findings: list[dict[str, Any]] = []
        weights = self.policy.weights
        worst_row: dict[str, Any] | None = None
        worst_key = (-1, 0.0)
        for row in levels:
            if row["critical"]:
                finding = self._sovereignty(row)
                if finding is not None:
                    findings.append(finding)
                if row["level"] != "undetermined":
                    # the worst critical dependency: worst level, then heaviest role; the first one on a tie
                    key = (RANK[row["level"]], weights.get(row["role"], 0))
                    if key > worst_key:
                        worst_row, worst_key = row, key
        services = [self._service(org, s, levels, findings) for s in org.services]
        counts: Counts = {}
        by_domain: dict[str, Any] = {}
        hygiene: dict[str, Any] = {"domains": by_domain}
        for domain in org.domains:
            ev = evidence.get(domain.name)
            if ev is None:
                continue
            dchecks = check_domain(domain.name, domain.roles, ev, self.policy)
            dcounts = check_counts(dchecks)
            add_counts(counts, dcounts)
            # the checks that fail or warn are findings too, derived when the document is read
            # (souverain.assessment.document), not stored twice
            by_domain[domain.name] = {"scores": scores_of(dcounts), "checks": dchecks}
        if len(by_domain) == 1:  # the organisation's scores are its one domain's (same counts)
            hygiene["scores"] = next(iter(by_domain.values()))["scores"]
        else:
            hygiene["scores"] = scores_of(counts)
        worst = None if worst_row is None else {k: worst_row[k] for k in WORST_KEYS}
        return OrgAssessment(
            siren=org.siren,
            score=score,
            coverage=coverage,
            provisional=coverage < self.policy.provisional_below,
            levels=levels,
            roles=roles,
            worst_critical=worst,
            findings=findings,
            hygiene=hygiene,
            services=services,
        )

    def _level_row(self, dep: dict[str, Any], lv: LevelResult) -> dict[str, Any]:
        role = "third-party" if dep.get("scope") == "page" else dep["role"]
        return {
            "domain": dep.get("domain"),
            "scope": dep.get("scope"),
            "role": role,
            "kind": dep["role"],
            "subject": dep["subject"],
            "operator": dep.get("operator"),
            "infrastructure": dep.get("infrastructure"),
            "level": lv.level,
            "why": lv.why,
            "laws": list(lv.laws),
            "via": list(lv.via),
            "critical": role in self.policy.critical,
        }

    def _units(
        self, org: Organisation, evidence: dict[str, dict[str, Evidence]], levels: list[dict[str, Any]]
    ) -> dict[str, list[list[dict[str, Any]]]]:
        """Per role, the dependency rows of each applicable *unit*: a place the role can be evaluated (a
        domain, or the organisation's contacts)."""
        units: dict[tuple[str, str], tuple[bool, list[dict[str, Any]]]] = {}
        for domain in org.domains:
            name = domain.name
            ev = evidence.get(name) or {}
            dns, tls, page = ev.get("dns"), ev.get("tls"), ev.get("page")
            units[("dns-hosting", name)] = (not (dns is not None and dns.status == "not-found"), [])
            if "mail" in domain.roles:
                no_mail = (
                    dns is not None
                    and dns.status == "ok"
                    and (dns.data.get("null_mx") or not dns.data.get("mx_hosts"))
                )
                units[("mailbox", name)] = (not no_mail, [])
            if "web" in domain.roles:
                no_web = tls is not None and tls.status == "not-applicable"
                units[("web-hosting", name)] = (not no_web, [])
                no_ca = no_web or (tls is not None and tls.status in ("error", "refused"))
                units[("certificate-authority", name)] = (not no_ca, [])
                no_page = no_web or (page is not None and _page_not_applicable(page))
                units[("third-party", name)] = (not no_page, [])
        if any(row["scope"] == "contact" for row in levels):
            units[("mailbox", "contacts")] = (True, [])
        expected = set(units)
        for row in levels:
            key = (row["role"], row["domain"] or "contacts")
            unit = units.get(key)
            # optional roles (CDN, gateway, identity suite) exist only where an operator was observed: an
            # undetermined one is not expected of the body, so it must not weigh on coverage, alone or beside
            # a determined one (else losing the evidence that showed them would raise coverage)
            if row["level"] == "undetermined" and key not in expected:
                continue
            if unit is None:
                unit = units[key] = (True, [])
            unit[1].append(row)
        by_role: dict[str, list[list[dict[str, Any]]]] = {}
        for (role, where), (applicable, deps) in units.items():
            if not applicable:
                continue
            if role == "third-party" and not deps:
                # a page that was read and loads no third party is fully evaluated (nothing to fear)
                page = (evidence.get(where) or {}).get("page")
                if page is not None and page.status == "ok":
                    deps.append({"level": "qualified", "role": "third-party", "subject": NONE_LOADED})
            group = by_role.get(role)
            if group is None:
                by_role[role] = [deps]
            else:
                group.append(deps)
        return by_role

    def _score(
        self, by_role: dict[str, list[list[dict[str, Any]]]]
    ) -> tuple[float | None, float, dict[str, dict[str, Any]]]:
        weights = self.policy.weights
        points = self.policy.points
        roles: dict[str, dict[str, Any]] = {}
        total = evaluated = weighted = 0.0
        for role in sorted(by_role):
            runits = by_role[role]
            w = weights.get(role, 0.0)
            fractions = 0.0
            determined = total_points = 0  # determined dependencies, and the sum of their points
            worst, worst_rank = "undetermined", -1
            only_none = True
            for deps in runits:
                if not deps:
                    continue
                n = 0
                for d in deps:
                    lv = d["level"]
                    if lv != "undetermined":
                        n += 1
                        total_points += points[lv]
                        rank = RANK[lv]
                        if rank > worst_rank:
                            worst, worst_rank = lv, rank
                        if only_none and d.get("subject") != NONE_LOADED:
                            only_none = False
                determined += n
                fractions += n / len(deps)
            cov = fractions / len(runits)
            if determined:
                level = worst
                pts = float(points[level]) if role in MIN_ROLES else total_points / determined
                if only_none:
                    level = "none"  # the page was read and loads no third party
            else:
                level, pts = "undetermined", 0.0
            shown_pts, shown_cov = rounded(pts, 1), rounded(cov, 4)
            roles[role] = {"level": level, "points": shown_pts, "coverage": shown_cov, "weight": w}
            total += w
            evaluated += w * cov
            weighted += w * cov * pts
        score = rounded(weighted / evaluated, 1) if evaluated else None
        coverage = rounded(evaluated / total, 4) if total else 0.0
        return score, coverage, roles

    def _shown(self, operator: str | None, laws: list[str], via: list[str]) -> tuple[str, str, str]:
        """Operator label, law names and control path of a dependency, as the findings show them."""
        key = (operator, tuple(laws), tuple(via))
        names = self._names_cache.get(key)
        if names is None:
            names = self._names_cache[key] = (
                self._label(operator),
                ", ".join(self.kb.laws[lw].name for lw in laws if lw in self.kb.laws),
                " → ".join(self._label(v) for v in via),
            )
        return names

    def _sovereignty(self, row: dict[str, Any]) -> dict[str, Any] | None:
        outcome = SOVEREIGNTY_FINDINGS.get(row["level"])
        if outcome is None:  # european or qualified: nothing to say
            return None
        operator, laws, via = self._shown(row["operator"], row["laws"], row["via"])
        if row["operator"] == "self" and via:  # the law reaches its own service through the platform under it
            operator = f"the organisation's own service, run on {via},"
        facts = {
            "role": row["role"],
            "subject": row["subject"],
            "operator": operator,
            "laws": laws,
            "via": via,
            "why": row["why"],
        }
        refs = [f"dependency:{row['domain'] or 'contacts'}:{row['kind']}:{row['subject']}"]
        return self.finding(outcome[0], outcome[1], row["subject"], facts, refs)

    def _service(
        self, org: Organisation, service: Any, levels: list[dict[str, Any]], findings: list[dict[str, Any]]
    ) -> dict[str, Any]:
        domain = service.domain or (org.domains[0].name if org.domains else None)
        claimed = self.resolve_claim(service.claimed_hosting) if service.claimed_hosting else None
        out: dict[str, Any] = {
            "name": service.name,
            "data_classes": list(service.data_classes),
            "claimed_hosting": service.claimed_hosting,
            "claimed_entity": claimed,
            "role": service.role,
            "domain": domain,
            "observed": None,
            "level": None,
        }
        if service.role is None or domain is None:
            if service.claimed_hosting:
                reason = "the service's role is not declared" if domain else "the organisation has no domain"
                findings.append(self._unverifiable(service.name, service.claimed_hosting, reason, []))
            out["level"] = "undetermined"
            undetermined = LevelResult("undetermined", "the service's role or domain is not declared")
            self._data_rules(service, None, undetermined, findings, [])
            return out
        rows = [
            r for r in levels if r["domain"] == domain and r["kind"] == service.role and r["scope"] != "page"
        ]
        determined = [r for r in rows if r["operator"] is not None]
        row = max(determined, key=lambda r: RANK[r["level"]]) if determined else (rows[0] if rows else None)
        ref = [f"dependency:{domain}:{service.role}"]
        observed = row["operator"] if row else None
        out["observed"] = observed
        if service.claimed_hosting:
            if claimed is None:
                reason = "the declared provider is not in the knowledge base"
                findings.append(self._unverifiable(service.name, service.claimed_hosting, reason, ref))
            elif observed is None:
                reason = f"the {service.role} of {domain} is undetermined"
                findings.append(self._unverifiable(service.name, self._label(claimed), reason, ref))
            elif observed != claimed:
                findings.append(
                    self.finding(
                        "DECL-MISMATCH",
                        "fail",
                        service.name,
                        {
                            "service": service.name,
                            "claimed": self._label(claimed),
                            "observed": self._label(observed),
                            "role": service.role,
                            "subject": domain,
                        },
                        ref,
                    )
                )
        if row is None or row["operator"] is None:
            level = LevelResult("undetermined", "no observed dependency for the service")
        else:
            declared = claimed is not None and claimed == row["operator"]
            level = self.leveller.level(
                {
                    "operator": row["operator"],
                    "infrastructure": row["infrastructure"],
                    "role": service.role,
                    "exposures": self._exposures(row),
                },
                declared_offer=declared,
            )
        out["level"] = level.level
        out["why"] = level.why
        self._data_rules(service, row, level, findings, ref)
        return out

    def _unverifiable(self, service: str, claimed: str, reason: str, ref: list[str]) -> dict[str, Any]:
        facts = {"service": service, "claimed": claimed, "reason": reason}
        return self.finding("DECL-UNVERIFIABLE", "unknown", service, facts, ref)

    def _exposures(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"law": lw, "via": row["via"]} for lw in row["laws"]]

    def _data_rules(
        self,
        service: Any,
        row: dict[str, Any] | None,
        level: LevelResult,
        findings: list[dict[str, Any]],
        ref: list[str],
    ) -> None:
        classes = set(service.data_classes)
        operator = row["operator"] if row else None
        shown = self._label(operator)
        if (
            operator == "self" and row and row.get("via")
        ):  # its own servers, on a platform that may be a cloud
            shown = f"the organisation's own servers on {' → '.join(self._label(v) for v in row['via'])}"
        facts = {
            "service": service.name,
            "classes": ", ".join(service.data_classes),
            "operator": shown,
            "level": level.level,
            "laws": ", ".join(self.kb.laws[lw].name for lw in level.laws if lw in self.kb.laws),
            "extra": "",
        }
        for rule in self.policy.rules.values():
            if rule.family != "strategic-data" or not classes & set(rule.data_classes):
                continue
            if operator is None:
                findings.append(self.finding(rule.id, "unknown", service.name, facts, ref))
            elif rule.id == "DATA-SENSITIVE-QUALIFIED":
                own = operator == "self" and level.level in ("european", "qualified")
                if not own and level.level != "qualified":
                    findings.append(self.finding(rule.id, "fail", service.name, facts, ref))
            elif rule.id == "DATA-HEALTH-HDS":
                host = (row or {}).get("infrastructure") if operator == "self" else operator
                if host is None:  # run by the body on a network nobody could name: cannot tell
                    findings.append(self.finding(rule.id, "unknown", service.name, facts, ref))
                elif not self._hds(host):
                    findings.append(self.finding(rule.id, "fail", service.name, facts, ref))
            elif rule.id == "DATA-PERSONAL-EXTRATERRITORIAL" and level.level == "extraterritorial":
                findings.append(self.finding(rule.id, "warn", service.name, facts, ref))

    def _hds(self, entity: str) -> bool:
        ent = self.kb.entities.get(entity)
        if ent is None:
            return False
        return any(
            c.scheme == "hds" and c.status == "certified" and c.active(self.leveller.on)
            for o in ent.offers
            for c in o.certifications
        )


def _page_not_applicable(page: Evidence) -> bool:
    """No final page to read, or robots.txt forbids it (a page skipped for lack of time is a gap, not n/a)."""
    return page.status == "not-applicable" or (page.status == "skipped" and "robots" in (page.error or ""))


class _Facts(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"
