"""Security hygiene checks per domain, from stored evidence, against the policy's baseline profile.

Each check has a status: ``pass``, ``fail``, ``warn`` (passes a weaker form), ``not-applicable`` (the domain
has no web site, receives no mail…) or ``unknown`` (the evidence needed is missing or failed). Category scores
(web, mail) follow Internet.nl: required checks only, ``passed / applicable`` (warn counts half); recommended
checks are reported, not scored. DNS checks count in both categories of the domain.
"""

from __future__ import annotations

from typing import Any

from souverain.evidence import Evidence
from souverain.policy.load import Policy

__all__ = ["Check", "add_counts", "category_scores", "check_counts", "check_domain", "rounded", "scores_of"]

PASS, FAIL, WARN, NA, UNKNOWN = "pass", "fail", "warn", "not-applicable", "unknown"


Check = list[Any]
"""One check as stored: ``[rule, category, required, status, detail, evidence, severity]`` (``evidence``: the
path of the evidence it read; ``severity``: the rule's, for the finding a failed or warned check is — see
``souverain.assessment.document``)."""


def _ok(ev: Evidence | None) -> bool:
    return ev is not None and ev.status == "ok"


class _PolicyView:
    """What the checks look up in a policy, computed once per policy: each hygiene rule's (category,
    required, severity), and the baseline's verdicts on the cipher suites and keys seen so far (pure
    functions of the suite or key and the baseline; there are few distinct ones)."""

    __slots__ = ("ciphers", "keys", "meta", "policy")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.meta: dict[str, tuple[str, bool, str]] = {}
        for r in policy.rules.values():
            if r.category:
                if r.family != "hygiene":  # the stored document derives hygiene findings from checks
                    raise ValueError(f"policy rule {r.id}: check of category {r.category}, family {r.family}")
                self.meta[r.id] = (r.category, r.required, r.severity)
        self.ciphers: dict[str, tuple[str, str]] = {}
        self.keys: dict[tuple[str, int], tuple[str, str]] = {}

    @staticmethod
    def remember(cache: dict[Any, tuple[str, str]], key: Any, verdict: tuple[str, str]) -> tuple[str, str]:
        if len(cache) >= 10_000:  # bounded whatever the targets send
            cache.clear()
        cache[key] = verdict
        return verdict


_VIEWS: dict[int, _PolicyView] = {}


def _view(policy: Policy) -> _PolicyView:
    view = _VIEWS.get(id(policy))
    if view is None or view.policy is not policy:  # the view holds its policy: the id stays its own
        view = _VIEWS[id(policy)] = _PolicyView(policy)
    return view


class _Checks:
    __slots__ = ("meta", "out", "policy", "prefix", "view")

    def __init__(self, domain: str, policy: Policy) -> None:
        self.view = _view(policy)
        self.policy, self.prefix, self.meta = policy, domain + ":", self.view.meta
        self.out: list[Check] = []

    def add(self, rule: str, status: str, detail: str, evidence: str) -> None:
        category, required, severity = self.meta[rule]
        self.out.append([rule, category, required, status, detail, self.prefix + evidence, severity])


def _first_endpoint(tls: Evidence | None) -> dict[str, Any] | None:
    if tls is None:
        return None
    for ep in tls.data.get("endpoints") or []:
        if ep.get("status") == "ok":
            return ep  # type: ignore[no-any-return]
    return None


