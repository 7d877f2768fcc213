"""Server-rendered pages (French by default, English under ``/en``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import http
import secrets
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from souverain.assessment.assess import MIN_ROLES, render_finding
from souverain.kb.model import DEPENDENCY_ROLES
from souverain.policy.load import Policy, load_policy
from souverain.portfolio.model import KINDS
from souverain.portfolio.validate import email_problem
from souverain.web.data import INDICATORS, Filters, Observatory, Page, departements, regions
from souverain.web.i18n import Translator, prefix
from souverain.web.security import verify_password

__all__ = ["error_page", "http_phrase", "router", "validation_message"]

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
ROLE_ORDER = (*MIN_ROLES, "third-party")
TOPICS = ("organisation", "domains", "dependency", "finding", "other")


@lru_cache(maxsize=1)
def policy() -> Policy:
    return load_policy()


def lang_of(request: Request) -> str:
    path = request.url.path
    return "en" if path == "/en" or path.startswith("/en/") else "fr"


def _switch_url(request: Request, lang: str) -> str:
    path = request.url.path
    other = path.removeprefix("/en") or "/" if lang == "en" else "/en" + path
    return other + (f"?{request.url.query}" if request.url.query else "")


def _operator(request: Request) -> str | None:
    value = request.session.get("operator") if "session" in request.scope else None
    return str(value) if value else None


def _binding(request: Request) -> str:
    return str(request.session.get("csrf", "anon")) if _operator(request) else "anon"


def _context(request: Request, **extra: Any) -> dict[str, Any]:
    lang = lang_of(request)
    obs: Observatory = request.app.state.obs
    return {
        "request": request,
        "lang": lang,
        "t": Translator(lang),
        "L": prefix(lang),
        "switch_url": _switch_url(request, lang),
        "operator": _operator(request),
        "csrf": request.app.state.csrf.token(_binding(request)),
        "current": obs.current(),
        "departements": departements(),
        "regions": regions(),
        "kinds": KINDS,
        "qs": lambda **kw: urlencode({k: v for k, v in kw.items() if v not in (None, "")}),
        **extra,
    }


def _page(request: Request, template: str, status: int = 200, **extra: Any) -> HTMLResponse:
    html = request.app.state.renderer.render(template, **_context(request, **extra))
    return HTMLResponse(html, status)


def error_page(request: Request, status: int, message: str) -> str:
    out: str = request.app.state.renderer.render(
        "error.html.j2", **_context(request, status=status, message=message)
    )
    return out


def _current(request: Request) -> dict[str, Any]:
    current = request.app.state.obs.current()
    if current is None:
        raise HTTPException(404, _say(request, "no_data"))
    return dict(current)


def _check_csrf(request: Request, token: str | None) -> None:
    if not request.app.state.csrf.valid(token, _binding(request)):
        raise HTTPException(403, _say(request, "csrf_failed"))


def http_phrase(request: Request, status: int, text: str) -> str:
    """An error's text for a page: Starlette's own English phrase ("Method Not Allowed", "Not Found") in
    the page's language; a message of ours as it is."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        return text
    if text == phrase:
        said = _say(request, f"http_{status}")
        return said if said != f"http_{status}" else text
    return text


def _say(request: Request, key: str, **values: Any) -> str:
    """A message of the catalogue in the page's language."""
    return Translator(lang_of(request))(key, **values)


def bad_param(request: Request, name: str, problem: str, **values: Any) -> HTTPException:
    """A 422 saying, in the page's language, which parameter is wrong and why (``problem``: a ``p_*``
    message key)."""
    return HTTPException(422, _say(request, "bad_param", name=name, problem=_say(request, problem, **values)))


_PYDANTIC = {  # pydantic's error types met by the pages' parameters → (message key, its value from ctx)
    "int_parsing": ("p_int", None),
    "greater_than_equal": ("p_ge", "ge"),
    "less_than_equal": ("p_le", "le"),
    "string_too_long": ("p_long", "max_length"),
    "string_too_short": ("p_short", "min_length"),
    "missing": ("p_missing", None),
}


