"""Per-domain profiles: who hosts the DNS, the web site and the mail of one domain, as DNS records."""

from __future__ import annotations

import random

from souverain.lab import pages
from souverain.lab.model import Domain, Record, Site, blank_truth, txt
from souverain.lab.providers import (
    AWS_NS,
    CAS,
    CLOUDFLARE_NS,
    GANDI_NS,
    HTTP_ONLY,
    OVH_NS,
    PROVIDERS,
    SELF_NETWORKS,
    TLS10_IP,
    WEB_POOLS,
)

GATEWAYS: dict[str, tuple[list[str], str]] = {
    "hornetsecurity": (
        ["mx-gw01.hornetsecurity.com", "mx-gw02.hornetsecurity.com"],
        "spf.hornetsecurity.com",
    ),
    "vade": (["mx1-fr.vadesecure.com", "mx2-fr.vadesecure.com"], "_spf.vadesecure.com"),
    "mailinblack": (["mx1.mailinblack.com", "mx2.mailinblack.com"], "spf.mailinblack.com"),
    "proofpoint": (["mx0a-{id}.pphosted.com", "mx0b-{id}.pphosted.com"], "_spf.pphosted.com"),
}
SPF_INCLUDE = {
    "microsoft": "spf.protection.outlook.com",
    "google": "_spf.google.com",
    "ovh": "mx.ovh.com",
    "gip-lab": "spf.gip-lab-numerique.fr",
}


# A real RSA-2048 public key (its private half was thrown away): verifiers, and the probe, can decode it.
# TXT character-strings hold 255 bytes at most: the record is two strings, joined by readers.
DKIM_RSA_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzUM6A65kQOWMfHFq0CB7z6BXR3r2TBHjTqEwMfpEjKyww2VUZUMvjNnPb4oadAUTCrYcGSA6N6JNq/hYJjIiFWjd1XtSWB2rTFKVmdfe3vDvt5T80nddF09tX9MbM0XopDAzT8Y/APyJmNwGUVXPR/W1"
    "MmcdrU9TRUxnnZfZgvQVJq1Z8fW8+YSvsLhR8/C7EVpfSJPK8l0GZaKmqyFWsFkVOhiFXkyOEYdnnb9UnYffHCxR51Q9e6P2gK4GO/ccO93v0Vnq157a2iu7WaPQ5hUt+tSE8LK5rY1JNmbL1X4/GU7R0mq/f1K9aBNd/WjcvozcNTJS2IIr3ltNKtwo0QIDAQAB"
)
DKIM_TXT = f'"v=DKIM1; k=rsa; p={DKIM_RSA_KEY[:180]}" "{DKIM_RSA_KEY[180:]}"'
# An Ed25519 key (RFC 8463: the key's 32 bytes), as self-run servers may publish
DKIM_ED25519_TXT = '"v=DKIM1; k=ed25519; p=hAPSn2rlIcKmev+arz39xzL7LJF2P+1XAjRUWMPpDtQ="'


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def self_net(rng: random.Random) -> int:
    return 1 + rng.randrange(SELF_NETWORKS)


def make_domain(
    rng: random.Random,
    *,
    name: str,
    display: str,
    org: str,
    kind: str,
    roles: list[str],
    index: int,
    title: str,
) -> Domain:
    """Draw a complete, consistent profile for one organisation domain."""
    d = Domain(name=name, display=display, org=org, roles=roles, truth={})
    net = self_net(rng)
    t = blank_truth(org, roles)
    d.truth = t
    _dns(rng, d, kind, net, index)
    if "web" in roles:
        _web(rng, d, kind, net, index, title)
    if "mail" in roles:
        _mail(rng, d, kind, net, index)
    return d


def _dns(rng: random.Random, d: Domain, kind: str, net: int, index: int) -> None:
    self_w = 25.0 if kind in ("ministere", "region", "departement") else 6.0
    host = pick(rng, {"ovh": 45, "gandi": 12, "cloudflare": 12, "aws": 6, "self": self_w})
    if host == "ovh":
        d.ns = list(rng.choice(OVH_NS))
    elif host == "gandi":
        d.ns = list(rng.choice(GANDI_NS))
    elif host == "cloudflare":
        d.ns = list(rng.choice(CLOUDFLARE_NS))
    elif host == "aws":
        d.ns = list(rng.choice(AWS_NS))
    else:
        d.ns = [f"ns1.{d.name}", f"ns2.{d.name}"]
        d.glue = {d.ns[0]: PROVIDERS["self"].ip(net, 53), d.ns[1]: PROVIDERS["self"].ip(net, 54)}
        d.records += [("ns1", 3600, "A", d.glue[d.ns[0]]), ("ns2", 3600, "A", d.glue[d.ns[1]])]
    d.dnssec = (
        "signed"
        if index == 0
        else "unsigned"
        if index == 1
        else pick(rng, {"signed": 45, "unsigned": 53, "broken": 2})
    )
    d.truth.update(dns_hosting=host, dnssec=d.dnssec, ns=sorted(d.ns))


