"""Rows of the built-in tables from what the store holds for a run (see ``tables.py`` for the columns).

Pure functions of the stored run, attribution and assessment, plus the KB (names, control chains) and the
policy (finding texts): the same inputs give the same rows in the same order.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

from souverain import __version__
from souverain.assessment.assess import render_finding
from souverain.attribution.engine import body_dependencies
from souverain.evidence import for_roles
from souverain.kb.jurisdiction import controllers, exposures
from souverain.kb.load import KB
from souverain.opendata.facts import domain_facts, joined
from souverain.opendata.read import Chunk, RunData
from souverain.opendata.tables import ROLE_COLUMNS
from souverain.policy.load import Policy
from souverain.portfolio import Organisation
from souverain.store import RunInfo
from souverain.store.rows import busy_of

__all__ = ["RowBuilder", "iso"]

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
Row = dict[str, Any]


def iso(ts: float | None) -> str | None:
    """A store timestamp (seconds since the epoch) as an ISO 8601 UTC datetime, to the second."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def exposure_text(exposure: dict[str, Any]) -> str:
    """``law via a>b (country, through[, unverified])``."""
    notes = [exposure.get("country"), exposure.get("through")]
    if exposure.get("verified") is False:
        notes.append("unverified")
    via = ">".join(str(v) for v in exposure.get("via") or [])
    return f"{exposure['law']} via {via} ({', '.join(str(n) for n in notes if n)})"


def _laws(items: Iterable[dict[str, Any]]) -> str | None:
    return joined(sorted({str(e["law"]) for e in items}))


