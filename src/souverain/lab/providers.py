"""Provider catalogue and the lab address plan: one 127.x.0.0/16 per operator, mapped to its real ASN."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Provider:
    """An operator of the lab world. ``asn`` is None when not verified (never invented)."""

    key: str
    name: str
    country: str | None
    octet: int | None
    asn: int | None = None
    as_name: str = ""
    note: str = ""
    lab_fictional: bool = False

    @property
    def prefix(self) -> str | None:
        return None if self.octet is None else f"127.{self.octet}.0.0/16"

    def ip(self, block: int, host: int) -> str:
        assert self.octet is not None
        return f"127.{self.octet}.{block}.{host}"


_ALL = [
    Provider("ovh", "OVHcloud", "FR", 16, 16276, "OVH"),
    Provider("scaleway", "Scaleway", "FR", 17, 12876, "ONLINE S.A.S."),
    Provider("aws", "Amazon Web Services", "US", 18, 16509, "AMAZON-02"),
    Provider("microsoft", "Microsoft", "US", 19, 8075, "MICROSOFT-CORP-MSN-AS-BLOCK"),
    Provider("google", "Google", "US", 20, 15169, "GOOGLE"),
    Provider("cloudflare", "Cloudflare", "US", 21, 13335, "CLOUDFLARENET"),
    Provider("akamai", "Akamai", "US", 22, 20940, "AKAMAI-ASN1"),
    Provider("fastly", "Fastly", "US", 23, 54113, "FASTLY"),
    Provider("orange", "Orange", "FR", 24, 3215, "Orange S.A.", "transit/business access, not a host"),
    Provider("gandi", "Gandi", "FR", 25, None, "", "ASN unverified"),
    Provider("hornetsecurity", "Hornetsecurity", "DE", 26, None, "", "ASN unverified"),
    Provider("vade", "Vade", "FR", 27, None, "", "ASN unverified"),
    Provider("mailinblack", "Mailinblack", "FR", 28, None, "", "ASN unverified"),
    Provider("proofpoint", "Proofpoint", "US", 29, None, "", "ASN unverified"),
    Provider(
        "gip-lab",
        "GIP Lab Numérique (fictional public operator)",
        "FR",
        30,
        None,
        "",
        "lab-fictional",
        lab_fictional=True,
    ),
    Provider(
        "self",
        "the organisation itself",
        "FR",
        31,
        None,
        "",
        "lab-fictional networks of public bodies",
        lab_fictional=True,
    ),
    Provider(
        "thirdparty",
        "assorted third-party services",
        None,
        40,
        None,
        "",
        "unverified: hosts of several companies",
        lab_fictional=True,
    ),
    Provider(
        "lab-hostile", "lab hostile test bench", None, 66, None, "", "lab-fictional", lab_fictional=True
    ),
    Provider(
        "lab-infra",
        "lab root and TLD servers, resolver",
        None,
        53,
        None,
        "",
        "lab-fictional",
        lab_fictional=True,
    ),
    Provider("letsencrypt", "Let's Encrypt (ISRG)", "US", None),
    Provider("digicert", "DigiCert", "US", None),
    Provider("sectigo", "Sectigo", None, None, None, "", "country unverified"),
    Provider("gts", "Google Trust Services", "US", None),
    Provider("certinomis", "Certinomis", "FR", None),
]
PROVIDERS: dict[str, Provider] = {p.key: p for p in _ALL}

CAS: dict[str, tuple[str, str, str]] = {
    "letsencrypt": ("Let's Encrypt", "R11 (lab)", "letsencrypt.org"),
    "digicert": ("DigiCert Inc", "DigiCert Global G2 TLS RSA SHA256 2020 CA1 (lab)", "digicert.com"),
    "sectigo": ("Sectigo Limited", "Sectigo RSA Domain Validation Secure Server CA (lab)", "sectigo.com"),
    "gts": ("Google Trust Services", "WE1 (lab)", "pki.goog"),
    "certinomis": ("Certinomis", "Certinomis - Easy CA (lab)", "certinomis.com"),
}
"""CA key → (organisation, intermediate CN, CAA issuer domain)."""

RESOLVER = "127.53.0.53"
ROOT_NS = ("a.root-servers.net", "127.53.1.1")
TLD_NS = {"fr": ("d.nic.fr", "127.53.2.1"), "*": ("a.gtld-servers.net", "127.53.2.2")}
TLDS = ("fr", "com", "net", "org", "io", "cloud", "bzh", "re")

# Web IP pools: provider → list of (block, host); block 5 is http-only (nginx does not listen on 443).
WEB_POOLS: dict[str, list[tuple[int, int]]] = {
    "ovh": [(1, h) for h in range(1, 9)],
    "scaleway": [(1, h) for h in range(1, 5)],
    "aws": [(1, h) for h in range(1, 7)],
    "microsoft": [(1, h) for h in range(1, 5)],
    "cloudflare": [(1, h) for h in range(1, 7)],
    "akamai": [(1, h) for h in range(1, 4)],
    "fastly": [(1, h) for h in range(1, 4)],
    "cloudfront": [(4, h) for h in range(1, 5)],
}
HTTP_ONLY = {"ovh": (5, 1), "scaleway": (5, 1), "self": (200, 1)}
SELF_NETWORKS = 8
TLS10_IP = "127.31.250.1"
HOSTILE_IPS = {
    "silence": "127.66.1.1",
    "redirect-loop": "127.66.1.2",
    "huge-page": "127.66.1.3",
    "gzip-bomb": "127.66.1.4",
    "tls-garbage": "127.66.1.5",
    "dns-timeout": "127.66.53.1",
}

# Name servers: provider → list of NS-set; each NS host gets an address in the provider /16, block 0.
OVH_NS = [(f"dns{n}.ovh.net", f"ns{n}.ovh.net") for n in (10, 11, 12, 13, 14, 15, 16, 17, 18, 19)]
CLOUDFLARE_NS = [
    (f"{a}.ns.cloudflare.com", f"{b}.ns.cloudflare.com")
    for a, b in (("ada", "bob"), ("cruz", "dina"), ("eve", "finn"), ("gail", "hank"))
]
GANDI_NS = [
    ("ns-101-a.gandi.net", "ns-215-b.gandi.net", "ns-66-c.gandi.net"),
    ("ns-17-a.gandi.net", "ns-33-b.gandi.net", "ns-140-c.gandi.net"),
]
AWS_NS = [
    ("ns-1024.awsdns-00.org", "ns-205.awsdns-25.com", "ns-700.awsdns-23.net"),
    ("ns-1536.awsdns-00.org", "ns-12.awsdns-01.com", "ns-813.awsdns-37.net"),
]
AWS_NS_ZONES = ("awsdns-00.org", "awsdns-25.com", "awsdns-01.com", "awsdns-23.net", "awsdns-37.net")


def prefixes_tsv() -> str:
    """The lab prefix table: prefix, ASN (empty when unverified), AS name, comment."""
    lines = ["# prefix\tasn\tas_name\tcomment (lab prefixes on 127.0.0.0/8 -> real operators' ASNs)"]
    for p in _ALL:
        if p.octet is None:
            continue
        comment = p.note or p.name
        if p.asn is None and "unverified" not in comment and not p.lab_fictional:
            comment += " (unverified)"
        for prefix in (p.prefix, f"::ffff:127.{p.octet}.0.0/112"):
            lines.append(f"{prefix}\t{p.asn or ''}\t{p.as_name}\t{comment}")
    return "\n".join(lines) + "\n"