def _web(rng: random.Random, d: Domain, kind: str, net: int, index: int, title: str) -> None:
    t = d.truth
    https = index == 0 or rng.random() > 0.07
    if https:
        choice = pick(
            rng,
            {
                "ovh": 30,
                "scaleway": 8,
                "aws": 8,
                "azure": 5,
                "self": 12,
                "self-orange": 4,
                "cloudflare": 10,
                "akamai": 3,
                "fastly": 3,
                "cloudfront": 4,
            },
        )
    else:
        choice = pick(rng, {"ovh": 6, "scaleway": 2, "self": 2})
    tls: str | None = None
    if https:
        tls = (
            "valid"
            if index == 0
            else pick(rng, {"valid": 96, "expired": 1, "self-signed": 1, "wrong-host": 1, "tls10-only": 1})
        )
        if tls == "tls10-only":
            choice = "self"
    hosting, cdn, network = choice, None, choice
    www: Record | None = None
    if choice in ("cloudflare", "akamai", "fastly", "cloudfront"):
        cdn = "aws" if choice == "cloudfront" else choice
        hosting = rng.choice(
            {
                "cloudflare": ["ovh", "scaleway", "aws", "self"],
                "akamai": ["self", "aws", "ovh"],
                "fastly": ["aws", "scaleway"],
                "cloudfront": ["aws"],
            }[choice]
        )
        network = cdn
    elif choice == "azure":
        hosting = network = "microsoft"
    elif choice == "self-orange":
        hosting, network = "self", "orange"
    prov = PROVIDERS["aws" if choice == "cloudfront" else network]
    if not https and network in HTTP_ONLY:
        ips = [prov.ip(*HTTP_ONLY[network])] if network != "self" else [prov.ip(200, net)]
    elif tls == "tls10-only":
        ips = [TLS10_IP]
    elif network == "self":
        ips = [prov.ip(net, 10)]
    elif network == "orange":
        ips = [prov.ip(8, net)]
    elif choice in ("akamai", "fastly"):
        ips, www = (
            [prov.ip(1, 1), prov.ip(1, 2)],
            (
                "www",
                300,
                "CNAME",
                f"www.{d.name}.edgekey.net." if choice == "akamai" else "n.sni.global.fastly.net.",
            ),
        )
    elif choice == "cloudfront":
        ips, www = [prov.ip(4, 1), prov.ip(4, 2)], ("www", 300, "CNAME", f"d{index:07x}lab.cloudfront.net.")
    elif choice == "azure":
        ips, www = [prov.ip(1, 1)], ("www", 300, "CNAME", f"{d.name.split('.')[0]}.azurewebsites.net.")
    elif choice == "aws" and rng.random() < 0.5:
        ips, www = (
            [prov.ip(1, 1), prov.ip(1, 2)],
            ("www", 300, "CNAME", f"{d.name.split('.')[0]}-{1000 + index}.eu-west-3.elb.amazonaws.com."),
        )
    elif choice == "cloudflare":
        block = rng.randrange(0, 5, 2)
        ips = [prov.ip(1, 1 + block), prov.ip(1, 2 + block)]
    else:
        pool = WEB_POOLS[network]
        ips = [prov.ip(*rng.choice(pool))]
        if network == "ovh" and rng.random() < 0.4:
            ips = [prov.ip(1, 1 + index % 8)]
            www = ("www", 300, "CNAME", f"cluster{21 + index % 8:03d}.hosting.ovh.net.")
    aaaa = (
        [f"::ffff:{ips[0]}"]  # IPv4-mapped: the same server, on loopback
        if network not in ("self", "orange") and rng.random() < 0.3
        else []
    )
    d.records += [("@", 300, "A", ip) for ip in ips] + [("@", 300, "AAAA", ip) for ip in aaaa]
    d.records.append(www or ("www", 300, "CNAME", f"{d.name}."))
    ca = None
    if tls not in (None, "self-signed"):
        ca = {"cloudflare": "gts", "microsoft": "digicert"}.get(network) or pick(
            rng, {"letsencrypt": 55, "digicert": 12, "sectigo": 15, "gts": 8, "certinomis": 10}
        )
        if tls == "wrong-host":
            ca = "letsencrypt"
    features = pages.choose_features(rng)
    html, third = pages.render(d.name, title, features, index)
    if "matomo-self" in features:
        d.records.append(("stats", 300, "A", ips[0]))
    robots = rng.random() < 0.03
    d.site = Site(
        ip=ips[0],
        https=https,
        provider=network if cdn is None else cdn,
        tls=tls,
        ca=ca,
        redirect=pick(rng, {"https": 60, "https-www": 20, "none": 20}) if https else None,
        hsts=https and rng.random() < 0.4,
        security_headers=rng.random() < 0.35,
        cookie=rng.random() < 0.3,
        robots_disallow=robots,
        html=html.encode(),
    )
    if d.site.redirect == "none":
        d.site.redirect = None
    if rng.random() < 0.25 and ca is not None:
        issuer = CAS[ca][2] if rng.random() < 0.9 else "digicert.com" if ca != "digicert" else "sectigo.com"
        caa = [f'0 issue "{issuer}"'] + (
            [f'0 iodef "mailto:securite@{d.name}"'] if rng.random() < 0.3 else []
        )
        d.records += [("@", 3600, "CAA", v) for v in caa]
        t["caa"] = caa
    t.update(
        web_hosting=hosting,
        web_network=network,
        cdn=cdn,
        ca=ca,
        tls=tls,
        https=https,
        third_parties=third,
        robots_disallow=robots,
        hsts=d.site.hsts,
        addresses={"A": sorted(ips), "AAAA": aaaa},
    )