def _web(c: _Checks, ev: dict[str, Evidence], baseline: dict[str, Any]) -> None:
    tls, http = ev.get("tls"), ev.get("http")
    if tls is not None and tls.status == "not-applicable":
        for rule in TLS_RULES + HTTP_RULES:
            c.add(rule, NA, "no address for the web host", "tls")
        return
    ep = _first_endpoint(tls)
    if tls is None or http is None:
        status, detail = UNKNOWN, "TLS or HTTP evidence missing"
    elif ep is None:
        status, detail = FAIL, f"no TLS answer ({tls.error or tls.status})"
    else:
        status, detail = PASS, f"HTTPS answers ({ep.get('version')})"
    c.add("WEB-HTTPS", status, detail, "tls.endpoints")
    if ep is None:  # the missing HTTPS is the failure (WEB-HTTPS); the TLS details cannot be tested
        for rule in TLS_RULES[1:]:  # WEB-HTTPS aside
            c.add(rule, UNKNOWN if status == UNKNOWN else NA, "no TLS endpoint", "tls.endpoints")
    else:
        accepted = (ep.get("versions") or {}).get("accepted") or {}
        forbidden = [v for v in baseline.get("protocols", {}).get("forbidden", []) if accepted.get(v)]
        wanted = [v for v in baseline.get("protocols", {}).get("required_any", []) if accepted.get(v)]
        if forbidden:
            c.add("WEB-TLS-VERSIONS", FAIL, f"accepts {', '.join(forbidden)}", "tls.endpoints[0].versions")
        elif not wanted:
            c.add(
                "WEB-TLS-VERSIONS", FAIL, "accepts neither TLS 1.2 nor TLS 1.3", "tls.endpoints[0].versions"
            )
        else:
            c.add("WEB-TLS-VERSIONS", PASS, f"accepts {', '.join(wanted)} only", "tls.endpoints[0].versions")
        cipher = str(ep.get("cipher") or "")
        verdict = c.view.ciphers.get(cipher)
        if verdict is None:
            verdict = c.view.remember(c.view.ciphers, cipher, _cipher(cipher, baseline))
        c.add("WEB-TLS-CIPHER", *verdict, "tls.endpoints[0].cipher")
        kx = _key_exchange(ep.get("key_exchange"), ep.get("key_exchange_group"), baseline)
        c.add("WEB-TLS-KX", *kx, "tls.endpoints[0].key_exchange_group")
        if ep.get("chain_valid"):
            c.add(
                "WEB-CERT-VALID", PASS, "chain valid against the trust store", "tls.endpoints[0].chain_valid"
            )
        else:
            c.add(
                "WEB-CERT-VALID",
                FAIL,
                str(ep.get("validation_error") or "chain not valid")[:160],
                "tls.endpoints[0].validation_error",
            )
        if ep.get("hostname_match"):
            c.add(
                "WEB-CERT-HOSTNAME",
                PASS,
                "the certificate covers the name",
                "tls.endpoints[0].hostname_match",
            )
        else:
            c.add(
                "WEB-CERT-HOSTNAME",
                FAIL,
                "the certificate does not cover the name",
                "tls.endpoints[0].hostname_match",
            )
        chain = ep.get("chain") or []
        if chain:
            leaf = chain[0]
            key = (str(leaf.get("key_type") or ""), int(leaf.get("key_size") or 0))
            verdict = c.view.keys.get(key)
            if verdict is None:
                verdict = c.view.remember(c.view.keys, key, _key(*key, baseline))
        else:
            verdict = (UNKNOWN, "no certificate")
        c.add("WEB-CERT-KEY", *verdict, "tls.endpoints[0].chain[0]")
    _http(c, http, https_answers=ep is not None)


def _cipher(cipher: str, baseline: dict[str, Any]) -> tuple[str, str]:
    spec = baseline.get("ciphers") or {}
    if not cipher:
        return UNKNOWN, "cipher not recorded"
    lowered = cipher.lower()
    if any(bad.lower() in lowered for bad in spec.get("forbidden_substrings") or []):
        return FAIL, f"{cipher} is forbidden by the baseline"
    if cipher in (spec.get("tls13") or []) or cipher in (spec.get("tls12_recommended") or []):
        return PASS, f"{cipher} is recommended"
    if cipher in (spec.get("tls12_acceptable") or []) or cipher in (spec.get("tls13_acceptable") or []):
        return WARN, f"{cipher} is acceptable, not recommended"
    return FAIL, f"{cipher} is not in the baseline"


_GROUP_ALIASES = {"prime256v1": "secp256r1"}  # OpenSSL's name of P-256 in the baselines; IANA's in evidence


def _key_exchange(kind: str | None, group: str | None, baseline: dict[str, Any]) -> tuple[str, str]:
    """The handshake's key exchange against the baseline's groups and DH size (tls probe v2 records it)."""
    spec = baseline.get("key_exchange") or {}
    if kind is None:
        return UNKNOWN, "key exchange not recorded"
    if kind == "RSA":
        return FAIL, "static RSA key exchange: no forward secrecy"
    if kind == "DHE":
        digits = (group or "").removeprefix("DH-").removeprefix("ffdhe")
        bits, need = int(digits) if digits.isdigit() else 0, int(spec.get("dh_min_bits") or 2048)
        return (PASS if bits >= need else FAIL), f"DHE {bits} bits (minimum {need})"
    if kind == "ECDHE+ML-KEM":
        return PASS, f"{group}: hybrid post-quantum key exchange"
    known = {_GROUP_ALIASES.get(g.lower(), g.lower()) for g in spec.get("groups") or []}
    if (group or "").lower() in known:
        return PASS, f"{kind} {group}"
    return WARN, f"{kind} {group or 'unknown group'} is outside the baseline"