def validation_message(request: Request, errors: Sequence[Any]) -> str:
    """The parameters FastAPI refused, in the page's language (pydantic's own text, in English, for an error
    type the pages do not expect)."""
    t = Translator(lang_of(request))
    said = []
    for error in errors:
        name = str(error.get("loc", ("?",))[-1])
        key, limit = _PYDANTIC.get(error.get("type", ""), (None, None))
        ctx = error.get("ctx") or {}
        problem = t(key, limit=ctx.get(limit, "")) if key else str(error.get("msg", ""))
        said.append(t("bad_param", name=name, problem=problem))
    return "; ".join(said) or t("error_title")


def _choice(
    request: Request, name: str, value: str | None, allowed: tuple[str, ...], *, required: bool = False
) -> str | None:
    """A filter's value must be one it can match: a typo is an error, not an empty list that looks like an
    answer. An empty filter is no filter (the forms' "all"); an empty ``required`` value is an error."""
    if (value or required) and value not in allowed:
        raise bad_param(request, name, "p_choice", value=value, expected=", ".join(allowed))
    return value or None


def _within(request: Request, found: Page) -> Page:
    """A page of a list must exist: "page 99 / 5" with an empty table looked like an answer."""
    if found.page > found.pages:
        raise bad_param(request, "page", "p_le", limit=found.pages)
    return found


def _filters(request: Request, region: str | None, departement: str | None, kind: str | None) -> Filters:
    for name, value, known in (("region", region, regions()), ("departement", departement, departements())):
        if value and value not in known:
            raise bad_param(request, name, "p_code", value=value)
    return Filters(region or None, departement or None, _choice(request, "kind", kind, KINDS))


def _entity_name(kb: Any, entity: str | None, t: Translator) -> str:
    if entity is None:
        return t("undetermined_op")
    if entity == "self":
        return t("self_op")
    ent = kb.entities.get(entity) if kb is not None else None
    return str(ent.label) if ent is not None else entity


# overview -----------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def overview(request: Request, indicator: str = "score") -> HTMLResponse:
    obs: Observatory = request.app.state.obs
    current = obs.current()
    if current is None:
        return _page(request, "empty.html.j2")
    _choice(request, "indicator", indicator, INDICATORS)
    stats = obs.ready(current["id"])
    areas = obs.areas(current["id"], "departement")
    kb = obs.kb_for(current)
    t = Translator(lang_of(request))
    providers = [
        {**p, "label": _entity_name(kb, p["operator"], t)} for p in obs.providers(current["id"], limit=10)
    ]
    return _page(
        request,
        "overview.html.j2",
        stats=stats,
        areas=areas,
        indicator=indicator,
        indicators=INDICATORS,
        trends=obs.trends(),
        top_providers=providers,
    )


@router.get("/departement/{code}", response_class=HTMLResponse)
def departement_page(
    request: Request, code: str, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    if code not in departements():
        raise HTTPException(404, _say(request, "unknown_dept", code=code))
    obs: Observatory = request.app.state.obs
    current = _current(request)
    values = obs.areas(current["id"], "departement").get(code, {})
    orgs = _within(request, obs.organisations(current["id"], Filters(departement=code), page, PER_PAGE))
    return _page(request, "departement.html.j2", code=code, values=values, orgs=orgs, indicators=INDICATORS)


# organisation -----------------------------------------------------------------------------------------
@router.get("/org/{siren}", response_class=HTMLResponse)
def org_page(request: Request, siren: str, sent: int | None = None) -> Response:
    obs: Observatory = request.app.state.obs
    current = _current(request)
    row = obs.summary_row(current["id"], siren)
    doc = obs.store.org_assessment(current["id"], siren)
    org = obs.store.organisation(siren)
    if row is None or doc is None or org is None:
        raise HTTPException(404, _say(request, "org_not_assessed", siren=siren))
    t = Translator(lang_of(request))
    kb = obs.kb_for(current)
    levels = []
    for r in doc["levels"]:
        levels.append(
            {
                **r,
                "operator_name": _entity_name(kb, r["operator"], t),
                "infrastructure_name": _entity_name(kb, r["infrastructure"], t)
                if r["infrastructure"] and r["infrastructure"] != r["operator"]
                else None,
            }
        )
    by_role: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(
        levels, key=lambda r: (ROLE_ORDER.index(r["role"]) if r["role"] in ROLE_ORDER else 99, r["subject"])
    ):
        by_role.setdefault(r["role"], []).append(r)
    findings = sorted(
        (render_finding(policy(), f) for f in doc["findings"]),
        key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), f["rule"], f["subject"]),
    )
    corrections = obs.store.correction_list(siren=siren)
    busy = obs.store.busy_domains(current["run_id"], [d.name for d in org.domains])
    return _page(
        request,
        "org.html.j2",
        busy=busy,
        org=org,
        row=row,
        doc=doc,
        by_role=by_role,
        levels=levels,
        findings=findings,
        scores=obs.history_scores(siren),
        corrections=corrections,
        topics=TOPICS,
        sent=sent,
    )


