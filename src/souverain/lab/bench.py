"""The hostile test bench: one domain per misbehaviour, present in every world."""

from __future__ import annotations

from typing import Any

from souverain.lab import pages
from souverain.lab.model import Domain, Org, Site, blank_truth
from souverain.lab.providers import HOSTILE_IPS, PROVIDERS, TLS10_IP

BENCH_SIREN = "180000002"
INJECTION = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'

# kind → (domain, expect, detail); expect is the target's status: a misbehaviour the scan reads to its end
# (a capped body, a bad certificate) is an observation (ok) that the hygiene checks judge
CATALOGUE: dict[str, tuple[str, str, str]] = {
    "silence": ("banc-silence.fr", "timeout", "TCP 80/443 accept and never answer (closed after 120 s)"),
    "redirect-loop": ("banc-boucle.fr", "error", "endless HTTP redirect loop / -> /boucle -> /"),
    "huge-page": (
        "banc-100mo.fr",
        "ok",
        "100 MB HTML page (streamed): read up to the body size cap, truncated",
    ),
    "gzip-bomb": (
        "banc-gzip.fr",
        "ok",
        "~1 MB gzip body expanding to 1 GiB: decoded up to the cap, truncated",
    ),
    "tls-garbage": ("banc-tls-garbage.fr", "error", "random bytes instead of a TLS handshake on 443"),
    "cname-loop": ("banc-cname-boucle.fr", "error", "CNAME loop a -> b -> a (resolver SERVFAIL)"),
    "dns-timeout": ("banc-dns-lent.fr", "timeout", "delegated to a name server that never replies"),
    "big-txt": ("banc-gros-txt.fr", "ok", "~63 KB TXT RRset: truncated over UDP, needs TCP"),
    "non-utf8": ("banc-latin1.fr", "ok", "windows-1252 page, charset declared only in <meta>"),
    "script-injection": ("banc-injection.fr", "ok", "<script>/<img onerror> in <title> and TXT: escape it"),
    "tls-expired": (
        "banc-expire.fr",
        "ok",
        "certificate expired 30 days ago: observed, WEB-CERT-VALID fails",
    ),
    "tls-self-signed": ("banc-autosigne.fr", "ok", "self-signed certificate: observed, WEB-CERT-VALID fails"),
    "tls-wrong-host": (
        "banc-mauvais-nom.fr",
        "ok",
        "certificate for cluster021.hosting.ovh.net: WEB-CERT-HOSTNAME fails",
    ),
    "tls10-only": ("banc-tls10.fr", "ok", "server offers TLS 1.0 only: observed, WEB-TLS-VERSIONS fails"),
    "dnssec-broken": ("banc-dnssec-casse.fr", "error", "corrupted RRSIGs: validating resolver SERVFAIL"),
    "dnssec-expired": ("banc-dnssec-expire.fr", "error", "expired RRSIGs: validating resolver SERVFAIL"),
    "dnssec-signed": ("banc-dnssec-ok.fr", "ok", "correctly signed: AD flag set"),
    "dnssec-unsigned": ("banc-non-signe.fr", "ok", "insecure delegation: NOERROR without AD"),
}


def bench_org() -> Org:
    return Org(
        siren=BENCH_SIREN,
        name="Banc d'essai hostile du lab (fictif)",
        kind="other",
        commune=None,
        departement=None,
        region=None,
        domains=[
            (d, ["web"] if k not in ("big-txt", "dns-timeout", "cname-loop") else ["other"])
            for k, (d, _, _) in CATALOGUE.items()
        ],
        contacts=[f"contact@{CATALOGUE['dnssec-signed'][0]}"],
    )


def _truth(kind: str, name: str) -> dict[str, Any]:
    truth = blank_truth(BENCH_SIREN, ["web"])
    truth.update(
        web_hosting="lab-hostile",
        web_network="lab-hostile",
        dns_hosting="lab-hostile",
        hostile=kind,
        ns=[f"ns1.{name}"],
        expect=CATALOGUE[kind][1],
        expect_detail=CATALOGUE[kind][2],
    )
    return truth


def bench_domains(org: str) -> list[Domain]:
    out: list[Domain] = []
    generic = PROVIDERS["lab-hostile"].ip(2, 1)
    for i, (kind, (name, _, _)) in enumerate(CATALOGUE.items()):
        t = _truth(kind, name)
        d = Domain(name=name, display=name, org=org, roles=list(t["roles"]), truth=t)
        d.ns = [f"ns1.{name}"]
        d.glue = {d.ns[0]: PROVIDERS["lab-hostile"].ip(0, 1)}
        d.records.append(("ns1", 3600, "A", d.glue[d.ns[0]]))
        ip = HOSTILE_IPS.get(kind, TLS10_IP if kind == "tls10-only" else generic)
        tls = {
            "tls-expired": "expired",
            "tls-self-signed": "self-signed",
            "tls-wrong-host": "wrong-host",
            "tls10-only": "tls10-only",
        }.get(kind, "valid")
        if kind in ("cname-loop", "dns-timeout", "big-txt"):
            t["roles"] = d.roles = ["other"]
            t["web_hosting"] = t["web_network"] = None
        if kind == "cname-loop":
            d.zone = False
            d.ns, d.glue, d.records = [], {}, []
            t["ns"] = []
            d.tld_records = [
                (name.split(".")[0], 300, "CNAME", f"banc-cname-boucle2.{name.split('.', 1)[1]}."),
                ("banc-cname-boucle2", 300, "CNAME", f"{name}."),
            ]
        elif kind == "dns-timeout":
            d.zone = False
            d.glue = {d.ns[0]: HOSTILE_IPS["dns-timeout"]}
            d.records = []
        elif kind == "big-txt":
            d.records += [("@", 300, "TXT", f'"lab-{j:03d}-' + "x" * 236 + '"') for j in range(248)]
        else:
            ca = None if tls == "self-signed" else "letsencrypt"
            title = {"script-injection": f"Mairie {INJECTION}", "non-utf8": "Château, élus, Noël"}.get(
                kind, f"Banc d'essai : {kind}"
            )
            html, third = pages.render(
                name,
                title,
                ["fonts"] if kind == "non-utf8" else [],
                i,
                charset="windows-1252" if kind == "non-utf8" else "utf-8",
                raw_title=title if kind == "script-injection" else None,
            )
            body = html.encode("cp1252") if kind == "non-utf8" else html.encode()
            d.site = Site(
                ip=ip,
                https=kind not in ("silence", "huge-page"),
                provider="lab-hostile",
                tls=tls,
                ca=ca,
                html=body,
                special=kind,
            )
            d.records += [("@", 300, "A", ip), ("www", 300, "CNAME", f"{name}.")]
            https = kind not in ("tls-garbage", "silence")
            t.update(
                tls=tls if https else None,
                https=https,
                ca=ca if https else None,
                third_parties=third,
                addresses={"A": [ip], "AAAA": []},
            )
        if kind == "script-injection":
            d.records += [("@", 300, "TXT", '"' + INJECTION.replace('"', '\\"') + '"')]
        d.dnssec = {
            "dnssec-broken": "broken-corrupt",
            "dnssec-expired": "broken",
            "dnssec-signed": "signed",
        }.get(kind, "unsigned")
        t["dnssec"] = "broken" if d.dnssec.startswith("broken") else d.dnssec
        out.append(d)
    return out
