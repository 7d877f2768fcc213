"""``/api/v1``: organisations, dependencies, findings, scores, providers, runs, history, on-demand scans.

Lists are paginated (``page``, ``per_page`` ≤ 500) and filtered; ``Accept: text/csv`` (or ``format=csv``)
returns the items as CSV. Every error is ``{"error": {"status", "code", "message", "details"}}``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from souverain.assessment.assess import render_finding
from souverain.kb.model import DEPENDENCY_ROLES
from souverain.policy.load import FAMILIES, LEVELS, SEVERITIES
from souverain.portfolio.model import KINDS
from souverain.web.data import Filters, Observatory, departements, regions
from souverain.web.security import hash_token
from souverain.web.ssrf import TargetRefused, check_target, name_problem

__all__ = ["router"]


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (404, "Not found"),
        (422, "Invalid request"),
        (429, "Rate limited"),
        (500, "Server error"),
    )
}
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "JSON, or CSV on request"}
}


def _csv_ok(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept.split("text/csv")[0]


def _csv_value(value: Any) -> Any:
    """A cell as the open data writes it: booleans ``true``/``false`` (Python wrote ``True``), lists
    space-separated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return value


def _respond(request: Request, fmt: str | None, payload: BaseModel, items: list[dict[str, Any]]) -> Response:
    if not _csv_ok(request, fmt):
        return JSONResponse(payload.model_dump(mode="json"))
    buffer = io.StringIO()
    if items:
        writer = csv.DictWriter(buffer, fieldnames=list(items[0]), extrasaction="ignore")
        writer.writeheader()
        for item in items:
            writer.writerow({k: _csv_value(v) for k, v in item.items()})
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")


def _limit(request: Request) -> None:
    """Anonymous API requests: a token bucket per client address (``api_per_minute``)."""
    settings = request.app.state.settings
    client = request.client.host if request.client else "?"
    wait = request.app.state.limiter.take(f"api:{client}", settings.api_per_minute)
    if wait:
        raise HTTPException(
            429, "rate limit exceeded; retry later", headers={"Retry-After": str(int(wait) + 1)}
        )


router = APIRouter(prefix="/api/v1", responses=ERRORS, dependencies=[Depends(_limit)])


class PageMeta(BaseModel):
    page: int
    per_page: int
    total: int
    pages: int
    capped: bool = Field(
        default=False,
        description="a search (q) whose candidates were cut at the index's limit: total counts those only; "
        "narrow the search",
    )


class OrgSummary(BaseModel):
    siren: str
    name: str
    kind: str
    commune: str | None = None
    departement: str | None = None
    region: str | None = None
    score: float | None = None
    coverage: float
    provisional: bool
    worst_level: str | None = None
    findings: int
    serious: int
    mailbox_eu: bool | None = None
    dmarc_reject: bool | None = None
    dnssec: bool | None = None
    sensitive_qualified: bool | None = None
    domains: list[str]


class OrgList(BaseModel):
    meta: PageMeta
    run_id: int
    assessment_id: int
    items: list[OrgSummary]


class Correction(BaseModel):
    id: int
    status: str
    topic: str
    submitted_at: float
    reviewed_at: float | None = None
    reason: str | None = None


class OrgDetail(BaseModel):
    organisation: OrgSummary
    run_id: int
    assessment_id: int
    methodology: str
    roles: dict[str, dict[str, Any]]
    worst_critical: dict[str, Any] | None = None
    hygiene_scores: dict[str, Any]
    corrections: list[Correction]


class Dependency(BaseModel):
    siren: str
    domain: str | None = None
    role: str
    kind: str | None = None
    subject: str
    operator: str | None = None
    infrastructure: str | None = None
    level: str
    why: str | None = None
    laws: list[str] = []


class DependencyList(BaseModel):
    meta: PageMeta
    items: list[Dependency]