def _mail(rng: random.Random, d: Domain, kind: str, net: int, index: int) -> None:
    t = d.truth
    setup = pick(
        rng,
        {
            "m365": 22,
            "m365-gw": 10,
            "google": 10,
            "ovh": 25 if kind != "ministere" else 2,
            "gip-lab": 8 if kind in ("commune", "epci") else 0,
            "self": 10,
            "none": 4,
        },
    )
    dash = d.name.replace(".", "-")
    tenant = d.name.split(".")[0].replace("-", "")
    mx: list[tuple[int, str]] = []
    includes: list[str] = []
    if setup in ("m365", "m365-gw"):
        t.update(mailbox="microsoft", identity="microsoft")
        includes.append(SPF_INCLUDE["microsoft"])
        mx = [(0, f"{dash}.mail.protection.outlook.com")]
        d.records += [
            (
                f"selector{i}._domainkey",
                3600,
                "CNAME",
                f"selector{i}-{dash}._domainkey.{tenant}.onmicrosoft.com.",
            )
            for i in (1, 2)
        ]
        d.records.append(("autodiscover", 3600, "CNAME", "autodiscover.outlook.com."))
        d.records.append(("@", 3600, "TXT", f'"MS=ms{40000000 + index}"'))
        if setup == "m365-gw":
            gw = pick(rng, {"hornetsecurity": 4, "vade": 3, "mailinblack": 2, "proofpoint": 2})
            hosts, spf = GATEWAYS[gw]
            mx = [(10 * (i + 1), h.format(id=f"{index:08d}")) for i, h in enumerate(hosts)]
            includes.insert(0, spf)
            t["mail_gateway"] = gw
    elif setup == "google":
        t["mailbox"] = "google"
        mx = [
            (1, "aspmx.l.google.com"),
            (5, "alt1.aspmx.l.google.com"),
            (5, "alt2.aspmx.l.google.com"),
            (10, "alt3.aspmx.l.google.com"),
            (10, "alt4.aspmx.l.google.com"),
        ]
        includes.append(SPF_INCLUDE["google"])
        d.records.append(("google._domainkey", 3600, "TXT", DKIM_TXT))
    elif setup in ("ovh", "gip-lab"):
        t["mailbox"] = setup
        mx = (
            [(1, "mx1.mail.ovh.net"), (5, "mx2.mail.ovh.net"), (100, "mx3.mail.ovh.net")]
            if setup == "ovh"
            else [(10, "mail.gip-lab-numerique.fr")]
        )
        includes.append(SPF_INCLUDE[setup])
    elif setup == "self":
        infra = pick(rng, {"aws": 4, "ovh": 4, "self": 3})
        ip = PROVIDERS[infra].ip(3, 1 + index % 60) if infra != "self" else PROVIDERS["self"].ip(net, 25)
        t.update(mailbox="self", mailbox_infra=infra)
        mx = [(10, f"mail.{d.name}")]
        d.records += [
            ("mail", 300, "A", ip),
            ("mail._domainkey", 3600, "TXT", DKIM_ED25519_TXT),
        ]
    if setup != "none" and setup not in ("m365", "m365-gw") and rng.random() < 0.1:
        d.records.append(("@", 3600, "TXT", f'"MS=ms{40000000 + index}"'))
        d.records.append(("autodiscover", 3600, "CNAME", "autodiscover.outlook.com."))
        t["identity"] = "microsoft"
    if setup == "none":
        t["null_mx"] = rng.random() < 0.5
        if t["null_mx"]:
            d.records.append(("@", 3600, "MX", "0 ."))
        d.records.append(("@", 3600, "TXT", '"v=spf1 -all"'))
        t["spf"] = "v=spf1 -all"
        return
    d.records += [("@", 3600, "MX", f"{p} {h}.") for p, h in mx]
    t["mx"] = [h for _, h in sorted(mx)]
    _spf(rng, d, includes, index)
    _policies(rng, d, [h for _, h in mx])