@router.post("/org/{siren}/corrections")
def submit_correction(
    request: Request,
    siren: str,
    contact_name: Annotated[str, Form(min_length=2, max_length=200)],
    contact_email: Annotated[str, Form(min_length=3, max_length=320)],
    topic: Annotated[str, Form()],
    message: Annotated[str, Form(min_length=10, max_length=5000)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    _check_csrf(request, csrf)
    obs: Observatory = request.app.state.obs
    if obs.store.organisation(siren) is None:
        raise HTTPException(404, _say(request, "org_unknown", siren=siren))
    _choice(request, "topic", topic, TOPICS, required=True)
    if email_problem(contact_email):
        raise bad_param(request, "contact_email", "p_email", value=contact_email)
    client = request.client.host if request.client else "?"
    wait = request.app.state.limiter.take(
        f"correction:{client}", request.app.state.settings.corrections_per_minute
    )
    if wait:
        raise HTTPException(
            429,
            _say(request, "corrections_too_often"),
            headers={"Retry-After": str(int(wait) + 1)},
        )
    correction_id = obs.store.add_correction(
        siren, contact_name.strip(), contact_email.strip(), topic, message.strip()
    )
    L = prefix(lang_of(request))
    return RedirectResponse(f"{L}/org/{siren}?sent={correction_id}#corrections", status_code=303)


# procurement ---------------------------------------------------------------------------------------------
_PROCUREMENT_CACHE: dict[tuple[str, float], dict[str, Any]] = {}


def _procurement_path(request: Request) -> Path | None:
    """The DECP database the server shows (``serve --procurement``, else the home's), when there is one."""
    settings = request.app.state.settings
    path: Path = settings.procurement or settings.home / "procurement.duckdb"
    return path if path.is_file() else None


def _procurement_data(request: Request) -> dict[str, Any] | None:
    """The procurement pillar's figures (souverain.procurement.report.report_data), computed once per
    version of the DECP database (its path and modification time)."""
    path = _procurement_path(request)
    if path is None:
        return None
    key = (str(path), path.stat().st_mtime)
    if key not in _PROCUREMENT_CACHE:
        from souverain.procurement.report import report_data

        _PROCUREMENT_CACHE.clear()
        _PROCUREMENT_CACHE[key] = report_data(path)
    return _PROCUREMENT_CACHE[key]


@router.get("/procurement", response_class=HTMLResponse)
def procurement_page(request: Request) -> Response:
    data = _procurement_data(request)
    years: dict[str, dict[str, Any]] = {}
    kinds: dict[str, dict[str, Any]] = {}
    if data is not None:
        for row in data["shares_year"]:
            years.setdefault(str(row["year"]), {})[row["view"]] = row
        last = max(years, default=None)
        for row in data["shares_year_buyer_kind"]:
            if str(row["year"]) == last:
                kinds.setdefault(str(row["buyer_kind"]), {})[row["view"]] = row
    return _page(request, "procurement.html.j2", data=data, years=years, kinds=kinds)


# providers -----------------------------------------------------------------------------------------------
@router.get("/providers", response_class=HTMLResponse)
def providers_page(request: Request, role: str | None = None, region: str | None = None) -> Response:
    obs: Observatory = request.app.state.obs
    current = _current(request)
    kb = obs.kb_for(current)
    t = Translator(lang_of(request))
    role = _choice(request, "role", role, DEPENDENCY_ROLES)
    region = _filters(request, region, None, None).region
    found = obs.providers(current["id"])
    roles = sorted({r for p in found for r in p["stats"]["roles"]}, key=lambda r: t.label("role", r))
    rows = []
    for p in found:
        if (role and not p["stats"]["roles"].get(role)) or (region and not p["stats"]["regions"].get(region)):
            continue  # the stats count dependent bodies per role and per région
        ent = kb.entities.get(p["operator"]) if kb is not None else None
        rows.append(
            {**p, "label": _entity_name(kb, p["operator"], t), "country": ent.country if ent else None}
        )
    return _page(request, "providers.html.j2", providers=rows, role=role, region=region, roles=roles)


@router.get("/provider/{entity}", response_class=HTMLResponse)
def provider_page(
    request: Request,
    entity: str,
    role: str | None = None,
    region: str | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    from souverain.kb.explain import explain

    obs: Observatory = request.app.state.obs
    current = _current(request)
    kb = obs.kb_for(current)
    stats = obs.provider(current["id"], entity)
    ent = kb.entities.get(entity) if kb is not None else None
    if stats is None and ent is None:
        raise HTTPException(404, _say(request, "unknown_provider", entity=entity))
    info = explain(kb, ent, dt.date.fromisoformat(current["as_of"])) if kb is not None and ent else None
    names = {}
    if info is not None and kb is not None:
        names = {
            o["parent"]: _entity_name(kb, o["parent"], Translator(lang_of(request))) for o in info["owners"]
        }
    role = _choice(request, "role", role, DEPENDENCY_ROLES)
    rows = obs.dependents(current["id"], entity, role, _filters(request, region, None, None), page, PER_PAGE)
    return _page(
        request,
        "provider.html.j2",
        entity=entity,
        ent=ent,
        info=info,
        stats=stats,
        rows=rows,
        role=role,
        region=region,
        page=page,
        per_page=PER_PAGE,
        owner_names=names,
    )


# search and rankings ---------------------------------------------------------------------------------------
@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    region: str | None = None,
    departement: str | None = None,
    kind: str | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    obs: Observatory = request.app.state.obs
    current = _current(request)
    filters = _filters(request, region, departement, kind)
    results = _within(request, obs.search(current["id"], q, filters, page, PER_PAGE)) if q.strip() else None
    partial = request.headers.get("HX-Request") == "true"
    template = "_results.html.j2" if partial else "search.html.j2"
    return _page(request, template, q=q, results=results, filters=filters)


@router.get("/rankings", response_class=HTMLResponse)
def rankings_page(
    request: Request,
    region: str | None = None,
    departement: str | None = None,
    kind: str | None = None,
    order: str = "worst",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    obs: Observatory = request.app.state.obs
    current = _current(request)
    filters = _filters(request, region, departement, kind)
    _choice(request, "order", order, ("worst", "best"))
    orgs = _within(
        request,
        obs.organisations(current["id"], filters, page, PER_PAGE, "score" if order == "worst" else "-score"),
    )
    areas = obs.areas(current["id"], "departement")
    ranked = sorted(
        ((code, v) for code, v in areas.items() if v["score"]["value"] is not None),
        key=lambda item: item[1]["score"]["value"],
        reverse=order != "worst",
    )
    return _page(request, "rankings.html.j2", orgs=orgs, filters=filters, order=order, ranked=ranked)


# open data -----------------------------------------------------------------------------------------------
def _opendata_dir(request: Request, run_id: int) -> Path:
    """Where a run's open data is generated: one folder per published assessment of the run (a `reassess`
    publishes another) and, with a DECP database, per state of that database (its size and modification
    time: an ingest changes its tables) — the export carries them too, as `souverain export` does."""
    base: Path = request.app.state.settings.home / "opendata"
    published = request.app.state.obs.for_run(run_id)
    name = f"{run_id}-a{published['id']}" if published is not None else str(run_id)
    decp = _procurement_path(request)
    if decp is None:
        return base / name
    stat = decp.stat()
    state = hashlib.sha256(f"{decp.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return base / f"{name}-decp-{state}"


@router.get("/opendata", response_class=HTMLResponse)
def opendata_page(request: Request) -> Response:
    from souverain.web import publish

    obs: Observatory = request.app.state.obs
    runs = []
    for row in reversed(obs.published()):
        folder = _opendata_dir(request, row["run_id"])
        runs.append({**row, "files": publish.listing(folder)})
    return _page(request, "opendata.html.j2", runs=runs)


@router.post("/opendata/{run_id}")
def opendata_generate(request: Request, run_id: int, csrf: Annotated[str | None, Form()] = None) -> Response:
    from souverain.web import publish

    _check_csrf(request, csrf)
    obs: Observatory = request.app.state.obs
    if run_id not in {r["run_id"] for r in obs.published()}:
        raise HTTPException(404, _say(request, "run_not_published", run=run_id))
    client = request.client.host if request.client else "?"
    if request.app.state.limiter.take(f"opendata:{client}", 2):
        raise HTTPException(429, _say(request, "opendata_too_often"))
    current = obs.for_run(run_id)
    assert current is not None
    decp = _procurement_path(request)
    publish.generate(obs.store, run_id, _opendata_dir(request, run_id), obs.kb_for(current), decp)
    return RedirectResponse(f"{prefix(lang_of(request))}/opendata#run-{run_id}", status_code=303)


@router.get("/opendata/{run_id}/{name:path}")
def opendata_file(request: Request, run_id: int, name: str) -> Response:
    from souverain.web import publish

    folder = _opendata_dir(request, run_id)
    files = {f["name"]: f for f in publish.listing(folder)}
    if name not in files:
        raise HTTPException(404, _say(request, "opendata_missing", name=name, run=run_id))
    return FileResponse(folder / name, filename=name.replace("/", "-"))


# operators ------------------------------------------------------------------------------------------------
@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request) -> Response:
    return _page(request, "signin.html.j2", failed=False)


@router.post("/signin")
def signin(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    _check_csrf(request, csrf)
    client = request.client.host if request.client else "?"
    if request.app.state.limiter.take(f"signin:{client}", 10):
        raise HTTPException(429, _say(request, "signin_too_often"))
    account = request.app.state.store.operator(username)
    if account is None or account["disabled"] or not verify_password(password, account["password_hash"]):
        return _page(request, "signin.html.j2", status=401, failed=True)
    request.session.clear()
    request.session["operator"] = account["username"]
    request.session["csrf"] = secrets.token_hex(16)
    return RedirectResponse(f"{prefix(lang_of(request))}/review", status_code=303)


@router.post("/signout")
def signout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
    _check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse(f"{prefix(lang_of(request))}/", status_code=303)


def _require_operator(request: Request) -> str:
    who = _operator(request)
    if who is None:
        raise HTTPException(401, _say(request, "signin_title"))
    return who


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request) -> Response:
    _require_operator(request)
    store = request.app.state.store
    pending = store.correction_list(status="pending")
    recent = [c for c in store.correction_list(limit=50) if c["status"] != "pending"]
    names = {}
    for c in pending + recent:
        org = store.organisation(c["siren"])
        names[c["siren"]] = org.name if org else c["siren"]
    return _page(request, "review.html.j2", pending=pending, recent=recent, names=names)


@router.post("/review/{correction_id}")
def review(
    request: Request,
    correction_id: int,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form(min_length=3, max_length=2000)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    who = _require_operator(request)
    _check_csrf(request, csrf)
    _choice(request, "decision", decision, ("accept", "reject"), required=True)
    if not request.app.state.store.review_correction(
        correction_id, who, decision == "accept", reason.strip()
    ):
        raise HTTPException(409, _say(request, "correction_not_pending", id=correction_id))
    return RedirectResponse(f"{prefix(lang_of(request))}/review", status_code=303)


@router.get("/api", response_class=HTMLResponse)
def api_page(request: Request) -> Response:
    return _page(request, "api.html.j2")