class Dependent(BaseModel):
    """An organisation depending on a provider, from the web index: who, which dependency, and whether the
    provider operates it or is the infrastructure under another operator. The dependency's domain, reasons
    and laws are in ``/organisations/{siren}/dependencies``."""

    siren: str
    name: str
    kind: str
    departement: str | None = None
    region: str | None = None
    role: str
    subject: str
    level: str
    relation: Literal["operator", "infrastructure"]


class DependentList(BaseModel):
    meta: PageMeta
    items: list[Dependent]


class Finding(BaseModel):
    rule: str
    family: str
    status: str
    severity: str
    subject: str
    title: dict[str, str]
    explanation: dict[str, str]
    remediation: dict[str, str]
    basis: list[str]
    evidence: list[str]


class FindingList(BaseModel):
    meta: PageMeta
    items: list[Finding]


class AreaScore(BaseModel):
    level: str
    code: str
    name: str
    organisations: int
    score: float | None = None
    indicators: dict[str, float | None]


class ScoreList(BaseModel):
    assessment_id: int
    national: dict[str, Any]
    items: list[AreaScore]


class Provider(BaseModel):
    id: str
    name: str | None = None
    country: str | None = None
    organisations: int
    roles: dict[str, int]
    levels: dict[str, int]
    regions: dict[str, int]


class ProviderList(BaseModel):
    meta: PageMeta
    items: list[Provider]


class ProviderDetail(Provider):
    ownership: dict[str, Any] | None = None
    dependents: list[dict[str, Any]]


class Run(BaseModel):
    run_id: int
    status: str
    on_demand: bool
    assessments: list[dict[str, Any]]


class HistoryPoint(BaseModel):
    run_id: int
    assessment_id: int
    as_of: str
    methodology: str
    organisations: int | None = None
    values: dict[str, float | None]


class OrgHistory(BaseModel):
    siren: str
    scores: list[dict[str, Any]]
    changes: list[dict[str, Any]]


class ScanIn(BaseModel):
    target: str = Field(
        min_length=3, max_length=253, description="A domain of a known organisation, or a SIREN"
    )


class ScanOut(BaseModel):
    id: int
    target: str
    siren: str | None = None
    status: str
    detail: str | None = None
    run_id: int | None = None
    created_at: float
    finished_at: float | None = None


PageQ = Annotated[int, Query(ge=1, le=100_000)]
PerPageQ = Annotated[int, Query(ge=1, le=500)]
FormatQ = Annotated[Literal["json", "csv"] | None, Query(alias="format")]
JsonOnlyQ = Annotated[
    Literal["json"] | None, Query(alias="format", description="Only JSON here (`format=csv` is an error).")
]


def _obs(request: Request) -> Observatory:
    obs: Observatory = request.app.state.obs
    return obs


def _assessment(request: Request, run: int | None) -> dict[str, Any]:
    obs = _obs(request)
    row = obs.for_run(run) if run is not None else obs.current()
    if row is None:
        raise HTTPException(
            404, f"run {run}: no assessment" if run is not None else "no assessment in the store"
        )
    return row


