import datetime as dt
import json
import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from souverain.attribution.run import attribute_run
from souverain.evidence import Evidence, Status
from souverain.kb.load import load_kb
from souverain.kb.netdata import NetworkData
from souverain.portfolio import Domain, Organisation, Territory
from souverain.report import build_report
from souverain.store import Store

INJECTION = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
ORG_CONTACTS = ("mairie.a@wanadoo.fr", "dgs@a.fr")
ORG = Organisation(
    "213700016",
    f"Commune {INJECTION}",
    "commune",
    Territory("37001", "37", "24"),
    (Domain("a.fr", frozenset({"web", "mail"})), Domain("b.fr", frozenset({"web"}))),
    ORG_CONTACTS,
)


def make_run(tmp_path: Path) -> tuple[Store, int]:
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", [ORG], {})
    a, b = store.targets(run_id)
    store.record_targets(
        [
            (
                run_id,
                a.id,
                "ok",
                0.0,
                12.0,
                [
                    Evidence(
                        "dns",
                        "a.fr",
                        Status.OK,
                        {
                            "queries": {
                                "A": {"rrs": ["127.16.0.1"]},
                                "TXT": {"rrs": [INJECTION, "x" * 70_000]},
                                "SOA": {"ad": True},
                            }
                        },
                    ),
                    Evidence(
                        "page",
                        "a.fr",
                        Status.OK,
                        {
                            "title": INJECTION,
                            "third_party": {"www.googletagmanager.com": {"kinds": ["script"]}},
                        },
                    ),
                ],
            ),
            (
                run_id,
                b.id,
                "timeout",
                0.0,
                9000.0,
                [Evidence("dns", "b.fr", Status.TIMEOUT, error="resolver timeout")],
            ),
        ]
    )
    store.set_run_status(run_id, "completed")
    return store, run_id


def test_report_files_and_counts(tmp_path: Path) -> None:
    store, run_id = make_run(tmp_path)
    out = tmp_path / "report"
    kb = load_kb()
    attribute_run(store, run_id, kb, NetworkData(), on=dt.date(2026, 6, 1))
    result = build_report(store, run_id, out, kb=kb)
    assert (result.organisations, result.targets) == (1, 2)
    run = json.loads((out / "run.json").read_text())
    assert run["run_id"] == run_id and run["counts"] == {"ok": 1, "timeout": 1}
    assert run["probe_counts"]["dns"] == {"ok": 1, "timeout": 1}
    org = json.loads((out / "orgs" / "213700016.json").read_text())
    assert [d["domain"] for d in org["domains"]] == ["a.fr", "b.fr"]
    assert org["shared_mail_addresses"] == {"mairie.a@wanadoo.fr": "orange"}
    html = (out / "orgs" / "213700016.html").read_text()
    assert "fournisseur de messagerie partagé : orange" in html  # pages in French by default
    deps = {(d["scope"], d["role"], d["subject"]): d for d in org["dependencies"]}
    gtm = deps[("page", "analytics", "www.googletagmanager.com")]
    assert gtm["operator"]["id"] == "google" and gtm["operator"]["country"] == "US"
    assert {e["law"] for e in gtm["exposures"]} >= {"us-cloud-act"}
    assert gtm["why"][0]["signal"] == "host" and gtm["why"][0]["source"].startswith("http")
    assert deps[("contact", "mailbox", "mairie.a@wanadoo.fr")]["operator"]["id"] == "orange"
    assert org["attribution"]["kb_version"] == kb.version
    assert "US CLOUD Act" in html
    assert run["dependencies_by_role"]["third-party: analytics"] == {"google": 1}  # loaded by a page
    assert "analytics" not in run["dependencies_by_role"]
    assert org["domains"][0]["summary"]["third_parties"] == {"www.googletagmanager.com": "script"}
    assert org["domains"][0]["evidence"][0]["data"]["queries"]["TXT"]["rrs"][1] == "x" * 70_000
    assert (out / "orgs" / "213700016.html").exists() and (out / "index.html").exists()