def _key(kind: str, size: int, baseline: dict[str, Any]) -> tuple[str, str]:
    cert = baseline.get("certificate") or {}
    need = (
        int(cert.get("min_ec_bits") or 256)
        if kind.startswith("EC")
        else int(cert.get("min_rsa_bits") or 2048)
    )
    if kind.startswith(("EC", "RSA")):
        return (PASS if size >= need else FAIL), f"{kind} {size} bits (minimum {need})"
    return PASS if kind in ("Ed25519", "Ed448") else UNKNOWN, f"{kind or 'unknown key'} {size} bits"


HTTP_RULES = (
    "WEB-HTTPS-REDIRECT",
    "WEB-HSTS",
    "WEB-HDR-CSP",
    "WEB-HDR-FRAME",
    "WEB-HDR-NOSNIFF",
    "WEB-HDR-REFERRER",
)
TLS_RULES = (
    "WEB-HTTPS",
    "WEB-TLS-VERSIONS",
    "WEB-TLS-CIPHER",
    "WEB-TLS-KX",
    "WEB-CERT-VALID",
    "WEB-CERT-HOSTNAME",
    "WEB-CERT-KEY",
)


def _http(c: _Checks, http: Evidence | None, https_answers: bool) -> None:
    if not _ok(http):
        reason = "HTTP evidence missing" if http is None else f"HTTP failed ({http.error or http.status})"
        for rule in HTTP_RULES:
            c.add(rule, UNKNOWN, reason, "http")
        return
    assert http is not None
    d = http.data
    if d.get("http_redirects_to_https") and d.get("https_same_host", True):
        c.add("WEB-HTTPS-REDIRECT", PASS, "http:// redirects to https://", "http.hops")
    elif d.get("http_redirects_to_https"):
        c.add("WEB-HTTPS-REDIRECT", WARN, "redirects to HTTPS on another name", "http.hops")
    else:
        c.add("WEB-HTTPS-REDIRECT", FAIL, "http:// does not redirect to https://", "http.hops")
    headers = d.get("headers") or {}
    hsts = headers.get("hsts") or {}
    max_age = hsts.get("max_age")
    # a header over http:// is ignored (RFC 6797 §8.1); the https:// page, which alone counts, is read only
    # when http:// redirects to it
    over_http = str(d.get("final_url") or "").startswith("http://")
    if over_http and https_answers:
        seen = (
            "Strict-Transport-Security seen over http:// only" if hsts else "the https:// page was not read"
        )
        c.add("WEB-HSTS", UNKNOWN, seen, "http.headers.hsts")
    elif hsts and over_http:
        c.add("WEB-HSTS", FAIL, "Strict-Transport-Security sent over http:// only", "http.headers.hsts")
    elif hsts.get("valid") and isinstance(max_age, int) and max_age >= c.policy.hsts_min_max_age:
        c.add("WEB-HSTS", PASS, f"max-age={max_age}", "http.headers.hsts")
    elif hsts.get("valid"):
        c.add(
            "WEB-HSTS", WARN, f"max-age={max_age} is under {c.policy.hsts_min_max_age}", "http.headers.hsts"
        )
    else:
        c.add("WEB-HSTS", FAIL, "no valid Strict-Transport-Security", "http.headers.hsts")
    sec = {str(k).lower(): str(v) for k, v in (headers.get("security") or {}).items()}
    csp = sec.get("content-security-policy", "")
    c.add("WEB-HDR-CSP", PASS if csp else FAIL, "set" if csp else "absent", "http.headers.security")
    xfo = sec.get("x-frame-options", "").strip().upper()
    framing = xfo in ("DENY", "SAMEORIGIN") or "frame-ancestors" in csp
    c.add(
        "WEB-HDR-FRAME",
        PASS if framing else FAIL,
        xfo or ("frame-ancestors" if framing else "absent"),
        "http.headers.security",
    )
    nosniff = bool(headers.get("x_content_type_options_nosniff"))
    c.add(
        "WEB-HDR-NOSNIFF",
        PASS if nosniff else FAIL,
        "nosniff" if nosniff else "absent",
        "http.headers.security",
    )
    ref = sec.get("referrer-policy", "").strip().lower()
    c.add(
        "WEB-HDR-REFERRER",
        PASS if ref in _GOOD_REFERRER else (WARN if ref else FAIL),
        ref or "absent",
        "http.headers.security",
    )


_GOOD_REFERRER = frozenset({"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"})