def _meta(page: int, per_page: int, total: int, capped: bool = False) -> PageMeta:
    return PageMeta(
        page=page, per_page=per_page, total=total, pages=max(1, -(-total // per_page)), capped=capped
    )


def _summary(row: dict[str, Any]) -> OrgSummary:
    data = dict(row)
    data["domains"] = row["domains"].split() if row["domains"] else []
    data["provisional"] = bool(row["provisional"])
    return OrgSummary(**data)


_FINDING_STATUSES = ("fail", "warn", "unknown")


def _check_choice(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    """A filter's value must be one it can match: a typo is a 422, not an empty list that looks like an
    answer."""
    if value is not None and value not in allowed:
        raise HTTPException(422, f"{name} '{value}': unknown (expected one of {', '.join(allowed)})")


def _check_codes(region: str | None, departement: str | None, kind: str | None = None) -> None:
    _check_choice("kind", kind, KINDS)
    if region and region not in regions():
        raise HTTPException(422, f"region '{region}': unknown INSEE code")
    if departement and departement not in departements():
        raise HTTPException(422, f"departement '{departement}': unknown INSEE code")


@router.get("/organisations", response_model=OrgList, responses=CSV_RESPONSE)
def list_organisations(
    request: Request,
    page: PageQ = 1,
    per_page: PerPageQ = 50,
    region: str | None = None,
    departement: str | None = None,
    kind: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="name words, SIREN or domain")] = None,
    order: Literal["name", "score", "-score"] = "name",
    run: int | None = None,
    fmt: FormatQ = None,
) -> Response:
    """Organisations of an assessment (the current one unless ``run``), with filters; a search (``q``) is in
    name order."""
    _check_codes(region, departement, kind)
    if q and order != "name":  # it was ignored: the answer looked ordered by score
        raise HTTPException(422, f"order '{order}': a search (q) is in name order; leave order out")
    current = _assessment(request, run)
    filters = Filters(region, departement, kind)
    obs = _obs(request)
    if q:
        result = obs.search(current["id"], q, filters, page, per_page)
    else:
        result = obs.organisations(current["id"], filters, page, per_page, order)
    summaries = [_summary(r) for r in result.items]
    body = OrgList(
        meta=_meta(page, per_page, result.total, result.capped),
        run_id=current["run_id"],
        assessment_id=current["id"],
        items=summaries,
    )
    return _respond(request, fmt, body, [s.model_dump() for s in summaries])


def _doc(
    request: Request, siren: str, run: int | None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    current = _assessment(request, run)
    obs = _obs(request)
    row = obs.summary_row(current["id"], siren)
    doc = obs.store.org_assessment(current["id"], siren)
    if row is None or doc is None:
        raise HTTPException(404, f"organisation '{siren}': not in assessment {current['id']}")
    return current, row, doc


@router.get("/organisations/{siren}", response_model=OrgDetail)
def get_organisation(
    request: Request, siren: str, run: int | None = None, fmt: JsonOnlyQ = None
) -> OrgDetail:
    """One organisation: summary, score by role, hygiene scores, corrections (right of reply)."""
    current, row, doc = _doc(request, siren, run)
    corrections = [Correction(**c) for c in _obs(request).store.correction_list(siren=siren)]
    return OrgDetail(
        organisation=_summary(row),
        run_id=current["run_id"],
        assessment_id=current["id"],
        methodology=current["methodology"],
        roles=doc["roles"],
        worst_critical=doc["worst_critical"],
        hygiene_scores=doc["hygiene"].get("scores", {}),
        corrections=corrections,
    )


@router.get("/organisations/{siren}/dependencies", response_model=DependencyList, responses=CSV_RESPONSE)
def org_dependencies(
    request: Request,
    siren: str,
    role: str | None = None,
    operator: str | None = None,
    level: str | None = None,
    run: int | None = None,
    fmt: FormatQ = None,
) -> Response:
    """Dependencies of one organisation with their level and why."""
    _check_choice("role", role, DEPENDENCY_ROLES)
    _check_choice("level", level, LEVELS)
    _, _, doc = _doc(request, siren, run)
    items = [
        Dependency(
            siren=siren,
            **{
                k: r.get(k)
                for k in ("domain", "role", "kind", "subject", "operator", "infrastructure", "level", "why")
            },
            laws=r.get("laws", []),
        )
        for r in doc["levels"]
        if (role is None or r["role"] == role)
        and (operator is None or r["operator"] == operator)
        and (level is None or r["level"] == level)
    ]
    body = DependencyList(meta=_meta(1, max(1, len(items)), len(items)), items=items)
    return _respond(request, fmt, body, [i.model_dump() for i in items])


@router.get("/organisations/{siren}/findings", response_model=FindingList, responses=CSV_RESPONSE)
def org_findings(
    request: Request,
    siren: str,
    severity: str | None = None,
    status: str | None = None,
    family: str | None = None,
    run: int | None = None,
    fmt: FormatQ = None,
) -> Response:
    """Findings of one organisation with French and English texts and remediation."""
    from souverain.web.pages import policy

    _check_choice("severity", severity, SEVERITIES)
    _check_choice("status", status, _FINDING_STATUSES)
    _check_choice("family", family, FAMILIES)
    _, _, doc = _doc(request, siren, run)
    items = []
    for f in doc["findings"]:
        if (severity and f["severity"] != severity) or (status and f["status"] != status):
            continue
        if family and f["family"] != family:
            continue
        r = render_finding(policy(), f)
        items.append(Finding(**{k: r[k] for k in Finding.model_fields}))
    body = FindingList(meta=_meta(1, max(1, len(items)), len(items)), items=items)
    flat = []  # both languages, as the JSON (the CSV had the English texts only)
    for i in items:
        row = i.model_dump(exclude={"title", "explanation", "remediation"})
        for name in ("title", "explanation", "remediation"):
            texts = getattr(i, name)
            row |= {f"{name}_fr": texts.get("fr"), f"{name}_en": texts.get("en")}
        flat.append(row)
    return _respond(request, fmt, body, flat)


@router.get("/organisations/{siren}/history", response_model=OrgHistory)
def org_history(request: Request, siren: str, fmt: JsonOnlyQ = None) -> OrgHistory:
    """The organisation's score at each published run, and the changes since the previous one (each marked
    as a change of reality or of methodology)."""
    _, _, doc = _doc(request, siren, None)
    return OrgHistory(siren=siren, scores=_obs(request).history_scores(siren), changes=doc.get("history", []))


@router.get("/dependencies", response_model=DependentList, responses=CSV_RESPONSE)
def list_dependencies(
    request: Request,
    operator: str,
    role: str | None = None,
    region: str | None = None,
    departement: str | None = None,
    kind: str | None = None,
    page: PageQ = 1,
    per_page: PerPageQ = 100,
    run: int | None = None,
    fmt: FormatQ = None,
) -> Response:
    """Organisations depending on ``operator`` (as operator or infrastructure: ``relation``), one row per
    role."""
    _check_codes(region, departement, kind)
    _check_choice("role", role, DEPENDENCY_ROLES)
    current = _assessment(request, run)
    obs = _obs(request)
    rows = obs.dependents(current["id"], operator, role, Filters(region, departement, kind), page, per_page)
    stats = obs.provider(current["id"], operator)
    total = (
        sum((stats or {}).get("stats", {}).get("roles", {}).values())
        if not (role or region or departement or kind)
        else len(rows)
    )
    fields = set(Dependent.model_fields)
    items = [Dependent(**{k: v for k, v in r.items() if k in fields}) for r in rows]
    body = DependentList(meta=_meta(page, per_page, total), items=items)
    return _respond(request, fmt, body, [i.model_dump() for i in items])


@router.get("/findings/summary")
def findings_summary(request: Request, run: int | None = None, fmt: JsonOnlyQ = None) -> dict[str, int]:
    """Count of findings per ``rule:status`` in an assessment."""
    current = _assessment(request, run)
    counts: dict[str, int] = _obs(request).summary(current["id"]).get("findings", {})
    return counts


@router.get("/scores", response_model=ScoreList, responses=CSV_RESPONSE)
def scores(
    request: Request,
    level: Literal["region", "departement"] = "departement",
    run: int | None = None,
    fmt: FormatQ = None,
) -> Response:
    """Mean score and indicators per région or département; national figures in ``national``."""
    current = _assessment(request, run)
    obs = _obs(request)
    names = regions() if level == "region" else {k: v[0] for k, v in departements().items()}
    items = []
    for code, values in sorted(obs.areas(current["id"], level).items()):
        indicators = {k: v.get("value") for k, v in values.items() if isinstance(v, dict) and k != "score"}
        items.append(
            AreaScore(
                level=level,
                code=code,
                name=names.get(code, code),
                organisations=values["organisations"],
                score=values["score"]["value"],
                indicators=indicators,
            )
        )
    stats = obs.ready(current["id"])
    national = {
        "organisations": stats["organisations"],
        "score": stats["score"],
        "indicators": {k: v["national"] for k, v in stats["trajectories"].items()},
    }
    body = ScoreList(assessment_id=current["id"], national=national, items=items)
    flat = [{**i.model_dump(exclude={"indicators"}), **i.indicators} for i in items]
    return _respond(request, fmt, body, flat)


def _provider(obs: Observatory, current: dict[str, Any], row: dict[str, Any]) -> Provider:
    kb = obs.kb_for(current)
    ent = kb.entities.get(row["operator"]) if kb is not None else None
    stats = row["stats"]
    return Provider(
        id=row["operator"],
        name=ent.label if ent else None,
        country=ent.country if ent else None,
        organisations=row["organisations"],
        roles=stats["roles"],
        levels=stats["levels"],
        regions=stats["regions"],
    )


@router.get("/providers", response_model=ProviderList, responses=CSV_RESPONSE)
def list_providers(
    request: Request, page: PageQ = 1, per_page: PerPageQ = 100, run: int | None = None, fmt: FormatQ = None
) -> Response:
    """Operators and infrastructures observed, most depended-upon first."""
    current = _assessment(request, run)
    obs = _obs(request)
    rows = obs.providers(current["id"], limit=100_000)
    chunk = rows[(page - 1) * per_page : page * per_page]
    items = [_provider(obs, current, r) for r in chunk]
    body = ProviderList(meta=_meta(page, per_page, len(rows)), items=items)
    flat = [i.model_dump(exclude={"roles", "levels", "regions"}) for i in items]
    return _respond(request, fmt, body, flat)


@router.get("/providers/{entity}", response_model=ProviderDetail)
def get_provider(
    request: Request,
    entity: str,
    page: PageQ = 1,
    per_page: PerPageQ = 100,
    run: int | None = None,
    fmt: JsonOnlyQ = None,
) -> ProviderDetail:
    """One provider: who depends on it (by role, level, région) and its ownership chain with sources."""
    from souverain.kb.explain import explain

    current = _assessment(request, run)
    obs = _obs(request)
    row = obs.provider(current["id"], entity)
    kb = obs.kb_for(current)
    ent = kb.entities.get(entity) if kb is not None else None
    if row is None and ent is None:
        raise HTTPException(404, f"provider '{entity}': neither observed nor in the knowledge base")
    row = row or {"operator": entity, "organisations": 0, "stats": {"roles": {}, "levels": {}, "regions": {}}}
    base = _provider(obs, current, row)
    ownership = None
    if kb is not None and ent is not None:
        ownership = explain(kb, ent, dt.date.fromisoformat(current["as_of"]))
        ownership.pop("signatures", None)
    dependents = obs.dependents(current["id"], entity, None, Filters(), page, per_page)
    return ProviderDetail(**base.model_dump(), ownership=_jsonable(ownership), dependents=dependents)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@router.get("/runs", response_model=list[Run])
def list_runs(request: Request, fmt: JsonOnlyQ = None) -> list[Run]:
    """Runs with their assessments (on-demand scans included, marked)."""
    by_run: dict[int, Run] = {}
    for row in _obs(request).assessments():
        run = by_run.setdefault(
            row["run_id"],
            Run(
                run_id=row["run_id"],
                status=row["status"],
                on_demand=bool(row["config"].get("on_demand")),
                assessments=[],
            ),
        )
        run.assessments.append(
            {k: row[k] for k in ("id", "methodology", "kb_version", "as_of", "created_at")}
        )
    return [by_run[k] for k in sorted(by_run)]


@router.get("/runs/{run_id}", response_model=Run)
def get_run(request: Request, run_id: int, fmt: JsonOnlyQ = None) -> Run:
    for run in list_runs(request):
        if run.run_id == run_id:
            return run
    raise HTTPException(404, f"run {run_id}: no assessed run with this id")


@router.get("/history", response_model=list[HistoryPoint])
def history(request: Request, fmt: JsonOnlyQ = None) -> list[HistoryPoint]:
    """National value of every indicator at each published run (trends)."""
    return [HistoryPoint(**p) for p in _obs(request).trends()]


# on-demand scans ------------------------------------------------------------------------------------------
def _api_token(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """The request's API token (a dependency: checked before the body is, so a request without a token is a
    401 whatever its body; a missing body was a 422 first)."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(
            401,
            "an API token is required: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token: dict[str, Any] | None = request.app.state.store.api_token_by_hash(
        hash_token(authorization[7:].strip())
    )
    if token is None or token["revoked_at"] is not None:
        raise HTTPException(403, "unknown or revoked API token")
    wait = request.app.state.limiter.take(f"token:{token['id']}", token["per_minute"])
    if wait:
        raise HTTPException(
            429,
            f"rate limit of this token ({token['per_minute']}/min) exceeded",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    request.app.state.store.touch_api_token(token["id"])
    return token


@router.post(
    "/scans",
    response_model=ScanOut,
    status_code=202,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
def request_scan(
    request: Request, body: ScanIn, token: Annotated[dict[str, Any], Depends(_api_token)]
) -> ScanOut:
    """Scan a domain of a known organisation, or all domains of an organisation (by SIREN), now. Needs an API
    token; refused (422) for non-public targets unless the instance runs in lab mode."""
    settings = request.app.state.settings
    obs = _obs(request)
    target = body.target.strip().lower().rstrip(".")
    if target.isdigit():
        org = obs.store.organisation(target)
        if org is None:
            raise HTTPException(404, f"target '{target}': no organisation with this SIREN")
        siren, domains = org.siren, [d.name for d in org.domains]
    else:
        problem = name_problem(target)
        if problem and (not settings.lab or problem.startswith("an IP")):
            message = f"target '{target}': {problem}"
            obs.store.add_scan_request(token["id"], target, None, "refused", message)
            raise HTTPException(422, {"message": message, "details": {"target": target, "refused": True}})
        current = obs.current()
        hits = obs.search(current["id"], target, Filters(), per_page=5).items if current else []
        owners = [h for h in hits if target in h["domains"].split()]
        if not owners:
            raise HTTPException(404, f"target '{target}': not a domain of a known organisation")
        siren, domains = owners[0]["siren"], [target]
    try:
        net_config = settings.net_config()
        for domain in domains:
            check_target(domain, net_config, lab=settings.lab)
    except TargetRefused as exc:
        obs.store.add_scan_request(token["id"], target, siren, "refused", str(exc))
        raise HTTPException(
            422, {"message": str(exc), "details": {"target": target, "refused": True}}
        ) from None
    request_id = obs.store.add_scan_request(token["id"], target, siren, "queued")
    if not request.app.state.scans.submit(request_id):
        obs.store.update_scan_request(request_id, status="failed", detail="queue full")
        raise HTTPException(503, "the scan queue is full; retry later", headers={"Retry-After": "60"})
    row = obs.store.scan_request(request_id)
    assert row is not None
    return ScanOut(**row)


@router.get("/scans/{request_id}", response_model=ScanOut)
def get_scan(
    request: Request,
    request_id: int,
    token: Annotated[dict[str, Any], Depends(_api_token)],
    fmt: JsonOnlyQ = None,
) -> ScanOut:
    """State of an on-demand scan (queued, running, completed, failed, refused) and its run."""
    row = request.app.state.store.scan_request(request_id)
    if row is None or row["token_id"] != token["id"]:
        raise HTTPException(404, f"scan request {request_id}: not found for this token")
    return ScanOut(**row)
