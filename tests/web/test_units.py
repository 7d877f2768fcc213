"""Pure parts of the web package: SSRF classifier, passwords, tokens, CSRF, rate limits, catalogue, map."""

from __future__ import annotations

import csv
import ipaddress
from importlib import resources

import pytest

from souverain.web.geo.build_map import parse_path
from souverain.web.i18n import LANGS, Translator, catalogue
from souverain.web.render import geometry
from souverain.web.security import Csrf, RateLimiter, hash_password, hash_token, new_token, verify_password
from souverain.web.ssrf import TargetRefused, address_problem, check_target, name_problem

REFUSED = {
    "127.0.0.1": "loopback",
    "127.53.0.53": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "172.31.255.255": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",
    "100.64.0.1": "CGNAT",
    "100.127.255.254": "CGNAT",
    "0.0.0.0": "this network",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.10": "documentation",
    "198.51.100.7": "documentation",
    "203.0.113.9": "documentation",
    "198.18.0.1": "benchmarking",
    "192.0.0.8": "IETF",
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::1": "unique-local",
    "fd12:3456::1": "unique-local",
    "ff02::1": "multicast",
    "2001:db8::1": "documentation",
    "fec0::1": "site-local",
    "::ffff:127.0.0.1": "embeds 127.0.0.1",
    "::ffff:10.0.0.1": "embeds 10.0.0.1",
    "::ffff:169.254.169.254": "embeds 169.254.169.254",
    "2002:7f00:1::": "embeds 127.0.0.1",
    "64:ff9b::a00:1": "embeds 10.0.0.1",
    "::7f00:1": "embeds 127.0.0.1",
}
ALLOWED = (
    "8.8.8.8",
    "1.1.1.1",
    "185.15.58.224",
    "2a00:1450:4007:80f::200e",
    "::ffff:8.8.8.8",
    "2606:4700:4700::1111",
)


@pytest.mark.parametrize(("address", "why"), sorted(REFUSED.items()))
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None, address
    assert why.lower() in problem.lower() or (why == "reserved" and problem), (address, problem)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_names_refused_without_resolving() -> None:
    for name in (
        "127.0.0.1",
        "[::1]",
        "localhost",
        "db.localhost",
        "printer.local",
        "intranet",
        "svc.internal",
        "x.home.arpa",
        "site.test",
        "1.0.0.127.in-addr.arpa",
    ):
        assert name_problem(name), name
    assert name_problem("mairie.fr") is None
    from souverain.net import NetConfig

    with pytest.raises(TargetRefused, match="IP address"):
        check_target("10.0.0.1", NetConfig(resolver="127.0.0.1:9"), lab=True)
    with pytest.raises(TargetRefused, match="special-use"):
        check_target("router.local", NetConfig(resolver="127.0.0.1:9"))
    with pytest.raises(TargetRefused, match=r"invalid label|not a bare"):
        check_target("http://x.fr/", NetConfig(resolver="127.0.0.1:9"))


def test_passwords_tokens_csrf() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("wrong horse battery", stored)
    assert not verify_password("x", "not-a-hash")
    assert hash_password("same") != hash_password("same")  # salted
    token = new_token()
    assert token.startswith("sv_") and len(token) > 40 and new_token() != token
    assert hash_token(token) == hash_token(token) and len(hash_token(token)) == 64
    csrf = Csrf("secret")
    value = csrf.token("anon")
    assert csrf.valid(value, "anon")
    assert not csrf.valid(value, "someone-else")
    assert not csrf.valid(value + "x", "anon")
    assert not Csrf("other-secret").valid(value, "anon")
    assert not csrf.valid(None, "anon")


