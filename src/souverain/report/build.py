"""Static report of a run: index.html, one HTML page and one JSON file per organisation, run.json.

Every observed string goes through Jinja2 autoescaping; pages carry a CSP that forbids any load from
outside the report folder.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape

from souverain import __version__
from souverain.assessment.assess import render_finding
from souverain.attribution.engine import body_dependencies
from souverain.errors import InputError
from souverain.evidence import for_roles
from souverain.kb.load import KB
from souverain.policy.load import Policy, load_policy
from souverain.portfolio import Organisation
from souverain.report.summary import summarise_target
from souverain.report.texts import ReportText
from souverain.store import Store, TargetRow
from souverain.store.rows import is_busy, scanner_load

__all__ = ["ReportResult", "build_report"]

_MAX_TEXT = 2_000


@dataclass(frozen=True, slots=True)
class ReportResult:
    out_dir: Path
    organisations: int
    targets: int


def _environment(t: ReportText) -> Environment:
    def clip(value: Any) -> Any:
        if isinstance(value, str) and len(value) > _MAX_TEXT:
            return value[:_MAX_TEXT] + t("more_characters", n=len(value) - _MAX_TEXT)
        return value

    env = Environment(
        loader=PackageLoader("souverain.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clip"] = clip
    env.globals["t"] = t
    env.filters["when"] = lambda ts: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)) if ts else "—"
    env.tests["mapping"] = lambda v: isinstance(v, dict)
    env.tests["sequence_of_scalars"] = lambda v: (
        isinstance(v, list) and all(not isinstance(i, dict | list) for i in v)
    )
    env.tests["listish"] = lambda v: isinstance(v, list)
    return env


def _write_json(path: Path, value: Any) -> None:
    path.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def _entity_view(kb: KB | None, entity: str | None) -> dict[str, Any] | None:
    if entity is None:
        return None
    if entity == "self":
        return {"id": "self", "name": "the organisation itself", "country": None}
    ent = kb.entities.get(entity) if kb is not None else None
    if ent is None:
        return {"id": entity, "name": entity, "country": None}
    return {"id": ent.id, "name": ent.label, "legal_name": ent.name, "country": ent.country,
            "verified": ent.facts.verified, "lab_fictional": ent.lab_fictional}  # fmt: skip


def _name(kb: KB | None, entity: str) -> str:
    view = _entity_view(kb, entity)
    return str(view["name"]) if view else entity


def _dependency_view(kb: KB | None, row: dict[str, Any]) -> dict[str, Any]:
    laws = kb.laws if kb is not None else {}
    return {
        "domain": row.get("domain"),
        "scope": row.get("scope", ""),
        "role": row["role"],
        "subject": row["subject"],
        "operator": _entity_view(kb, row["operator"]),
        "infrastructure": _entity_view(kb, row["infrastructure"]),
        "exposures": [
            {
                **e,
                "name": laws[e["law"]].name if e["law"] in laws else e["law"],
                "via_names": [_name(kb, v) for v in e.get("via", [])],
            }
            for e in row.get("exposures", [])
        ],
        "confidence": row["confidence"],
        "why": row.get("reasons", []),
    }


ROLE_ORDER = (
    "mailbox",
    "mail-gateway",
    "identity-suite",
    "web-hosting",
    "cdn",
    "dns-hosting",
    "certificate-authority",
)


def _role_key(dep: dict[str, Any]) -> tuple[int, str, str]:
    role = dep["role"]
    return (ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER), role, dep["subject"])


def build_report(
    store: Store,
    run_id: int,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    kb: KB | None = None,
    policy: Policy | None = None,
    procurement_db: Path | None = None,
    lang: str = "fr",
) -> ReportResult:
    """Write the report of ``run_id`` into ``out_dir`` (created if needed). ``kb`` names the operators and
    laws of the dependencies (ids are shown without it). With ``procurement_db`` (an ingested DECP database),
    the procurement pillar's report goes into ``out_dir/procurement/`` and its shares per year into the index
    and ``run.json``. The pages are in ``lang`` (``fr`` or ``en``); the JSON files, the same in both, keep
    codes and English."""
    t = ReportText(lang)
    run = store.run(run_id)
    try:
        (out_dir / "orgs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # name the path that failed: out_dir may exist with a file called orgs in it
        raise InputError(f"--out '{out_dir}': cannot create '{exc.filename}': {exc.strerror}") from None
    try:
        return _write_report(store, run, out_dir, progress, kb, policy, procurement_db, t)
    except OSError as exc:  # a folder where a page goes, a full disk, no permission: the path, not a bug
        where = f"'{exc.filename}'" if exc.filename else "the report"
        raise InputError(f"--out '{out_dir}': cannot write {where}: {exc.strerror or exc}") from None


def _write_report(
    store: Store,
    run: Any,
    out_dir: Path,
    progress: Callable[[int, int], None] | None,
    kb: KB | None,
    policy: Policy | None,
    procurement_db: Path | None,
    t: ReportText,
) -> ReportResult:
    run_id, lang = run.id, t.lang
    static = resources.files("souverain.report").joinpath("static")
    for name in ("style.css",):
        with resources.as_file(static.joinpath(name)) as src:
            shutil.copyfile(src, out_dir / name)

    env = _environment(t)
    env.globals["entity_name"] = lambda entity: _name(kb, entity)
    orgs = store.run_organisations(run_id)
    targets = store.targets(run_id)
    by_domain = {target.domain: target for target in targets}
    counts = Counter(target.status for target in targets)
    rows: list[dict[str, Any]] = []
    org_template = env.get_template("org.html.j2")
    attribution = store.latest_attribution(run_id)
    deps_by_domain: dict[str, list[dict[str, Any]]] = {}
    deps_by_siren: dict[str, list[dict[str, Any]]] = {}
    by_role: dict[str, Counter[str]] = {}
    if attribution is not None:
        for row in store.dependencies_of(attribution["id"]):
            view = _dependency_view(kb, row)
            if row["target_id"] is not None:
                deps_by_domain.setdefault(row["domain"], []).append(view)
            elif row["siren"]:
                deps_by_siren.setdefault(row["siren"], []).append(view)
            # what a page loads is a third party of its kind, apart from the site's own roles (a CDN a page
            # loads images from is not the site's CDN), as the assessment counts it
            role = f"third-party: {row['role']}" if row.get("scope") == "page" else row["role"]
            by_role.setdefault(role, Counter())[row["operator"] or "undetermined"] += 1
    assessment = store.latest_assessment(run_id)
    if assessment is not None and policy is None:
        policy = load_policy()
    assessed = store.org_assessments_of(assessment["id"]) if assessment else {}
    for index, org in enumerate(orgs, start=1):
        pairs = [(d, by_domain[d.name]) for d in org.domains if d.name in by_domain]
        org_targets = [target for _, target in pairs]
        evidence = store.evidence_for([target.id for target in org_targets])
        # the roles this organisation declared: a domain shared with another body is scanned once, for the
        # roles of both, but each body's page shows its own
        domains = [_domain_view(target, evidence[target.id], d.roles) for d, target in pairs]
        # what the pages show: the summary in the report's language, of the roles the body declares there
        shown = [
            summarise_target(for_roles(evidence[target.id], d.roles), t.phrases(), t.status)
            for d, target in pairs
        ]
        deps = body_dependencies(org.domains, deps_by_domain, deps_by_siren.get(org.siren, []))
        doc = _org_document(run_id, org, domains, sorted(deps, key=_role_key), attribution)
        doc.update(_assessment_keys(assessed.get(org.siren), assessment, policy))
        _write_json(out_dir / "orgs" / f"{org.siren}.json", doc)
        (out_dir / "orgs" / f"{org.siren}.html").write_text(
            org_template.render(org=org, doc=doc, shown=shown, run=run, version=__version__, lang=lang),
            encoding="utf-8",
        )
        scores = {key: doc.get(key) for key in ("score", "coverage", "provisional")}
        rows.append(_index_row(org, domains, shown) | scores)
        if progress is not None:
            progress(index, len(orgs))

    run_doc = {
        "run_id": run_id,
        "status": run.status,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "souverain_version": run.souverain_version,
        "portfolio": run.portfolio,
        "config": run.config,
        "organisations": len(orgs),
        "targets": len(targets),
        "counts": dict(sorted(counts.items())),
        "probe_counts": store.probe_status_counts(run_id),
        "scanner_load": scanner_load(targets),
        "attribution": _attribution_meta(attribution),
        "assessment": (
            {k: assessment[k] for k in ("id", "methodology", "kb_version", "as_of", "created_at")}
            | assessment["summary"]
            if assessment
            else None
        ),
        "dependencies_by_role": {
            role: dict(c.most_common()) for role, c in sorted(by_role.items(), key=lambda kv: kv[0])
        },
    }
    if procurement_db is not None:
        run_doc["procurement"] = _procurement(procurement_db, out_dir / "procurement")
    _remove_stale_pages(out_dir / "orgs", {org.siren for org in orgs})
    _write_json(out_dir / "run.json", run_doc)
    (out_dir / "index.html").write_text(
        env.get_template("index.html.j2").render(
            run=run, run_doc=run_doc, rows=rows, version=__version__, lang=lang
        ),
        encoding="utf-8",
    )
    return ReportResult(out_dir, len(orgs), len(targets))


_ORG_PAGE = re.compile(r"[0-9]{9}\.(?:json|html)")


def _remove_stale_pages(orgs_dir: Path, sirens: set[str]) -> None:
    """Remove the organisation pages an earlier report left in the same folder (another run, other bodies):
    only files named like this report's own (``<SIREN>.json``, ``<SIREN>.html``)."""
    for path in orgs_dir.iterdir():
        if _ORG_PAGE.fullmatch(path.name) and path.name[:9] not in sirens and path.is_file():
            path.unlink()


