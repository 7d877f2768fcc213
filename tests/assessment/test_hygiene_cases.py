"""Hygiene checks on crafted evidence, for the cases the lab world does not produce (a weak key, a forbidden
cipher, a missing DKIM…) and for the scoring of categories."""

from __future__ import annotations

from typing import Any

import pytest

from souverain.assessment.document import check_dict
from souverain.assessment.hygiene import category_scores, check_domain
from souverain.errors import InputError
from souverain.evidence import Evidence, Status
from souverain.policy.load import Policy, load_policy
from souverain.probes.spf_tree import effective_all


def tls(
    cipher: str = "TLS_AES_256_GCM_SHA384",
    key: tuple[str, int] = ("EC-secp256r1", 256),
    accepted: dict[str, bool] | None = None,
) -> Evidence:
    ep = {
        "status": "ok",
        "version": "TLSv1.3",
        "cipher": cipher,
        "chain_valid": True,
        "hostname_match": True,
        "chain": [{"key_type": key[0], "key_size": key[1]}],
        "versions": {
            "accepted": accepted or {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}
        },
    }
    return Evidence("tls", "a.fr", Status.OK, {"endpoints": [ep]})


def status(
    policy: Policy, ev: dict[str, Evidence], rule: str, roles: frozenset[str] = frozenset({"web"})
) -> Any:
    return {c["rule"]: c["status"] for c in map(check_dict, check_domain("a.fr", roles, ev, policy))}[rule]


def test_key_sizes(policy: Policy) -> None:
    assert status(policy, {"tls": tls()}, "WEB-CERT-KEY") == "pass"
    assert status(policy, {"tls": tls(key=("RSA", 1024))}, "WEB-CERT-KEY") == "fail"
    assert status(policy, {"tls": tls(key=("RSA", 2048))}, "WEB-CERT-KEY") == "pass"


def test_ciphers_against_the_anssi_baseline(policy: Policy) -> None:
    assert status(policy, {"tls": tls()}, "WEB-TLS-CIPHER") == "pass"
    assert status(policy, {"tls": tls("ECDHE-RSA-AES256-GCM-SHA384")}, "WEB-TLS-CIPHER") == "pass"
    assert status(policy, {"tls": tls("DES-CBC3-SHA")}, "WEB-TLS-CIPHER") == "fail"
    assert status(policy, {"tls": tls("AES256-SHA")}, "WEB-TLS-CIPHER") == "fail"  # no forward secrecy


