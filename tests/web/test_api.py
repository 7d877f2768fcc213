"""The API on a real server: lists, filters, pages, CSV, one error shape, tokens, rate limits, OpenAPI."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from souverain.web.security import hash_token, new_token

from .conftest import Server, WebWorld, make_app


def assert_error(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status
    for word in words:
        assert word in error["message"], (word, error["message"])
    return dict(error)


@pytest.fixture(scope="module")
def client(server: Server) -> Any:
    with httpx.Client(base_url=server.url, timeout=20) as c:
        yield c


def test_openapi_document_is_valid(world: WebWorld) -> None:
    from openapi_spec_validator import validate

    spec = make_app(world).openapi()
    validate(spec)
    paths = spec["paths"]
    for path in (
        "/api/v1/organisations",
        "/api/v1/organisations/{siren}",
        "/api/v1/providers/{entity}",
        "/api/v1/runs",
        "/api/v1/history",
        "/api/v1/scans",
        "/api/v1/scores",
    ):
        assert path in paths
    assert not any(p.startswith("/org") for p in paths), "pages must not be in the API document"


def test_list_pagination_and_filters(client: httpx.Client, world: WebWorld) -> None:
    body = client.get("/api/v1/organisations", params={"per_page": 5}).json()
    assert body["meta"] == {"page": 1, "per_page": 5, "total": len(world.sirens), "pages": 3, "capped": False}
    assert body["run_id"] == world.run_ids[-1]
    seen = {
        o["siren"]
        for p in (1, 2, 3)
        for o in client.get("/api/v1/organisations", params={"per_page": 5, "page": p}).json()["items"]
    }
    assert seen == set(world.sirens)
    lyon = client.get("/api/v1/organisations", params={"departement": "69"}).json()
    assert sorted(o["name"] for o in lyon["items"]) == ["Commune de Lyon", "Métropole de Lyon"]
    assert lyon["meta"]["total"] == 2
    bretagne = client.get("/api/v1/organisations", params={"region": "53", "kind": "commune"}).json()
    assert [o["name"] for o in bretagne["items"]] == ["Commune de Quimper"]
    # the usual convention: `score` lowest first, `-score` highest first (it was the other way round)
    worst = client.get("/api/v1/organisations", params={"order": "score"}).json()["items"]
    scores = [o["score"] for o in worst]
    assert scores == sorted(scores) and worst[0]["score"] < worst[-1]["score"]
    best = client.get("/api/v1/organisations", params={"order": "-score", "per_page": 500}).json()
    assert [o["score"] for o in best["items"]] == sorted(scores, reverse=True)
    assert best["meta"]["total"] == len(best["items"])  # bodies without a score are not counted either


def test_search_by_name_siren_domain(client: httpx.Client, world: WebWorld) -> None:
    siren = world.sirens[2]
    for q in ("lyon", world.names[siren], siren, world.domains[siren]):
        items = client.get("/api/v1/organisations", params={"q": q}).json()["items"]
        assert siren in {o["siren"] for o in items}, q
    items = client.get("/api/v1/organisations", params={"q": "pointe pitre"}).json()["items"]
    assert [o["name"] for o in items] == ["Commune de Pointe-à-Pitre"]


def test_csv_by_content_negotiation(client: httpx.Client, world: WebWorld) -> None:
    response = client.get("/api/v1/organisations", params={"per_page": 100}, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(world.sirens)
    assert {r["siren"] for r in rows} == set(world.sirens)
    assert {"name", "score", "departement", "domains"} <= set(rows[0])
    as_json = client.get("/api/v1/organisations", params={"format": "json"}, headers={"Accept": "text/csv"})
    assert as_json.headers["content-type"].startswith("application/json")
    scores = client.get("/api/v1/scores", params={"format": "csv"})
    assert scores.headers["content-type"].startswith("text/csv")
    assert "972" in {r["code"] for r in csv.DictReader(io.StringIO(scores.text))}
    # booleans as the open data writes them (Python's True/False before)
    assert {r["provisional"] for r in rows} <= {"true", "false"}
    # findings in both languages, as the JSON (English only before)
    found = client.get(f"/api/v1/organisations/{world.sirens[0]}/findings", params={"format": "csv"})
    finding = next(csv.DictReader(io.StringIO(found.text)))
    assert finding["title_fr"] and finding["title_en"] and "title" not in finding
    # an endpoint without a CSV form says so (it answered JSON to format=csv)
    for path in ("/api/v1/runs", "/api/v1/history", "/api/v1/findings/summary"):
        refused = client.get(path, params={"format": "csv"})
        assert refused.status_code == 422 and "format" in refused.text, path
        assert client.get(path, params={"format": "json"}).status_code == 200, path


def test_one_error_shape(client: httpx.Client) -> None:
    assert_error(client.get("/api/v1/organisations/000000000"), 404, "000000000")
    assert_error(client.get("/api/v1/no-such-thing"), 404)
    error = assert_error(client.get("/api/v1/organisations", params={"per_page": 100000}), 422, "per_page")
    assert error["code"] == "invalid-request" and error["details"][0]["where"] == "query.per_page"
    assert_error(client.get("/api/v1/organisations", params={"region": "99"}), 422, "region '99'")
    # a filter value that can match nothing is a typo, not an empty answer
    for path, params, message in [
        ("/api/v1/organisations/{siren}/dependencies", {"role": "nope"}, "role 'nope': unknown"),
        ("/api/v1/organisations/{siren}/dependencies", {"level": "nope"}, "level 'nope': unknown"),
        ("/api/v1/organisations/{siren}/findings", {"severity": "nope"}, "severity 'nope': unknown"),
        ("/api/v1/organisations/{siren}/findings", {"family": "nope"}, "family 'nope': unknown"),
        ("/api/v1/dependencies", {"operator": "ovhcloud", "role": "nope"}, "role 'nope': unknown"),
        ("/api/v1/dependencies", {"operator": "ovhcloud", "kind": "village"}, "kind 'village': unknown"),
        ("/api/v1/organisations", {"kind": "village"}, "kind 'village': unknown"),
    ]:
        assert_error(client.get(path.format(siren="213105554"), params=params), 422, message)
    assert_error(client.delete("/api/v1/organisations"), 405)
    assert_error(client.post("/api/v1/scans", json={"target": "example.fr"}), 401, "token")
    assert_error(client.post("/api/v1/scans"), 401, "token")  # no token is the first problem, body or not
    assert_error(
        client.post(
            "/api/v1/scans", json={"target": "example.fr"}, headers={"Authorization": "Bearer sv_wrong"}
        ),
        403,
    )


def test_internal_error_has_the_shape(world: WebWorld) -> None:
    app = make_app(world)

    def broken() -> None:
        raise RuntimeError("boom")

    app.state.obs.current = broken
    with Server(app) as running, httpx.Client(base_url=running.url) as c:
        error = assert_error(c.get("/api/v1/organisations"), 500, "internal error")
        assert "boom" not in error["message"]


def test_organisation_detail_dependencies_findings_history(client: httpx.Client, world: WebWorld) -> None:
    siren = world.sirens[2]  # Lyon: Google mailboxes in run 1, OVHcloud in run 2
    detail = client.get(f"/api/v1/organisations/{siren}").json()
    assert detail["organisation"]["name"] == "Commune de Lyon"
    assert detail["roles"]["mailbox"]["level"] == "european"
    deps = client.get(f"/api/v1/organisations/{siren}/dependencies", params={"role": "mailbox"}).json()
    assert [(d["operator"], d["level"]) for d in deps["items"]] == [("ovhcloud", "european")]
    old = client.get(f"/api/v1/organisations/{siren}/dependencies", params={"run": world.run_ids[0]}).json()
    assert ("google", "mailbox") in {(d["operator"], d["role"]) for d in old["items"]}
    findings = client.get(f"/api/v1/organisations/{world.sirens[0]}/findings").json()["items"]
    sov = [f for f in findings if f["rule"] == "SOV-EXTRATERRITORIAL"]
    assert sov and sov[0]["title"]["fr"] and sov[0]["title"]["en"] and sov[0]["remediation"]["fr"]
    history = client.get(f"/api/v1/organisations/{siren}/history").json()
    assert [s["run_id"] for s in history["scores"]] == world.run_ids
    assert history["scores"][0]["score"] < history["scores"][1]["score"]
    assert history["changes"][0]["change"] == "operator-changed"


def test_providers_runs_history(client: httpx.Client, world: WebWorld) -> None:
    providers = {p["id"]: p for p in client.get("/api/v1/providers").json()["items"]}
    assert providers["ovhcloud"]["organisations"] == len(world.sirens)  # everyone's DNS
    assert providers["microsoft"]["roles"] == {"mailbox": 4}
    aws = client.get("/api/v1/providers/aws").json()
    assert aws["country"] == "US"
    assert {o["parent"] for o in aws["ownership"]["owners"]} == {"amazon"}
    assert all(o["source"].startswith("https://") and o["checked"] for o in aws["ownership"]["owners"])
    assert "us-cloud-act" in {e["law"] for e in aws["ownership"]["exposures"]}
    assert {d["siren"] for d in aws["dependents"]} == {
        world.sirens[i] for i in (0, 5, 7)
    }  # web hosting of Fort-de-France, Gironde, Cayenne
    assert_error(client.get("/api/v1/providers/no-such-provider"), 404, "no-such-provider")
    deps = client.get("/api/v1/dependencies", params={"operator": "microsoft", "role": "mailbox"}).json()
    assert len(deps["items"]) == 4
    # every field it gives is filled (domain, reasons and laws were null: they are in the per-body endpoint)
    assert all(None not in (d["name"], d["kind"], d["subject"], d["level"]) for d in deps["items"])
    assert {d["relation"] for d in deps["items"]} == {"operator"}
    assert "domain" not in deps["items"][0] and "laws" not in deps["items"][0]
    pages_ = client.get("/api/v1/dependencies", params={"operator": "ovhcloud", "role": "third-party"})
    assert pages_.status_code == 200  # a dependency role like the others (it was a 422)
    runs = client.get("/api/v1/runs").json()
    assert [r["run_id"] for r in runs] == world.run_ids and not any(r["on_demand"] for r in runs)
    trend = client.get("/api/v1/history").json()
    assert [p["run_id"] for p in trend] == world.run_ids
    before, after = (p["values"]["mailboxes-eu-control"] for p in trend)
    assert after > before  # the bodies that left Google


def test_scan_tokens_guard_and_rate_limit(world: WebWorld) -> None:
    from souverain.store import Store

    token = new_token()
    Store(world.store_path).add_api_token("test", hash_token(token), 2)
    with Server(make_app(world, resolver="127.0.0.1:9")) as running, httpx.Client(base_url=running.url) as c:
        auth = {"Authorization": f"Bearer {token}"}
        refused = assert_error(c.post("/api/v1/scans", json={"target": "127.0.0.1"}, headers=auth), 422, "IP")
        assert refused["details"] == {"target": "127.0.0.1", "refused": True}
        assert_error(c.post("/api/v1/scans", json={"target": "unknown-body.fr"}, headers=auth), 404, "known")
        limited = c.post("/api/v1/scans", json={"target": "127.0.0.1"}, headers=auth)
        assert_error(limited, 429, "rate limit")
        assert int(limited.headers["Retry-After"]) >= 1


def test_anonymous_rate_limit(world: WebWorld) -> None:
    with Server(make_app(world, api_per_minute=3)) as running, httpx.Client(base_url=running.url) as c:
        statuses = [c.get("/api/v1/runs").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert_error(c.get("/api/v1/runs"), 429)
