"""Pages over HTTP: security headers, no reference to another host, errors, open-data publication."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from .conftest import Server, WebWorld

URL_ATTR = re.compile(r"""(?:src|href|action|srcset|poster|data)\s*=\s*["']([^"']+)["']""", re.I)


@pytest.fixture(scope="module")
def client(server: Server) -> Any:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def pages(world: WebWorld) -> list[str]:
    siren = world.sirens[0]
    return [
        "/",
        "/en/",
        "/?indicator=mailboxes-eu-control",
        "/departement/972",
        f"/org/{siren}",
        f"/en/org/{siren}",
        "/providers",
        "/provider/microsoft",
        "/provider/aws?role=web-hosting",
        "/search?q=commune",
        "/rankings?order=best",
        "/opendata",
        "/procurement",
        "/en/procurement",
        "/signin",
        "/api",
        "/en/rankings",
    ]


def test_pages_reference_only_the_server(client: httpx.Client, world: WebWorld) -> None:
    for path in pages(world):
        response = client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, path
        assert "set-cookie" not in response.headers, path
        for url in URL_ATTR.findall(response.text):
            assert url.startswith(("/", "#")) and not url.startswith("//"), (path, url)
        assert "<script>" not in response.text and " style=" not in response.text, path


def test_errors_are_pages(client: httpx.Client) -> None:
    response = client.get("/departement/00")
    assert response.status_code == 404 and "département « 00 » : code inconnu" in response.text
    assert "unknown code" in client.get("/en/departement/00").text
    assert client.get("/en/org/123456789").status_code == 404
    assert client.get("/review", follow_redirects=False).status_code == 401
    bad = client.get("/rankings", params={"page": 0})  # pydantic's English text on a French page before
    assert bad.status_code == 422 and "paramètre « page » invalide : au moins 1" in bad.text
    assert (
        "parameter &#39;page&#39; is invalid: a whole number is expected"
        in client.get("/en/rankings", params={"page": "x"}).text
    )


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/rankings?region=zz", "paramètre « region » invalide : code INSEE inconnu « zz »"),
        (
            "/search?q=commune&departement=977",
            "paramètre « departement » invalide : code INSEE inconnu « 977 »",
        ),
        (
            "/rankings?kind=village",
            "paramètre « kind » invalide : valeur inconnue « village » (attendu : commune,",
        ),
        ("/rankings?order=sideways", "paramètre « order » invalide : valeur inconnue « sideways »"),
        ("/?indicator=nope", "paramètre « indicator » invalide : valeur inconnue « nope »"),
        ("/provider/aws?role=bogus", "paramètre « role » invalide : valeur inconnue « bogus »"),
        ("/en/rankings?kind=village", "parameter &#39;kind&#39; is invalid: unknown value &#39;village&#39;"),
        ("/rankings?page=99", "paramètre « page » invalide : au plus 1"),  # was "Page 99 / 1", empty
        ("/departement/972?page=2", "paramètre « page » invalide : au plus 1"),
    ],
)
def test_a_filter_that_matches_nothing_is_an_error(client: httpx.Client, path: str, said: str) -> None:
    """Pages answered a nonsense filter with an empty list (or, for the indicator, silently the score)."""
    response = client.get(path)
    assert response.status_code == 422 and said in response.text, response.text[-600:]


def test_open_data_generated_and_served(client: httpx.Client, world: WebWorld, server: Server) -> None:
    page = client.get("/opendata")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    run_id = world.run_ids[-1]
    generated = client.post(f"/opendata/{run_id}", data={"csrf": token.group(1)}, follow_redirects=True)
    assert generated.status_code == 200, generated.text[:500]
    links = re.findall(rf'href="(/opendata/{run_id}/[^"]+)"', generated.text)
    assert f"/opendata/{run_id}/datapackage.json" in links
    package = client.get(f"/opendata/{run_id}/datapackage.json").json()
    assert package["resources"]
    csv_links = [u for u in links if u.endswith(".csv")]
    assert csv_links
    body = client.get(csv_links[0])
    assert body.status_code == 200 and body.content
    assert client.get(f"/opendata/{run_id}/%2E%2E/%2E%2E/store.db").status_code == 404
    assert client.get(f"/opendata/{run_id}/csv/../../store.db").status_code in (404, 405)
    folders = [p.name for p in (world.home / "opendata").iterdir() if p.name.startswith(f"{run_id}-a")]
    assert len(folders) == 1 and (world.home / "opendata" / folders[0] / "datapackage.json").is_file()


def test_a_refused_correction_says_why_in_the_page_language(client: httpx.Client, world: WebWorld) -> None:
    siren = world.sirens[0]
    token = re.search(r'name="csrf" value="([^"]+)"', client.get(f"/org/{siren}").text)
    assert token is not None
    good = {"contact_name": "X Y", "contact_email": "x@y.fr", "topic": "other", "message": "0123456789 abc"}
    for changed, said in [
        ({"topic": "bogus"}, "paramètre « topic » invalide : valeur inconnue « bogus »"),
        ({"topic": ""}, "paramètre « topic » invalide : manquant"),  # an empty form field is no field
        ({"contact_email": "a b@c.fr"}, "« a b@c.fr » n&#39;est pas une adresse électronique valable"),
        ({"message": "court"}, "paramètre « message » invalide : au moins 10 caractères"),
    ]:
        response = client.post(f"/org/{siren}/corrections", data={**good, **changed, "csrf": token.group(1)})
        assert response.status_code == 422 and said in response.text, (changed, response.text[-500:])


def test_an_organisation_page_marks_a_domain_scanned_by_an_overloaded_scanner(
    client: httpx.Client, world: WebWorld
) -> None:
    """The report said so; the dashboard did not: a time-out there may be the scanner's, not the domain's."""
    import sqlalchemy as sa

    from souverain.store import Store
    from souverain.store.schema import targets

    siren = world.sirens[0]
    store = Store(world.store_path)
    domain = store.organisation(siren).domains[0].name  # type: ignore[union-attr]
    row = (targets.c.run_id == world.run_ids[-1]) & (targets.c.domain == domain)
    with store.engine.begin() as conn:
        before = conn.execute(sa.select(targets.c.loop_lag_ms, targets.c.dns_queue_ms).where(row)).one()
        conn.execute(targets.update().where(row).values(loop_lag_ms=40.0, dns_queue_ms=1250.0))
    try:
        fr = client.get(f"/org/{siren}").text
        en = client.get(f"/en/org/{siren}").text
        others = client.get(f"/org/{world.sirens[1]}").text
    finally:
        with store.engine.begin() as conn:
            conn.execute(targets.update().where(row).values(loop_lag_ms=before[0], dns_queue_ms=before[1]))
        store.close()
    assert f"Le scanner était surchargé pendant la mesure de {domain}" in fr
    assert "questions DNS attendaient 1.25 s en moyenne" in fr
    assert f"The scanner was overloaded while {domain} was scanned" in en
    assert "scanner-busy" not in others


def test_every_link_of_the_provider_pages_answers(client: httpx.Client) -> None:
    """Provider pages linked to their own role and région filters with values the filters refused
    (`role=third-party`, `region=?`): 52 broken links in a lab crawl."""
    listing = client.get("/providers").text
    providers = sorted(set(re.findall(r'href="(/provider/[^"?#]+)"', listing)))
    assert providers
    for path in providers:
        page = client.get(path)
        assert page.status_code == 200, path
        for link in sorted(set(re.findall(r'href="(/provider/[^"#]+\?[^"#]+)"', page.text))):
            target = link.replace("&amp;", "&")
            assert client.get(target).status_code == 200, target


def test_the_findings_heading_counts_as_the_key_figure(client: httpx.Client, world: WebWorld) -> None:
    """The key figure counts failed and partial findings; the list's heading counted the undetermined ones
    too (16 against 17 on a lab body) without saying so."""
    for siren in world.sirens:
        page = client.get(f"/org/{siren}").text
        figure = re.search(r"<div><dt>Constats et remédiations</dt><dd>(\d+)</dd>", page)
        heading = re.search(r'<h2 id="find-h">Constats et remédiations \((\d+)', page)
        assert figure is not None and heading is not None
        assert figure.group(1) == heading.group(1), siren


def test_the_providers_list_filters_by_role_and_region(client: httpx.Client) -> None:
    """The docs said filterable; the page ignored both parameters (same 30 rows for any role)."""
    everyone = set(re.findall(r'href="/provider/([^"?#]+)"', client.get("/providers").text))
    mail = set(re.findall(r'href="/provider/([^"?#]+)"', client.get("/providers?role=mailbox").text))
    assert mail and mail < everyone
    assert "microsoft" in mail and "cloudflare" not in mail
    overseas = set(re.findall(r'href="/provider/([^"?#]+)"', client.get("/providers?region=02").text))
    assert overseas and overseas <= everyone
    assert client.get("/providers?role=foo").status_code == 422


def test_search_takes_a_pasted_address_and_the_start_of_a_siren(
    client: httpx.Client, world: WebWorld
) -> None:
    """`www.example.fr`, `https://example.fr/page` and the first digits of a SIREN found nothing."""
    from souverain.store import Store

    siren = world.sirens[0]
    domain = Store(world.store_path).organisation(siren).domains[0].name  # type: ignore[union-attr]
    for q in (domain, f"www.{domain}", f"https://www.{domain.upper()}/contact?x=1", siren[:5]):
        found = client.get("/search", params={"q": q}).text
        assert f'href="/org/{siren}"' in found, q


def test_a_broad_search_is_paged_and_says_when_it_was_cut(
    client: httpx.Client, world: WebWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search showed at most 50 bodies, counted those, and ignored `page` (the API too)."""
    import souverain.web.data
    import souverain.web.pages

    communes = sorted(n for n in world.names.values() if n.startswith("Commune"))
    assert len(communes) == 6
    monkeypatch.setattr(souverain.web.pages, "PER_PAGE", 4)
    names = []
    for page in (1, 2):
        html = client.get("/search", params={"q": "commune", "page": page}).text
        tree = HTMLParser(html)
        count = tree.css_first("#result-count")
        assert count is not None and count.text().strip() == f"6 résultat(s) · Page {page} / 2"
        names += [a.text() for a in tree.css("table.list th[scope=row] a")]
        assert ('rel="next"' in html) is (page == 1) and "search-capped" not in html
    assert names == sorted(communes, key=str.casefold)  # every one once, by name across the pages
    assert client.get("/search", params={"q": "commune", "page": 3}).status_code == 422
    api = client.get("/api/v1/organisations", params={"q": "commune", "per_page": 4, "page": 2}).json()
    assert api["meta"] == {"page": 2, "per_page": 4, "total": 6, "pages": 2, "capped": False}
    assert [o["name"] for o in api["items"]] == names[4:]
    ordered = client.get("/api/v1/organisations", params={"q": "commune", "order": "-score"})
    assert ordered.status_code == 422 and "a search (q) is in name order" in ordered.text  # was ignored

    monkeypatch.setattr(souverain.web.data, "SEARCH_CANDIDATES", 4)  # an index too large to read whole
    cut = HTMLParser(client.get("/search", params={"q": "commune"}).text).css_first("#search-capped")
    assert cut is not None and "seuls les 4 premiers" in cut.text()
    assert client.get("/api/v1/organisations", params={"q": "commune"}).json()["meta"]["capped"] is True


def test_english_and_french_pages_say_their_own_words(client: httpx.Client, world: WebWorld) -> None:
    """French finding texts carried English details and role codes ("repose sur the organisation itself",
    "mailbox de x.fr : no valid DMARC record"); English pages had French spacing before colons; the
    French API page and 405 pages were English."""
    siren = world.sirens[0]
    fr, en = client.get(f"/org/{siren}").text, client.get(f"/en/org/{siren}").text
    for english in ("no valid DMARC record", "the organisation itself", "evidence missing", "mailbox de "):
        assert english not in fr, english
    assert "Remediation :" not in en and "Remediation:" in en
    assert "JSON by default" not in client.get("/api").text
    refused = client.get(f"/org/{siren}/corrections")
    assert refused.status_code == 405 and "Method Not Allowed" not in refused.text
    assert "méthode non permise" in refused.text