def test_report_pages_in_french_or_english_over_the_same_json(tmp_path: Path) -> None:
    store, run_id = make_run(tmp_path)
    kb = load_kb()
    attribute_run(store, run_id, kb, NetworkData(), on=dt.date(2026, 6, 1))
    fr, en = tmp_path / "fr", tmp_path / "en"
    build_report(store, run_id, fr, kb=kb)
    build_report(store, run_id, en, kb=kb, lang="en")
    for name in ("run.json", "orgs/213700016.json"):  # data, not pages: the same bytes in both
        assert (fr / name).read_bytes() == (en / name).read_bytes(), name
    org = json.loads((fr / "orgs" / "213700016.json").read_text())
    assert org["domains"][1]["summary"]["dnssec"] == "timeout: resolver timeout"  # codes and English
    pages = {
        lang: {
            name: HTMLParser((folder / name).read_text()) for name in ("index.html", "orgs/213700016.html")
        }
        for lang, folder in (("fr", fr), ("en", en))
    }
    for lang, page in pages.items():
        root = page["index.html"].css_first("html")
        assert root is not None and root.attributes["lang"] == lang
    fr_index, en_index = pages["fr"]["index.html"].text(), pages["en"]["index.html"].text()
    assert "Campagne" in fr_index and "Domaines par statut" in fr_index and "délai dépassé" in fr_index
    assert "Run " in en_index and "Domains by status" in en_index and "délai" not in en_index
    assert (
        "validé (AD)" in fr_index and "validated (AD)" in en_index
    )  # a summary cell, in the page's language
    fr_org, en_org = pages["fr"]["orgs/213700016.html"].text(), pages["en"]["orgs/213700016.html"].text()
    assert "tiers" not in en_org and "Dépendances" in fr_org and "Dependencies" in en_org
    assert "boîtes aux lettres" in fr_org and "mailboxes" in en_org  # role names, as the dashboard has them
    assert "délai dépassé : resolver timeout" in fr_org  # a status named, the observed error kept as it is
    from souverain.report.texts import ReportText

    assert ReportText("fr").pick("confidence_level", "none") == "aucune"  # an undetermined dependency's


def test_observed_text_is_escaped_and_nothing_loads_from_outside(tmp_path: Path) -> None:
    store, run_id = make_run(tmp_path)
    out = tmp_path / "report"
    build_report(store, run_id, out)
    for page in [out / "index.html", out / "orgs" / "213700016.html"]:
        html = page.read_text()
        assert "<script" not in html and "<img" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        tree = HTMLParser(html)
        assert not tree.css("script") and not tree.css("img") and not tree.css("iframe")
        for node in tree.css("[src], link[href]"):
            ref = node.attributes.get("src") or node.attributes.get("href") or ""
            assert not re.match(r"^(https?:)?//", ref), ref
        assert "default-src 'none'" in html
    org_html = (out / "orgs" / "213700016.html").read_text()
    assert "caractères de plus dans le fichier JSON" in org_html and len(org_html) < 60_000


def test_report_carries_the_procurement_shares(tmp_path: Path) -> None:
    from souverain.procurement import ingest, shares
    from souverain.procurement.generator import contracts
    from souverain.procurement.writers import write_flat

    store, run_id = make_run(tmp_path)
    decp = tmp_path / "decp.csv"
    write_flat(decp, contracts(300, seed=3))
    db = tmp_path / "procurement.duckdb"
    ingest(db, [decp])
    out = tmp_path / "report"
    build_report(store, run_id, out, procurement_db=db)
    run_doc = json.loads((out / "run.json").read_text())
    proc = run_doc["procurement"]
    assert (out / proc["report"]).is_file() and (out / "procurement" / "procurement.json").is_file()
    for row in shares(db, by=("year",)):
        assert (
            proc["years"][str(row["year"])][row["view"]]["share_european_contracts"]
            == (row["share_european_contracts"])
        )
    assert proc["trajectory_verified"] is False  # no official text found: shown as unverified
    index = (out / "index.html").read_text()
    assert 'href="procurement/index.html"' in index and "Société mère ultime" in index