def test_token_bucket() -> None:
    limiter = RateLimiter()
    assert [limiter.take("k", 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("k", 3)
    assert 0 < wait <= 20.0
    assert limiter.take("other", 3) == 0.0
    limiter.buckets["k"].at -= 20.0  # twenty seconds later: one token back (3 per minute)
    assert limiter.take("k", 3) == 0.0
    assert limiter.take("k", 3) > 0


def test_catalogue_has_both_languages() -> None:
    data = catalogue()
    for key, entry in data.items():
        if key == "labels":
            continue
        assert set(entry) == set(LANGS), key
        assert all(str(v).strip() for v in entry.values()), key
    for group, codes in data["labels"].items():
        for code, entry in codes.items():
            assert set(entry) == set(LANGS), (group, code)
    fr, en = Translator("fr"), Translator("en")
    assert fr("nav_overview") == "Vue nationale" and en("nav_overview") == "National overview"
    assert en("search_results", n=3) == "3 result(s)"
    assert fr.label("level", "european") == "européen" and en.label("role", "mailbox") == "mailboxes"
    with pytest.raises(ValueError, match="language 'de'"):
        Translator("de")
    # every code a page or the report may name has a name in both languages, not its code
    from souverain.kb.model import DEPENDENCY_ROLES

    assert set(DEPENDENCY_ROLES) <= set(data["labels"]["role"])
    assert fr.label("role", "analytics") == "mesure d'audience"


def test_report_catalogue_has_both_languages() -> None:
    """The static report's own texts: both languages everywhere, and the same placeholders in both."""
    import string

    from souverain.report.texts import ReportText
    from souverain.web.i18n import catalogue

    def entries(node: dict[str, object], path: str = "") -> list[tuple[str, dict[str, str]]]:
        out: list[tuple[str, dict[str, str]]] = []
        for key, value in node.items():
            assert isinstance(value, dict), f"{path}{key}"
            if set(value) == set(LANGS):
                out.append((f"{path}{key}", {k: str(v) for k, v in value.items()}))
            else:
                out.extend(entries(value, f"{path}{key}."))
        return out

    found = entries(catalogue("souverain.report"))
    assert len(found) > 80
    for key, texts in found:
        fields = {
            lang: {f for _, f, _, _ in string.Formatter().parse(text) if f} for lang, text in texts.items()
        }
        assert fields["fr"] == fields["en"] and all(t.strip() for t in texts.values()), key
    fr = ReportText("fr")
    assert fr("n_domains", n=3) == "3 domaines" and fr("history") == "Historique"  # its own, then the web's
    assert fr.status("timeout") == "délai dépassé" and fr.pick("domain_role", "mail") == "messagerie"


def test_map_has_every_departement_overseas_included() -> None:
    text = resources.files("souverain.data").joinpath("departements.csv").read_text(encoding="utf-8")
    codes = {r["code"] for r in csv.DictReader(text.splitlines())}
    geo = geometry()
    assert {d["code"] for d in geo["departements"]} == codes
    assert {"971", "972", "973", "974", "976", "2A", "2B"} <= codes
    assert [i["code"] for i in geo["insets"]] == ["971", "972", "973", "974", "976"]
    for dep in geo["departements"]:
        assert dep["d"].startswith("M") and dep["d"].endswith("Z") and len(dep["d"]) > 40, dep["code"]
    width = float(geo["viewBox"].split()[2])
    for inset in geo["insets"]:
        assert inset["x"] + inset["w"] <= width


def test_path_parser() -> None:
    rings = parse_path("m 10,10 5,0 0,5 z M 0 0 L 2 0 L 2 2 Z m 1,1 c 1,1 2,2 3,3 h 2 v -1 z")
    assert rings[0] == [(10.0, 10.0), (15.0, 10.0), (15.0, 15.0)]
    assert rings[1] == [(0.0, 0.0), (2.0, 0.0), (2.0, 2.0)]
    assert rings[2] == [(1.0, 1.0), (4.0, 4.0), (6.0, 4.0), (6.0, 3.0)]
    assert parse_path("M1e1,2.5e-1 l -1e1,0 z") == [[(10.0, 0.25), (0.0, 0.25)]]
    with pytest.raises(ValueError, match="starts with a number"):
        parse_path("1 2 3")


def test_every_level_reason_of_the_assessment_reads_in_french() -> None:
    """Each form of ``LevelResult.why`` written by the assessment has a French rendering (and English pages
    show it as stored)."""
    import inspect
    import re as _re

    from souverain.assessment import assess, levels
    from souverain.web.i18n import Translator

    fr, en = Translator("fr"), Translator("en")
    samples = {
        "no operator shown by the evidence": "aucun opérateur visible dans les observations",
        "operator reached by us-cloud-act, us-fisa-702":
            "opérateur soumis à US CLOUD Act, US FISA section 702",
        "infrastructure reached by cn-nil": "infrastructure soumise à PRC National Intelligence Law",
        "operator controlled from US": "opérateur contrôlé depuis US",
        "infrastructure controlled from CN": "infrastructure contrôlée depuis CN",
        "technology licensed from microsoft (outside the European area)":
            "technologie sous licence de microsoft (hors de l'espace européen)",
        "declared on ovhcloud, whose offer o1 is qualified":
            "déclaré chez ovhcloud, dont l'offre o1 est qualifiée",
        "run by the organisation itself on ovhcloud": "exploité par l'organisme lui-même sur ovhcloud",
        "run by the organisation itself": "exploité par l'organisme lui-même",
        "controlled from the European area": "contrôlé depuis l'espace européen",
        "the service's role or domain is not declared": "le rôle ou le domaine du service n'est pas déclaré",
        "no observed dependency for the service": "aucune dépendance observée pour ce service",
    }  # fmt: skip
    for english, french in samples.items():
        assert fr.why(english) == french
        assert en.why(english) == english.replace(
            "us-cloud-act, us-fisa-702", "US CLOUD Act, US FISA section 702"
        ).replace("cn-nil", "PRC National Intelligence Law")  # laws by their names, not their ids
    assert en.why("run by the organisation itself on us-cloud-act-hosting") == (
        "run by the organisation itself on us-cloud-act-hosting"  # an entity id that starts like a law's
    )
    # every literal reason in the assessment's source is one of the sampled forms (catches a new reason)
    source = inspect.getsource(levels) + inspect.getsource(assess)
    literals = _re.findall(r'LevelResult\(\s*"[a-z-]+",\s*f?"([^"{]+)', source)
    assert literals and all(any(s.startswith(lit.strip()) for s in samples) for lit in literals), literals