def _dns(c: _Checks, dns: Evidence | None) -> None:
    if dns is None or dns.status != "ok":
        reason = "DNS evidence missing" if dns is None else f"DNS failed ({dns.error or dns.status})"
        c.add("DNS-DNSSEC", UNKNOWN if dns is None else FAIL, reason, "dns")
        c.add("DNS-CAA", UNKNOWN, reason, "dns")
        return
    ad = dns.data.get("ad") or {}
    signed = bool(ad.get("SOA") or ad.get("A"))
    c.add(
        "DNS-DNSSEC",
        PASS if signed else FAIL,
        "validated (AD flag)" if signed else "not validated (no AD flag)",
        "dns.ad",
    )
    caa = ((dns.data.get("queries") or {}).get("CAA") or {}).get("rrs") or []
    c.add("DNS-CAA", PASS if caa else FAIL, f"{len(caa)} record(s)" if caa else "absent", "dns.queries.CAA")


_SELECTORS = "dkim.selectors"


def _mail(c: _Checks, ev: dict[str, Evidence]) -> None:
    dns = ev.get("dns")
    no_mail = (
        dns is not None and dns.status == "ok" and (dns.data.get("null_mx") or not dns.data.get("mx_hosts"))
    )
    if no_mail:
        for rule in ("MAIL-DKIM", "MAIL-MTA-STS", "MAIL-TLS-RPT"):
            c.add(rule, NA, "the domain receives no mail (no MX or null MX)", "dns.mx_hosts")
    spf, dmarc = ev.get("spf"), ev.get("dmarc")
    if spf is None:
        for rule in ("MAIL-SPF", "MAIL-SPF-ALL", "MAIL-SPF-LIMITS"):
            c.add(rule, UNKNOWN, "SPF evidence missing", "spf")
    elif spf.status != "ok" or not spf.data.get("record"):
        c.add("MAIL-SPF", FAIL, "no SPF record" if spf.status == "not-found" else f"SPF {spf.status}", "spf")
        c.add("MAIL-SPF-ALL", NA, "no SPF record", "spf")
        c.add("MAIL-SPF-LIMITS", NA, "no SPF record", "spf")
    else:
        c.add("MAIL-SPF", PASS, str(spf.data["record"])[:120], "spf.record")
        # a record without "all" that redirects ends with the target's (the probe follows it: mail v2)
        q, via = spf.data.get("all_effective", spf.data.get("all")), spf.data.get("all_from")
        # -all / ~all tell receivers what to do with forged mail; ?all (neutral) or no "all" says nothing
        # (warn); +all authorises the whole internet (fail)
        spf_all = FAIL if q == "+" else (PASS if q in ("-", "~") else WARN)
        detail = f"all qualifier {q or 'absent'}" + (f" (redirect={via})" if via else "")
        c.add("MAIL-SPF-ALL", spf_all, detail, "spf.all_effective" if via else "spf.all")
        over = (
            spf.data.get("lookups_exceeded")
            or spf.data.get("void_lookups_exceeded")
            or spf.data.get("permerror")
        )
        c.add(
            "MAIL-SPF-LIMITS",
            FAIL if over else PASS,
            f"{spf.data.get('dns_lookups')} lookups, {spf.data.get('void_lookups')} void",
            "spf.dns_lookups",
        )
    if dmarc is None:
        c.add("MAIL-DMARC", UNKNOWN, "DMARC evidence missing", "dmarc")
        c.add("MAIL-DMARC-POLICY", UNKNOWN, "DMARC evidence missing", "dmarc")
    else:
        rec = dmarc.data.get("record") or {}
        if dmarc.status != "ok" or not rec.get("valid"):
            c.add("MAIL-DMARC", FAIL, "no valid DMARC record", "dmarc.record")
            c.add("MAIL-DMARC-POLICY", FAIL, "no DMARC policy", "dmarc.record")
        else:
            c.add("MAIL-DMARC", PASS, str(rec.get("raw"))[:120], "dmarc.record")
            pol, pct = rec.get("effective_policy"), rec.get("pct", 100)
            if pol in ("quarantine", "reject") and (pct is None or pct >= 100):
                c.add("MAIL-DMARC-POLICY", PASS, f"p={pol}", "dmarc.record.effective_policy")
            elif pol in ("quarantine", "reject"):
                c.add("MAIL-DMARC-POLICY", WARN, f"p={pol} on pct={pct} only", "dmarc.record.pct")
            else:
                c.add("MAIL-DMARC-POLICY", FAIL, f"p={pol}", "dmarc.record.effective_policy")
    if no_mail:
        return
    dkim, sts, rpt = ev.get("dkim"), ev.get("mta-sts"), ev.get("tls-rpt")
    if dkim is None:
        c.add("MAIL-DKIM", UNKNOWN, "evidence missing", _SELECTORS)
    elif dkim.status in ("ok", "not-found"):
        found, unusable = dkim.data.get("keys_found", 0), dkim.data.get("keys_unusable", 0)
        if found or not unusable:
            c.add(
                "MAIL-DKIM",
                PASS if found else FAIL,
                f"{found} key(s) found among the common selectors",
                "dkim",
            )
        else:  # published, but no verifier can use them (k=ec, an undecodable p=): mail cannot be verified
            c.add("MAIL-DKIM", FAIL, f"{unusable} key(s) found, none usable", _SELECTORS)
    else:  # the lookups failed (SERVFAIL, timeout): a failure, as for SPF and DMARC, said as what it is
        c.add("MAIL-DKIM", FAIL, f"DKIM lookups failed ({dkim.status})", _SELECTORS)
    if sts is None:
        c.add("MAIL-MTA-STS", UNKNOWN, "evidence missing", "mta-sts")
    else:
        mode = ((sts.data.get("policy") or {}).get("mode")) if sts.status == "ok" else None
        c.add(
            "MAIL-MTA-STS",
            PASS if mode == "enforce" else (WARN if mode else FAIL),
            f"mode {mode}" if mode else "no policy",
            "mta-sts.policy",
        )
    if rpt is None:
        c.add("MAIL-TLS-RPT", UNKNOWN, "evidence missing", "tls-rpt")
    else:
        valid = rpt.status == "ok" and (rpt.data.get("record") or {}).get("valid")
        c.add(
            "MAIL-TLS-RPT",
            PASS if valid else FAIL,
            "valid record" if valid else "absent or invalid",
            "tls-rpt.record",
        )