def test_report_marks_domains_scanned_by_an_overloaded_scanner(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", [ORG], {})
    a, b = store.targets(run_id)
    store.record_targets(
        [
            (run_id, a.id, "ok", 0.0, 12.0, [Evidence("dns", "a.fr", Status.OK)], 20.0, 0.0),
            (run_id, b.id, "timeout", 0.0, 9000.0, [Evidence("dns", "b.fr", Status.TIMEOUT)], 80.0, 2400.0),
        ]
    )
    out = tmp_path / "report"
    build_report(store, run_id, out, lang="en")
    run = json.loads((out / "run.json").read_text())
    assert run["scanner_load"]["busy_targets"] == 1
    assert run["scanner_load"]["busy_by_status"] == {"timeout": 1}
    org = json.loads((out / "orgs" / "213700016.json").read_text())
    assert [(d["domain"], d["scanner_busy"], d["dns_queue_ms"]) for d in org["domains"]] == [
        ("a.fr", False, 0.0),
        ("b.fr", True, 2400.0),
    ]
    page = HTMLParser((out / "orgs" / "213700016.html").read_text())
    notes = [n.text() for n in page.css("section.domain p.note")]
    assert len(notes) == 1 and "queued 2.40 s" in notes[0] and "may be the scanner" in notes[0]
    index = HTMLParser((out / "index.html").read_text()).css_first("#scanner-load")
    assert index is not None and "overloaded while 1 of these domains" in index.text()

    # without measures (imported evidence, runs recorded before revision 0006) the report says nothing
    other = store.create_run("p.yaml", [ORG], {})
    c, d = store.targets(other)
    store.record_targets([(other, t.id, "ok", 0.0, 1.0, []) for t in (c, d)])
    build_report(store, other, tmp_path / "r2")
    assert HTMLParser((tmp_path / "r2" / "index.html").read_text()).css_first("#scanner-load") is None


def test_a_shared_domain_shows_each_body_its_own_roles(tmp_path: Path) -> None:
    """A domain two bodies list is scanned once, for the roles of both; each body's page keeps its own."""
    other = Organisation(
        "200000016", "EPCI B", "epci", Territory(None, "37", "24"), (Domain("a.fr", frozenset({"mail"})),)
    )
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", [ORG, other], {})
    store.record_targets([(run_id, t.id, "ok", 0.0, 1.0, []) for t in store.targets(run_id)])
    assert {t.domain: t.roles for t in store.targets(run_id)}["a.fr"] == {"web", "mail"}  # scanned for both
    out = tmp_path / "report"
    build_report(store, run_id, out)
    roles = {
        siren: {
            d["domain"]: d["roles"]
            for d in json.loads((out / "orgs" / f"{siren}.json").read_text())["domains"]
        }
        for siren in ("213700016", "200000016")
    }
    assert roles == {"213700016": {"a.fr": ["mail", "web"], "b.fr": ["web"]}, "200000016": {"a.fr": ["mail"]}}


def test_a_body_has_the_dependencies_of_the_roles_it_declares(tmp_path: Path) -> None:
    """A domain is attributed once for every body that lists it; a body that lists it for mail only got its
    web hosting and the third parties its pages load too (and for the web only, its mailbox)."""
    from souverain.attribution.engine import body_dependencies

    mail_only = Organisation(
        "200000016", "EPCI B", "epci", Territory(None, "37", "24"), (Domain("a.fr", frozenset({"mail"})),)
    )
    rows = {
        "a.fr": [
            {"scope": "mail", "role": "mailbox"},
            {"scope": "web", "role": "web-hosting"},
            {"scope": "page", "role": "analytics"},
            {"scope": "tls", "role": "certificate-authority"},
            {"scope": "dns", "role": "dns-hosting"},
        ]
    }
    own = [{"scope": "contact", "role": "mailbox"}]
    roles = {
        name: [d["role"] + ":" + d["scope"] for d in body_dependencies(domains, rows, own)]
        for name, domains in (
            ("mail", [Domain("a.fr", frozenset({"mail"}))]),
            ("web", [Domain("a.fr", frozenset({"web"}))]),
            ("other", [Domain("a.fr", frozenset({"other"}))]),
        )
    }
    assert roles == {
        "mail": ["mailbox:mail", "dns-hosting:dns", "mailbox:contact"],
        "web": [
            "web-hosting:web",
            "analytics:page",
            "certificate-authority:tls",
            "dns-hosting:dns",
            "mailbox:contact",
        ],
        "other": ["dns-hosting:dns", "mailbox:contact"],
    }
    # through the report: the Google Tag Manager that a.fr's page loads is ORG's (web), not EPCI B's (mail)
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", [ORG, mail_only], {})
    page = Evidence(
        "page", "a.fr", Status.OK, {"third_party": {"www.googletagmanager.com": {"kinds": ["script"]}}}
    )
    store.record_targets(
        [(run_id, t.id, "ok", 0.0, 1.0, [page] if t.domain == "a.fr" else []) for t in store.targets(run_id)]
    )
    attribute_run(store, run_id, load_kb(), NetworkData(), on=dt.date(2026, 6, 1))
    build_report(store, run_id, tmp_path / "report")
    subjects = {
        siren: {
            d["subject"]
            for d in json.loads((tmp_path / "report" / "orgs" / f"{siren}.json").read_text())["dependencies"]
        }
        for siren in ("213700016", "200000016")
    }
    assert "www.googletagmanager.com" in subjects["213700016"]
    assert "www.googletagmanager.com" not in subjects["200000016"]
    # the index shows each body the facts of its roles: the page's third parties for ORG, none for EPCI B
    rows = HTMLParser((tmp_path / "report" / "index.html").read_text()).css(
        "#orgs ~ table tbody tr, table tr"
    )
    cells = {r.css_first("td").text(): [td.text() for td in r.css("td")] for r in rows if r.css_first("td")}
    third = {name.split("\n")[0]: row[-1] for name, row in cells.items() if "a.fr" in " ".join(row)}
    assert any(v == "1" for v in third.values()) and any(v == "—" for v in third.values()), third


def test_a_report_written_over_another_leaves_no_page_of_it(tmp_path: Path) -> None:
    store, run_id = make_run(tmp_path)
    out = tmp_path / "report"
    (out / "orgs").mkdir(parents=True)
    for name in ("200000016.json", "200000016.html", "notes.txt"):  # an earlier report's page; a user's file
        (out / "orgs" / name).write_text("old")
    build_report(store, run_id, out)
    assert sorted(p.name for p in (out / "orgs").iterdir()) == [
        "213700016.html",
        "213700016.json",
        "notes.txt",
    ]


def test_a_place_that_cannot_hold_the_report_is_named_and_lists_say_what_they_leave_out(
    tmp_path: Path,
) -> None:
    """A folder named index.html in --out was an internal error (IsADirectoryError, exit 70); a file named
    orgs was reported as the --out folder's fault; the index showed two MX of five with nothing to say so."""
    import pytest

    from souverain.errors import InputError

    store, run_id = make_run(tmp_path)
    taken = tmp_path / "taken"
    (taken / "index.html").mkdir(parents=True)
    with pytest.raises(InputError, match=r"cannot write '.*taken/index.html': Is a directory"):
        build_report(store, run_id, taken)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "orgs").write_text("a file")
    with pytest.raises(InputError, match=r"cannot create '.*blocked/orgs': File exists"):
        build_report(store, run_id, blocked)

    many = Store(tmp_path / "mx.db")
    other = many.create_run("p.yaml", [ORG], {})
    mx = [{"host": f"mx{i}.a.fr"} for i in range(1, 6)]
    many.record_targets(
        [
            (other, t.id, "ok", 0.0, 1.0, [Evidence("dns", t.domain, Status.OK, {"mx_hosts": mx})])
            for t in many.targets(other)
        ]
    )
    build_report(many, other, tmp_path / "r")
    cells = [td.text() for td in HTMLParser((tmp_path / "r" / "index.html").read_text()).css("td")]
    assert "mx1.a.fr, mx2.a.fr (+3 : page de l'organisme)" in cells