def test_versions(policy: Policy) -> None:
    old = {"TLSv1": True, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": False}
    assert status(policy, {"tls": tls(accepted=old)}, "WEB-TLS-VERSIONS") == "fail"


def test_no_https_fails_once(policy: Policy) -> None:
    refused = Evidence("tls", "a.fr", Status.REFUSED, {"endpoints": [{"status": "refused"}]}, error="refused")
    http = Evidence("http", "a.fr", Status.OK, {"http_redirects_to_https": False, "headers": {}})
    checks = {
        c["rule"]: c["status"]
        for c in map(
            check_dict, check_domain("a.fr", frozenset({"web"}), {"tls": refused, "http": http}, policy)
        )
    }
    assert checks["WEB-HTTPS"] == "fail"
    assert checks["WEB-CERT-KEY"] == checks["WEB-TLS-VERSIONS"] == "not-applicable"
    assert checks["WEB-HTTPS-REDIRECT"] == "fail"


def test_hsts_counts_only_over_https(policy: Policy) -> None:
    """A site without HTTPS that sends Strict-Transport-Security over http:// passed WEB-HSTS (the audit's
    boisange.fr); browsers ignore that header (RFC 6797 §8.1)."""
    hsts = {"raw": "max-age=31536000", "max_age": 31536000, "valid": True}
    # with HTTPS answering, the https:// page (not fetched: http:// does not redirect) may send it: unknown
    for final, expected in (("https://a.fr/", "pass"), ("http://a.fr/", "unknown")):
        data = {
            "final_url": final,
            "http_redirects_to_https": final.startswith("https"),
            "headers": {"hsts": hsts},
        }
        http = Evidence("http", "a.fr", Status.OK, data)
        assert status(policy, {"tls": tls(), "http": http}, "WEB-HSTS") == expected, final
    # nor is its absence over http:// a fact about the https:// page (it failed: the audit's calvados.fr)
    silent = Evidence("http", "a.fr", Status.OK, {"final_url": "http://a.fr/", "headers": {}})
    assert status(policy, {"tls": tls(), "http": silent}, "WEB-HSTS") == "unknown"
    checks = check_domain("a.fr", frozenset({"web"}), {"http": http}, policy)  # no HTTPS at all: fail
    assert [check_dict(c)["detail"] for c in checks if check_dict(c)["rule"] == "WEB-HSTS"] == [
        "Strict-Transport-Security sent over http:// only"
    ]


def test_spf_all_of_a_redirected_record_is_the_target_s(policy: Policy) -> None:
    """`v=spf1 redirect=_spf.a.fr` ends with the `all` of _spf.a.fr (RFC 7208 §6.1): it warned "all qualifier
    absent" on every redirecting domain, and a redirect to `+all` went unnoticed."""

    def spf(target_all: str | None) -> Evidence:
        target = {
            "domain": "_spf.a.fr",
            "via": "redirect",
            "record": "v=spf1 ip4:192.0.2.1",
            "all": target_all,
        }
        tree = {"domain": "a.fr", "via": "root", "record": "v=spf1 redirect=_spf.a.fr", "all": None}
        tree["children"] = [target]
        assert effective_all(tree) == (target_all, "_spf.a.fr")  # what the probe records
        data = {"record": tree["record"], "all": None, "all_effective": target_all, "all_from": "_spf.a.fr"}
        return Evidence("spf", "a.fr", Status.OK, data)

    mail = frozenset({"mail"})
    checks = {q: status(policy, {"spf": spf(q)}, "MAIL-SPF-ALL", mail) for q in ("-", "~", "+", None)}
    assert checks == {"-": "pass", "~": "pass", "+": "fail", None: "warn"}
    found = check_domain("a.fr", mail, {"spf": spf("-")}, policy)
    detail = next(check_dict(c)["detail"] for c in found if check_dict(c)["rule"] == "MAIL-SPF-ALL")
    assert detail == "all qualifier - (redirect=_spf.a.fr)"
    from souverain.assessment.french import french_facts

    assert french_facts({"detail": detail})["detail"] == "qualificatif « -all » (redirect=_spf.a.fr)"


def test_mail_checks_and_scores(policy: Policy) -> None:
    dns = Evidence("dns", "a.fr", Status.OK, {"mx_hosts": [{"host": "mx.a.fr"}], "ad": {}, "queries": {}})
    spf = Evidence("spf", "a.fr", Status.OK, {"record": "v=spf1 +all", "all": "+", "dns_lookups": 0})
    dmarc = Evidence(
        "dmarc",
        "a.fr",
        Status.OK,
        {"record": {"valid": True, "raw": "v=DMARC1; p=reject", "effective_policy": "reject", "pct": 100}},
    )
    dkim = Evidence("dkim", "a.fr", Status.NOT_FOUND, {"keys_found": 0})
    ev = {"dns": dns, "spf": spf, "dmarc": dmarc, "dkim": dkim}
    checks = check_domain("a.fr", frozenset({"mail"}), ev, policy)
    by = {c["rule"]: c["status"] for c in map(check_dict, checks)}
    assert by["MAIL-SPF"] == "pass" and by["MAIL-SPF-ALL"] == "fail" and by["MAIL-DMARC-POLICY"] == "pass"
    assert by["MAIL-DKIM"] == "fail" and by["MAIL-MTA-STS"] == "unknown" and by["DNS-DNSSEC"] == "fail"
    scores = category_scores(checks)["mail"]
    # required and decided: SPF, SPF-ALL, SPF-LIMITS, DMARC, DMARC-POLICY, DKIM, DNSSEC → 4 passed of 7
    assert (scores["passed"], scores["failed"]) == (4, 3) and scores["score"] == round(100 * 4 / 7, 1)


@pytest.mark.parametrize(
    ("record", "qualifier", "expected"),
    [
        ("v=spf1 mx -all", "-", "pass"),
        ("v=spf1 mx ~all", "~", "pass"),
        ("v=spf1 mx ?all", "?", "warn"),
        ("v=spf1 mx", None, "warn"),
        ("v=spf1 +all", "+", "fail"),
    ],
)
def test_spf_all_qualifier(policy: Policy, record: str, qualifier: str | None, expected: str) -> None:
    spf = Evidence("spf", "a.fr", Status.OK, {"record": record, "all": qualifier, "dns_lookups": 1})
    checks = {
        c["rule"]: c for c in map(check_dict, check_domain("a.fr", frozenset({"mail"}), {"spf": spf}, policy))
    }
    assert checks["MAIL-SPF-ALL"]["status"] == expected
    assert checks["MAIL-SPF-ALL"]["detail"] == f"all qualifier {qualifier or 'absent'}"


def test_tls_baseline_chosen_at_run_time(policy: Policy) -> None:
    mozilla = load_policy(tls_baseline="mozilla-intermediate")
    assert policy.tls_baseline == "anssi-tls" and mozilla.tls_baseline == "mozilla-intermediate"
    assert mozilla.methodology == f"{policy.methodology}+tls:mozilla-intermediate"
    assert load_policy(tls_baseline="anssi-tls").methodology == policy.methodology  # the default: no suffix
    # TLS_AES_128_CCM_8_SHA256: "acceptable" for ANSSI, absent from Mozilla Intermediate
    ccm8 = {"tls": tls(cipher="TLS_AES_128_CCM_8_SHA256")}
    assert status(policy, ccm8, "WEB-TLS-CIPHER") == "warn"
    assert status(mozilla, ccm8, "WEB-TLS-CIPHER") == "fail"
    # DHE-RSA-CHACHA20-POLY1305 is in Mozilla's Intermediate list
    assert status(mozilla, {"tls": tls(cipher="DHE-RSA-CHACHA20-POLY1305")}, "WEB-TLS-CIPHER") == "pass"


def test_unknown_tls_baseline_is_named() -> None:
    with pytest.raises(InputError, match=r"--tls-baseline 'nist': no such baseline profile \(known: anssi"):
        load_policy(tls_baseline="nist")


@pytest.mark.parametrize(
    ("dkim", "expected"),
    [
        (Evidence("dkim", "a.fr", Status.OK, {"keys_found": 1}), "pass"),
        (Evidence("dkim", "a.fr", Status.NOT_FOUND, {"keys_found": 0}), "fail"),
        # SERVFAIL or a timeout: a failure as for SPF and DMARC, but no longer said as "0 key(s) found",
        # an absence that was never observed
        (Evidence("dkim", "a.fr", Status.ERROR, {"keys_found": 0}), "fail"),
        (Evidence("dkim", "a.fr", Status.TIMEOUT, {"keys_found": 0}), "fail"),
        # keys published that no verifier can use (k=ec, an undecodable p=): "1 key(s) found", pass, before
        (Evidence("dkim", "a.fr", Status.OK, {"keys_found": 0, "keys_unusable": 2}), "fail"),
        (Evidence("dkim", "a.fr", Status.OK, {"keys_found": 1, "keys_unusable": 1}), "pass"),
    ],
)
def test_dkim_says_when_its_lookups_failed(policy: Policy, dkim: Evidence, expected: str) -> None:
    dns = Evidence("dns", "a.fr", Status.OK, {"mx_hosts": ["mx.a.fr"]})
    checks = check_domain("a.fr", frozenset({"mail"}), {"dns": dns, "dkim": dkim}, policy)
    found = next(check_dict(c) for c in checks if check_dict(c)["rule"] == "MAIL-DKIM")
    assert found["status"] == expected
    if dkim.status in (Status.ERROR, Status.TIMEOUT):
        assert found["detail"] == f"DKIM lookups failed ({dkim.status})"
    if dkim.data.get("keys_unusable") and not dkim.data["keys_found"]:
        assert found["detail"] == "2 key(s) found, none usable"


@pytest.mark.parametrize(
    ("kind", "group", "expected"),
    [
        ("ECDHE", "x25519", "pass"),
        ("ECDHE", "secp256r1", "pass"),  # prime256v1 in the baseline, as OpenSSL names it
        ("ECDHE+ML-KEM", "X25519MLKEM768", "pass"),
        ("ECDHE", "brainpoolP256r1", "pass"),  # ANSSI lists it; Mozilla's profile does not (below)
        ("ECDHE", "secp521r1", "pass"),
        ("ECDHE", "0x1234", "warn"),
        ("DHE", "DH-2048", "pass"),
        ("DHE", "DH-1024", "fail"),
        ("RSA", None, "fail"),
        (None, None, "unknown"),  # evidence of tls probe v1
    ],
)
def test_key_exchange_against_the_baseline(
    policy: Policy, kind: str | None, group: str | None, expected: str
) -> None:
    ev = tls()
    ev.data["endpoints"][0].update(key_exchange=kind, key_exchange_group=group)
    assert status(policy, {"tls": ev}, "WEB-TLS-KX") == expected


def test_key_exchange_is_not_scored_and_follows_the_chosen_baseline(policy: Policy) -> None:
    from souverain.policy.load import load_policy as load

    ev = tls()
    ev.data["endpoints"][0].update(key_exchange="ECDHE", key_exchange_group="brainpoolP256r1")
    mozilla = load(tls_baseline="mozilla-intermediate")
    assert status(mozilla, {"tls": ev}, "WEB-TLS-KX") == "warn"
    checks = [check_dict(c) for c in check_domain("a.fr", frozenset({"web"}), {"tls": ev}, policy)]
    assert next(c for c in checks if c["rule"] == "WEB-TLS-KX")["required"] is False