def _spf(rng: random.Random, d: Domain, includes: list[str], index: int) -> None:
    variant = pick(
        rng, {"plain": 80, "redirect": 6, "none": 8, "too-many": 1, "void": 1, "plus-all": 2, "a-mx": 2}
    )
    if variant == "none":
        return
    qual = pick(rng, {"-all": 50, "~all": 42, "?all": 8})
    mech = " ".join(f"include:{i}" for i in includes)
    if variant == "plus-all":
        spf = f"v=spf1 {mech} +all"
    elif variant == "a-mx":
        spf = f"v=spf1 a mx {mech} {qual}"
    elif variant == "too-many":
        extra = [f"include:_spf{i}.{d.name}" for i in range(1, 10)]
        spf = f"v=spf1 a mx {mech} {' '.join(extra)} {qual}"
        d.records += [(f"_spf{i}", 3600, "TXT", f'"v=spf1 ip4:127.31.{i}.0/24 -all"') for i in range(1, 10)]
    elif variant == "void":
        spf = f"v=spf1 {mech} a:ancien1.{d.name} a:ancien2.{d.name} a:ancien3.{d.name} {qual}"
    elif variant == "redirect":
        spf = f"v=spf1 redirect=_spf.{d.name}"
        d.records.append(("_spf", 3600, "TXT", txt(f"v=spf1 {mech} {qual}")))
        d.truth["spf_redirected_to"] = f"v=spf1 {mech} {qual}"  # whose "all" ends the evaluation
    else:
        spf = f"v=spf1 {mech} {qual}"
    d.records.append(("@", 3600, "TXT", txt(spf)))
    d.truth["spf"] = spf
    d.truth["spf_variant"] = variant


def _policies(rng: random.Random, d: Domain, mx_hosts: list[str]) -> None:
    t = d.truth
    if rng.random() < 0.75:
        if rng.random() < 0.02:
            dmarc = "v=DMARC1; p=rejet"
        else:
            dmarc = "v=DMARC1; p=" + pick(rng, {"none": 40, "quarantine": 30, "reject": 30})
            if rng.random() < 0.2:
                dmarc += "; sp=" + rng.choice(["none", "quarantine", "reject"])
            if rng.random() < 0.1:
                dmarc += f"; pct={rng.choice([10, 25, 50])}"
            if rng.random() < 0.8:
                dmarc += f"; rua=mailto:dmarc@{d.name}"
            if rng.random() < 0.15:
                dmarc += f"; ruf=mailto:dmarc-forensic@{d.name}; fo=1"
        d.records.append(("_dmarc", 3600, "TXT", txt(dmarc)))
        t["dmarc"] = dmarc
    if rng.random() < 0.1:
        mode = pick(rng, {"enforce": 5, "testing": 4, "missing-policy": 1})
        d.records.append(("_mta-sts", 3600, "TXT", f'"v=STSv1; id=2025010{rng.randrange(1, 10)}T000000"'))
        d.records.append(
            ("mta-sts", 300, "A", d.site.ip if d.site and d.site.https else PROVIDERS["ovh"].ip(1, 1))
        )
        if mode != "missing-policy":
            lines = ["version: STSv1", f"mode: {mode}"] + [f"mx: {h}" for h in mx_hosts] + ["max_age: 604800"]
            d.mta_sts_policy = "\r\n".join(lines) + "\r\n"
        t["mta_sts"] = mode
    if rng.random() < 0.12:
        d.records.append(("_smtp._tls", 3600, "TXT", f'"v=TLSRPTv1; rua=mailto:tls-rpt@{d.name}"'))
        t["tlsrpt"] = True