def _procurement(db_path: Path, out_dir: Path) -> dict[str, Any]:
    """The procurement report (its own page and JSON) and, for the index, the national shares per year: the
    three views side by side against the trajectory."""
    from souverain.procurement import write_report
    from souverain.procurement.report import report_data

    data = report_data(db_path)
    write_report(db_path, out_dir, data)
    keys = ("contracts", "share_european_contracts", "share_european_amount", "target", "gap_contracts")
    years: dict[str, dict[str, Any]] = {}
    for row in data["shares_year"]:
        years.setdefault(str(row["year"]), {})[row["view"]] = {k: row.get(k) for k in keys}
    return {
        "report": "procurement/index.html",
        "contracts": data["summary"].get("contracts"),
        "digital_contracts": data["summary"].get("digital_contracts"),
        "trajectory_verified": data["trajectory"].get("verified"),
        "sources": [Path(src["path"]).name for src in data["summary"].get("sources", [])],
        "years": years,
    }


def _domain_view(target: TargetRow, evidence: list[Any], roles: frozenset[str]) -> dict[str, Any]:
    return {
        "domain": target.domain,
        "roles": sorted(roles),
        "status": target.status,
        "duration_ms": target.duration_ms,
        "loop_lag_ms": target.loop_lag_ms,
        "dns_queue_ms": target.dns_queue_ms,
        "scanner_busy": is_busy(target.loop_lag_ms, target.dns_queue_ms),
        "summary": summarise_target(evidence),
        "evidence": [ev.to_dict() for ev in evidence],
    }


SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def _assessment_keys(
    doc: dict[str, Any] | None, assessment: dict[str, Any] | None, policy: Policy | None
) -> dict[str, Any]:
    """The assessment of one organisation under the keys of the report's JSON."""
    if doc is None or assessment is None:
        empty: dict[str, Any] = {"levels": [], "findings": [], "history": []}
        return {"score": None, "coverage": None, "assessment": None, **empty}
    findings = sorted(
        (render_finding(policy, f) for f in doc["findings"]) if policy else doc["findings"],
        key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), f["rule"]),
    )
    return {
        "assessment": {k: assessment[k] for k in ("id", "methodology", "kb_version", "as_of")}
        | {"texts_from": policy.methodology if policy else None},
        "score": doc["score"],
        "coverage": doc["coverage"],
        "provisional": doc["provisional"],
        "worst_critical": doc["worst_critical"],
        "roles": doc["roles"],
        "levels": doc["levels"],
        "findings": findings,
        "history": doc.get("history", []),
        "hygiene": doc["hygiene"],
        "services": doc["services"],
    }


def _attribution_meta(attribution: dict[str, Any] | None) -> dict[str, Any] | None:
    if attribution is None:
        return None
    return {k: attribution[k] for k in ("id", "kb_version", "as_of", "created_at", "networks")}


def _org_document(
    run_id: int,
    org: Organisation,
    domains: list[dict[str, Any]],
    dependencies: list[dict[str, Any]],
    attribution: dict[str, Any] | None,
) -> dict[str, Any]:
    doc = org.to_dict()
    doc["run_id"] = run_id
    doc["attribution"] = _attribution_meta(attribution)
    doc["dependencies"] = dependencies
    doc["shared_mail_addresses"] = {
        d["subject"]: d["operator"]["id"]
        for d in dependencies
        if d["domain"] is None and d["role"] == "mailbox" and d["operator"]
    }
    doc["domains"] = domains
    return doc


def _index_row(
    org: Organisation, domains: list[dict[str, Any]], shown: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "siren": org.siren,
        "name": org.name,
        "kind": org.kind,
        "departement": org.territory.departement,
        "domains": [
            {"domain": d["domain"], "status": d["status"], "summary": summary}
            for d, summary in zip(domains, shown, strict=True)
        ],
    }