def check_domain(
    domain: str, roles: frozenset[str], evidence: dict[str, Evidence], policy: Policy
) -> list[Check]:
    """Every hygiene check of one domain (web checks for web domains, mail checks for mail domains)."""
    c = _Checks(domain, policy)
    baseline = policy.baselines.get(policy.tls_baseline) or {}
    if "web" in roles:
        _web(c, evidence, baseline)
    _dns(c, evidence.get("dns"))
    if "mail" in roles:
        _mail(c, evidence)
    return c.out


_ROUNDED: dict[int, dict[float, float]] = {1: {}, 4: {}}


def rounded(value: float, digits: int) -> float:
    """``round(value, digits)``, remembered (it is slow, and the values rounded here — scores and coverages,
    ratios of small counts — keep coming back)."""
    seen = _ROUNDED[digits]
    out = seen.get(value)
    if out is None:
        if len(seen) >= 50_000:
            seen.clear()
        out = seen[value] = round(value, digits)
    return out


_SLOT = {PASS: 0, FAIL: 1, WARN: 2, UNKNOWN: 3, NA: 4}
Counts = dict[str, list[int]]


def check_counts(checks: list[Check]) -> Counts:
    """Per category, the required checks by status (pass, fail, warn, unknown, not-applicable)."""
    counts: Counts = {}
    for ch in checks:
        if ch[2]:  # required
            c = counts.get(ch[1])
            if c is None:
                c = counts[ch[1]] = [0, 0, 0, 0, 0]
            c[_SLOT[ch[3]]] += 1
    return counts


def add_counts(total: Counts, more: Counts) -> None:
    for category, c in more.items():
        t = total.get(category)
        if t is None:
            total[category] = list(c)
        else:
            for i, n in enumerate(c):
                t[i] += n


def scores_of(counts: Counts) -> dict[str, dict[str, Any]]:
    """Per category (web, mail): score 0–100 over required applicable checks (warn = half), counts; DNS
    checks count in both."""
    dns = counts.get("dns") or [0, 0, 0, 0, 0]
    out: dict[str, dict[str, Any]] = {}
    for category in ("web", "mail"):
        c = counts.get(category)
        if c is None:
            continue
        passed, failed, warned, unknown = c[0] + dns[0], c[1] + dns[1], c[2] + dns[2], c[3] + dns[3]
        decided = passed + failed + warned
        out[category] = {
            "score": rounded(100 * (passed + 0.5 * warned) / decided, 1) if decided else None,
            "passed": passed,
            "failed": failed,
            "warned": warned,
            "unknown": unknown,
        }
    return out


def category_scores(checks: list[Check]) -> dict[str, dict[str, Any]]:
    """Per category (web, mail): score 0–100 over required applicable checks (warn = half), counts."""
    return scores_of(check_counts(checks))