def _dep_key(dep: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    return (
        dep["domain"] or "",
        dep.get("scope") or "",
        dep["role"],
        dep["subject"],
        dep["operator"] or "",
        dep["infrastructure"] or "",
    )


class _Usage:
    """How the run's dependencies use one KB entity."""

    __slots__ = ("exposures", "infrastructure_of", "operator_of", "sirens")

    def __init__(self) -> None:
        self.operator_of = 0
        self.infrastructure_of = 0
        self.sirens: set[str] = set()
        self.exposures: dict[str, dict[str, Any]] = {}


class RowBuilder:
    """Builds the rows of every built-in table; keeps what the ``providers`` table needs on the way."""

    def __init__(self, data: RunData, kb: KB | None, policy: Policy | None) -> None:
        self.data, self.kb, self.policy = data, kb, policy
        as_of = (data.attribution or data.assessment or {}).get("as_of")
        self.on = dt.date.fromisoformat(as_of) if as_of else None
        """Date of the control chains: the attribution's (providers exist only with an attribution)."""
        self.usage: dict[str, _Usage] = {}
        self.next_dependency = 1
        self.next_finding = 1

    # -- names -----------------------------------------------------------------------------------------
    def _name(self, entity: str | None) -> str | None:
        if entity is None:
            return None
        if entity == "self":
            return "the organisation itself"
        ent = self.kb.entities.get(entity) if self.kb is not None else None
        return ent.label if ent is not None else None

    def _country(self, entity: str | None) -> str | None:
        ent = self.kb.entities.get(entity) if self.kb is not None and entity else None
        return ent.country if ent is not None else None

    # -- one organisation ------------------------------------------------------------------------------
    def organisation(self, org: Organisation, doc: dict[str, Any] | None) -> Row:
        row: Row = {
            "siren": org.siren,
            "name": org.name,
            "kind": org.kind,
            "commune": org.territory.commune,
            "departement": org.territory.departement,
            "region": org.territory.region,
            "domains": len(org.domains),
        }
        if doc is None:
            return row
        worst = doc.get("worst_critical") or {}
        roles = doc.get("roles") or {}
        scores = (doc.get("hygiene") or {}).get("scores") or {}
        statuses = [f["status"] for f in doc.get("findings") or []]
        row.update(
            {
                "score": doc.get("score"),
                "coverage": doc.get("coverage"),
                "provisional": doc.get("provisional"),
                "worst_level": worst.get("level"),
                "worst_role": worst.get("role"),
                "worst_subject": worst.get("subject"),
                "worst_operator": worst.get("operator"),
                "web_hygiene_score": (scores.get("web") or {}).get("score"),
                "mail_hygiene_score": (scores.get("mail") or {}).get("score"),
                "findings_fail": statuses.count("fail"),
                "findings_warn": statuses.count("warn"),
                "findings_unknown": statuses.count("unknown"),
            }
        )
        for role, column in ROLE_COLUMNS:
            row[column] = (roles.get(role) or {}).get("level")
        return row

    def domains(self, org: Organisation, chunk: Chunk, doc: dict[str, Any] | None) -> list[Row]:
        hygiene = ((doc or {}).get("hygiene") or {}).get("domains") or {}
        rows = []
        for domain in sorted(org.domains, key=lambda d: d.name):
            target = self.data.targets.get(domain.name)
            scores = (hygiene.get(domain.name) or {}).get("scores") or {}
            row: Row = {
                "siren": org.siren,
                "domain": domain.name,
                "roles": joined(sorted(domain.roles)),
                "scan_status": target.status if target else None,
                "scanned_at": iso(target.started_at) if target else None,
                "scan_duration_ms": _ms(target.duration_ms) if target else None,
                "scanner_busy": busy_of(target) if target else None,
                "web_hygiene_score": (scores.get("web") or {}).get("score"),
                "mail_hygiene_score": (scores.get("mail") or {}).get("score"),
            }
            row.update(domain_facts(for_roles(chunk.evidence.get(domain.name, []), domain.roles)))
            rows.append(row)
        return rows

    def dependencies(
        self, org: Organisation, chunk: Chunk, own: list[dict[str, Any]], doc: dict[str, Any] | None
    ) -> list[Row]:
        """``own``: the organisation-level dependencies (contact addresses) of ``org``."""
        levels = {
            (lv.get("domain"), lv.get("scope"), lv.get("kind"), lv.get("subject")): lv
            for lv in (doc or {}).get("levels") or []
        }
        deps = body_dependencies(org.domains, chunk.dependencies, own)
        rows = []
        for dep in sorted(deps, key=_dep_key):
            level = levels.get((dep["domain"], dep.get("scope"), dep["role"], dep["subject"])) or {}
            exps = dep.get("exposures") or []
            rows.append(
                {
                    "dependency_id": self.next_dependency,
                    "siren": org.siren,
                    "domain": dep["domain"],
                    "scope": dep.get("scope") or None,
                    "role": dep["role"],
                    "subject": dep["subject"],
                    "operator": dep["operator"],
                    "operator_name": self._name(dep["operator"]),
                    "operator_country": self._country(dep["operator"]),
                    "infrastructure": dep["infrastructure"],
                    "infrastructure_name": self._name(dep["infrastructure"]),
                    "confidence": dep["confidence"],
                    "level": level.get("level"),
                    "critical": level.get("critical"),
                    "laws": _laws(exps),
                    "exposures": joined([exposure_text(e) for e in exps]),
                    "why": level.get("why"),
                    "signals": joined(
                        [f"{r.get('signal')}={r.get('value')}" for r in dep.get("reasons") or []]
                    ),
                }
            )
            self.next_dependency += 1
            self._use(org.siren, dep)
        return rows

    def _use(self, siren: str, dep: dict[str, Any]) -> None:
        for through, entity in (("operator", dep["operator"]), ("infrastructure", dep["infrastructure"])):
            if entity is None or entity == "self":
                continue
            usage = self.usage.get(entity)
            if usage is None:
                usage = self.usage[entity] = _Usage()
            if through == "operator":
                usage.operator_of += 1
            else:
                usage.infrastructure_of += 1
            usage.sirens.add(siren)
            for exp in dep.get("exposures") or []:
                if exp.get("through") == through:
                    usage.exposures.setdefault(str(exp["law"]), exp)

    def findings(self, org: Organisation, doc: dict[str, Any] | None) -> list[Row]:
        items = list(enumerate((doc or {}).get("findings") or []))
        items.sort(
            key=lambda it: (SEVERITY_ORDER.get(it[1]["severity"], 9), it[1]["rule"], it[1]["subject"], it[0])
        )
        rows = []
        for _, finding in items:
            shown = render_finding(self.policy, finding) if self.policy is not None else finding
            title = shown.get("title") or {}
            text = shown.get("explanation") or {}
            rows.append(
                {
                    "finding_id": self.next_finding,
                    "siren": org.siren,
                    "rule": finding["rule"],
                    "family": finding.get("family"),
                    "status": finding["status"],
                    "severity": finding["severity"],
                    "subject": finding["subject"],
                    "title_fr": title.get("fr"),
                    "title_en": title.get("en"),
                    "text_fr": text.get("fr"),
                    "text_en": text.get("en"),
                    "evidence": joined(finding.get("evidence")),
                }
            )
            self.next_finding += 1
        return rows

    def hygiene_checks(self, org: Organisation, doc: dict[str, Any] | None) -> list[Row]:
        domains = ((doc or {}).get("hygiene") or {}).get("domains") or {}
        rows = []
        for domain in sorted(domains):
            for check in sorted(domains[domain].get("checks") or [], key=lambda c: str(c["rule"])):
                rows.append(
                    {
                        "siren": org.siren,
                        "domain": domain,
                        "check": check["rule"],
                        "category": check.get("category") or None,
                        "status": check["status"],
                        "required": check["required"],
                        "detail": check.get("detail"),
                        "evidence": check.get("evidence"),
                    }
                )
        return rows

    # -- the run ---------------------------------------------------------------------------------------
    def providers(self) -> list[Row]:
        rows = []
        for entity in sorted(self.usage):
            usage = self.usage[entity]
            row: Row = {
                "provider": entity,
                "operator_of": usage.operator_of,
                "infrastructure_of": usage.infrastructure_of,
                "organisations": len(usage.sirens),
            }
            ent = self.kb.entities.get(entity) if self.kb is not None else None
            if self.kb is not None and ent is not None and self.on is not None:
                paths = controllers(self.kb, entity, self.on)
                tops = sorted(
                    {p[-1] for p in paths if not any(len(q) > len(p) and q[: len(p)] == p for q in paths)}
                )
                exps = [
                    {"law": e.law, "via": list(e.via), "country": e.country, "verified": e.verified}
                    for e in exposures(self.kb, entity, self.on)
                ]
                row.update(
                    {
                        "name": ent.label,
                        "legal_name": ent.name,
                        "kind": ent.kind,
                        "country": ent.country,
                        "ultimate_controllers": joined(tops),
                        "ultimate_controller_countries": joined(
                            sorted({self.kb.entities[t].country for t in tops})
                        ),
                        "verified": ent.facts.verified,
                        "lab_fictional": ent.lab_fictional,
                        "source": ent.facts.url,
                        "checked": ent.facts.checked.isoformat(),
                    }
                )
            else:  # no KB (or an id it no longer knows): the laws recorded by the attribution
                exps = [usage.exposures[law] for law in sorted(usage.exposures)]
                exps = [{k: v for k, v in e.items() if k != "through"} for e in exps]
            row["laws"] = _laws(exps)
            row["exposures"] = joined([exposure_text(e) for e in exps])
            rows.append(row)
        return rows

    def trajectories(self) -> list[Row]:
        summary = (self.data.assessment or {}).get("summary") or {}
        rows = []
        for indicator in sorted(summary.get("trajectories") or {}):
            item = summary["trajectories"][indicator]
            title = item.get("title") or {}
            base = {
                "indicator": indicator,
                "title_fr": title.get("fr"),
                "title_en": title.get("en"),
                "unit": item.get("unit"),
            }
            target = item.get("target")
            national = item.get("national") or {}
            rows.append(
                {
                    **base,
                    "scope": "national",
                    "scope_code": "FR",
                    **_share(national),
                    "target": target.get("value") if isinstance(target, dict) else None,
                    "gap": item.get("gap"),
                }
            )
            for scope, key in (("region", "regions"), ("departement", "departements")):
                for code in sorted(item.get(key) or {}):
                    rows.append({**base, "scope": scope, "scope_code": code, **_share(item[key][code])})
        return rows

    def run(self, info: RunInfo, recorded: int) -> Row:
        attribution, assessment = self.data.attribution, self.data.assessment
        row: Row = {
            "run_id": info.id,
            "status": info.status,
            "started_at": iso(info.created_at),
            "finished_at": iso(info.finished_at),
            "portfolio": PurePath(info.portfolio).name or None,
            "organisations": len(self.data.orgs),
            "domains": len(self.data.targets),
            "domains_scanned": recorded,
            "scanned_with": info.souverain_version,
            "names_from": self.kb.version if self.kb is not None else None,
            "exported_with": __version__,
        }
        if attribution is not None:
            row.update(
                {
                    "attribution_id": attribution["id"],
                    "kb_version": attribution["kb_version"],
                    "attributed_at": iso(attribution["created_at"]),
                    "as_of": attribution["as_of"],
                    "networks": joined(
                        [
                            " ".join(str(p) for p in (n.get("name"), n.get("fetched")) if p)
                            for n in attribution.get("networks") or []
                        ]
                    ),
                }
            )
        if assessment is not None:
            score = (assessment.get("summary") or {}).get("score") or {}
            row.update(
                {
                    "assessment_id": assessment["id"],
                    "methodology": assessment["methodology"],
                    "assessed_at": iso(assessment["created_at"]),
                    "mean_score": score.get("mean"),
                    "median_score": score.get("median"),
                    "provisional_scores": score.get("provisional"),
                    "texts_from": self.policy.methodology if self.policy is not None else None,
                }
            )
        return row


def _ms(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _share(share: dict[str, Any]) -> Row:
    return {
        "value": share.get("value"),
        "numerator": share.get("numerator", 0),
        "denominator": share.get("denominator", 0),
    }
