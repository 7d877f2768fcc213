"""The pages in a real browser (Debian's Chromium driven by Playwright; never downloaded): overview, map click
to a département, organisation page, language switch, search, correction form with operator review. Every
request of every page must go to the test server; screenshots go to $SOUVERAIN_SCREENSHOTS (default
var/screenshots/) for review."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from souverain.web.security import hash_password

from .conftest import Server, WebWorld

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(
    os.environ.get("SOUVERAIN_SCREENSHOTS", Path(__file__).resolve().parents[2] / "var" / "screenshots")
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (/usr/bin/chromium)")


@pytest.fixture(scope="module")
def browser_page(server: Server, world: WebWorld) -> Iterator[tuple[Any, list[str]]]:
    from playwright.sync_api import sync_playwright

    from souverain.store import Store

    Store(world.store_path).add_operator("reviewer", hash_password("a long test password"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.set_default_timeout(10_000)
        yield page, requests
        context.close()
        browser.close()
    outside = [u for u in requests if urlsplit(u).netloc != f"127.0.0.1:{server.port}"]
    assert not outside, f"pages requested URLs outside the server: {outside[:5]}"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"web-{name}.png"), full_page=True)


def only_local(requests: list[str], server: Server) -> None:
    outside = [u for u in requests if urlsplit(u).netloc != f"127.0.0.1:{server.port}"]
    assert not outside, outside


def test_overview_and_map_click(browser_page: tuple[Any, list[str]], server: Server, world: WebWorld) -> None:
    page, requests = browser_page
    response = page.goto(server.url + "/")
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").inner_text() == "Vue nationale"
    assert page.locator("#fig-orgs").inner_text() == str(len(world.sirens))
    for landmark in ("header", "nav", "main", "footer"):
        assert page.locator(landmark).count() >= 1
    martinique = page.locator('svg.map a[data-code="972"]')
    label = martinique.get_attribute("aria-label")
    assert label.startswith("972 Martinique : ") and re.search(r"\d", label), label
    assert page.locator("svg.map a.dep").count() == 101
    shot(page, "overview")
    page.select_option("#indicator", "dmarc-reject")
    page.click("form.inline-form button")
    page.wait_for_url("**/?indicator=dmarc-reject")
    assert "DMARC" in page.locator("#map-h").inner_text()
    shot(page, "overview-dmarc")
    page.locator('svg.map a[data-code="972"]').click()
    page.wait_for_url("**/departement/972")
    assert "Martinique" in page.locator("h1").inner_text()
    assert page.locator("#dept-orgs").inner_text() == "1"
    assert page.get_by_role("link", name="Commune de Fort-de-France").count() == 1
    shot(page, "departement-972")
    only_local(requests, server)


def test_map_is_keyboard_usable(browser_page: tuple[Any, list[str]], server: Server) -> None:
    page, _ = browser_page
    page.goto(server.url + "/")
    page.locator('svg.map a[data-code="69"]').focus()
    focused = page.evaluate("document.activeElement.getAttribute('data-code')")
    assert focused == "69"
    page.keyboard.press("Enter")
    page.wait_for_url("**/departement/69")
    assert "Rhône" in page.locator("h1").inner_text()


def test_organisation_page_and_language_switch(
    browser_page: tuple[Any, list[str]], server: Server, world: WebWorld
) -> None:
    page, requests = browser_page
    siren = world.sirens[2]
    page.goto(f"{server.url}/org/{siren}")
    assert page.locator("h1").inner_text() == "Commune de Lyon"
    assert "Dépendances par rôle" in page.content()
    assert page.locator("svg.diagram title").count() == 1
    assert page.get_by_role("link", name="OVHcloud").count() >= 1
    assert "changement d'opérateur" in page.locator("#hist-h + h3 + ol + h3 + p").inner_text()
    shot(page, "org-fr")
    page.click("#lang-switch")
    page.wait_for_url(f"**/en/org/{siren}")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Dependencies by role" in page.content()
    assert page.get_by_role("link", name="Search").get_attribute("href") == "/en/search"
    shot(page, "org-en")
    page.click("#lang-switch")
    page.wait_for_url(f"**/org/{siren}")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert not page.context.cookies(), "anonymous visitors must get no cookie"
    only_local(requests, server)


def test_search(browser_page: tuple[Any, list[str]], server: Server, world: WebWorld) -> None:
    page, requests = browser_page
    page.goto(server.url + "/search")
    page.fill("#q", "lyon")
    from playwright.sync_api import expect

    expect(page.locator("#result-count")).to_have_text(re.compile(r"^2 "))
    names = page.locator("#results tbody th a").all_inner_texts()
    assert sorted(names) == ["Commune de Lyon", "Métropole de Lyon"]
    shot(page, "search")
    page.fill("#q", world.domains[world.sirens[8]])
    expect(page.locator("#result-count")).to_have_text(re.compile(r"^1 "))
    assert page.locator("#results tbody th a").all_inner_texts() == ["Commune de Mamoudzou"]
    page.locator("#results tbody th a").click()
    page.wait_for_url(f"**/org/{world.sirens[8]}")
    only_local(requests, server)


def test_correction_then_operator_review(
    browser_page: tuple[Any, list[str]], server: Server, world: WebWorld
) -> None:
    page, requests = browser_page
    siren = world.sirens[4]
    page.goto(f"{server.url}/org/{siren}")
    page.fill("#c-name", "Jeanne Martin, DSI")
    page.fill("#c-email", "dsi@paris.example.fr")
    page.select_option("#c-topic", "dependency")
    page.fill("#c-message", "Nos boîtes aux lettres ne sont plus chez ce fournisseur depuis juin.")
    page.click("#correction-form button[type=submit]")
    page.wait_for_selector("#correction-sent")
    assert page.locator("#pending-notice").count() == 1
    article = page.locator("article.correction.status-pending")
    assert "en attente" in article.inner_text()
    assert "Nos boîtes aux lettres" in article.inner_text()
    assert not page.context.cookies()
    shot(page, "correction-pending")

    page.goto(server.url + "/signin")
    page.fill("#username", "reviewer")
    page.fill("#password", "not the password")
    page.click("#signin-form button")
    assert "incorrect" in page.locator("p[role=alert]").inner_text()
    page.fill("#username", "reviewer")
    page.fill("#password", "a long test password")
    page.click("#signin-form button")
    page.wait_for_url("**/review")
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["souverain_operator"]
    assert cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Lax"
    review = page.locator("article.correction").first
    assert "Nos boîtes aux lettres" in review.inner_text()
    review.locator("textarea").fill("Vérifié auprès de la DSI : migration confirmée.")
    shot(page, "review")
    review.locator("button[value=accept]").click()
    page.wait_for_url("**/review")
    assert "Aucune correction en attente" in page.content()
    page.goto(f"{server.url}/org/{siren}#corrections")
    accepted = page.locator("article.correction.status-accepted")
    assert accepted.count() == 1
    text = accepted.inner_text()
    assert "acceptée" in text and "reviewer" in text and "migration confirmée" in text
    assert page.locator("#pending-notice").count() == 0
    shot(page, "correction-accepted")
    page.locator("header form button").click()  # sign out
    page.wait_for_url(server.url + "/")
    only_local(requests, server)


def test_forged_form_is_refused(server: Server, world: WebWorld) -> None:
    import httpx

    siren = world.sirens[0]
    data = {"contact_name": "X Y", "contact_email": "x@y.fr", "topic": "other", "message": "0123456789 abc"}
    response = httpx.post(f"{server.url}/org/{siren}/corrections", data=data)
    assert response.status_code == 403
    assert "formulaire a expiré" in response.text
