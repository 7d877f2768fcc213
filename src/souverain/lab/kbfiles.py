"""What the lab gives attribution: a KB overlay for its fictional operators, its network tables (the same
files it serves over HTTPS for ``souverain kb update``), and the map from lab provider keys to KB entities
used to grade attribution against ``truth.json``."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

from souverain.lab.profiles import SPF_INCLUDE
from souverain.lab.providers import PROVIDERS

__all__ = [
    "DATA_HOSTS",
    "LAB_KB",
    "TENANT_HOST",
    "THIRD_PARTY_KB",
    "data_files",
    "tenant_id",
    "write_kb_files",
    "write_tenant_files",
]

LAB_KB: dict[str, str] = {
    "ovh": "ovhcloud",
    "scaleway": "scaleway",
    "aws": "aws",
    "microsoft": "microsoft",
    "google": "google",
    "cloudflare": "cloudflare",
    "akamai": "akamai",
    "fastly": "fastly",
    "orange": "orange",
    "gandi": "gandi",
    "hornetsecurity": "hornetsecurity",
    "vade": "vade",
    "mailinblack": "mailinblack",
    "proofpoint": "proofpoint",
    "letsencrypt": "isrg",
    "digicert": "digicert",
    "sectigo": "sectigo",
    "gts": "google",
    "certinomis": "certinomis",
    "gip-lab": "gip-lab-numerique",
    "self": "self",
    "lab-hostile": "self",  # the hostile bench's domains are served by the bench organisation's own servers
}
"""Lab provider key → KB entity id (``self``: the organisation itself)."""

THIRD_PARTY_KB: dict[str, str] = {
    "www.googletagmanager.com": "google",
    "fonts.googleapis.com": "google",
    "fonts.gstatic.com": "google",
    "www.youtube.com": "google",
    "www.google.com": "google",
    "docs.google.com": "google",
    "tarteaucitron.io": "tarteaucitron",
    "cdn.jsdelivr.net": "jsdelivr",
    "tile.openstreetmap.org": "osmf",
    "res.cloudinary.com": "cloudinary",
    "player.vimeo.com": "vimeo",
    "js.hcaptcha.com": "intuition-machines",
    "geo.dailymotion.com": "dailymotion",
    "framaforms.org": "framasoft",
    "*.matomo.cloud": "innocraft",
}
"""Third-party host of the lab's pages → the KB entity that really runs it."""

DATA_HOSTS: dict[str, tuple[str, str, str, str]] = {
    # host → (table name, format, path on the host, address)
    "ip-ranges.amazonaws.com": ("aws", "aws", "/ip-ranges.json", "127.18.9.1"),
    "www.cloudflare.com": ("cloudflare", "cloudflare", "/ips-v4", "127.21.9.1"),
    "api.fastly.com": ("fastly", "fastly", "/public-ip-list", "127.23.9.1"),
    "iptoasn.com": ("iptoasn", "iptoasn", "/data/ip2asn-combined.tsv.gz", "127.53.9.1"),
}
"""Lab copies of the published tables ``souverain kb update`` fetches (same URLs as on the internet)."""

TENANT_HOST = ("login.microsoftonline.com", "127.19.9.1")
"""The identity provider the optional ``tenant`` probe asks; the lab answers for its Microsoft tenants."""


def tenant_id(domain: str) -> str:
    """A stable, fake tenant GUID for a lab domain."""
    import hashlib

    h = hashlib.sha256(domain.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def write_tenant_files(domains: dict[str, dict[str, object]], lab: Path) -> None:
    """OpenID configuration documents of the lab's Microsoft tenants (the truth's ``identity``)."""
    host = TENANT_HOST[0]
    for name, truth in domains.items():
        if truth.get("identity") != "microsoft":
            continue
        guid = tenant_id(name)
        doc = {
            "issuer": f"https://{host}/{guid}/v2.0",
            "token_endpoint": f"https://{host}/{guid}/oauth2/v2.0/token",
            "tenant_region_scope": "EU",
        }
        target = lab / "www" / "_data" / host / name / "v2.0" / ".well-known" / "openid-configuration"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc), encoding="utf-8")


def _both(prefix16: str) -> list[str]:
    return [prefix16, f"::ffff:{prefix16.split('/')[0]}/112"]


def data_files() -> dict[str, bytes]:
    """Table name → file content, in the providers' own formats, describing the lab's address plan."""
    aws = PROVIDERS["aws"].prefix
    cloudfront = "127.18.4.0/24"
    assert aws is not None
    ranges = {
        "syncToken": "1700000000",
        "createDate": "2026-01-01-00-00-00",
        "prefixes": [
            {
                "ip_prefix": aws,
                "region": "eu-west-3",
                "service": "AMAZON",
                "network_border_group": "eu-west-3",
            },
            {"ip_prefix": aws, "region": "eu-west-3", "service": "EC2", "network_border_group": "eu-west-3"},
            {
                "ip_prefix": cloudfront,
                "region": "GLOBAL",
                "service": "CLOUDFRONT",
                "network_border_group": "GLOBAL",
            },
        ],
        "ipv6_prefixes": [
            {"ipv6_prefix": "::ffff:127.18.0.0/112", "region": "eu-west-3", "service": "AMAZON"},
            {"ipv6_prefix": "::ffff:127.18.4.0/120", "region": "GLOBAL", "service": "CLOUDFRONT"},
        ],
    }
    cf = PROVIDERS["cloudflare"].prefix or ""
    fastly = PROVIDERS["fastly"].prefix or ""
    rows = []
    for p in PROVIDERS.values():
        if p.octet is not None and p.asn is not None:
            rows.append(
                f"127.{p.octet}.0.0\t127.{p.octet}.255.255\t{p.asn}\t{p.country or 'ZZ'}\t{p.as_name}"
            )
    return {
        "aws": json.dumps(ranges, indent=1).encode(),
        "cloudflare": (cf + "\n").encode(),
        "fastly": json.dumps({"addresses": [fastly], "ipv6_addresses": ["::ffff:127.23.0.0/112"]}).encode(),
        "iptoasn": gzip.compress(("\n".join(rows) + "\n").encode(), mtime=0),
    }


def _overlay(today: dt.date) -> str:
    gip = PROVIDERS["gip-lab"]
    src = f"source: souverain lab world (fictional), checked: {today.isoformat()}, verified: true"
    return f"""# KB overlay of the lab: fictional operators that exist only in the lab world.
entities:
  - id: gip-lab-numerique
    name: {gip.name}
    kind: public-operator
    country: FR
    lab_fictional: true
    facts: {{{src}}}
    signatures:
      - {{kind: mx, value: "mail.gip-lab-numerique.fr", role: mailbox, {src}}}
      - {{kind: spf, value: "{SPF_INCLUDE["gip-lab"]}", role: mailbox, {src}}}
      - {{kind: prefix, value: "{gip.prefix}", role: mailbox, {src}}}
"""


def write_kb_files(lab: Path, today: dt.date | None = None) -> None:
    """``kb/lab.yaml`` (overlay), ``networks/`` (tables + manifest) and ``www/_data/<host>/…`` (served)."""
    today = today or dt.date.today()
    (lab / "kb").mkdir(parents=True, exist_ok=True)
    (lab / "kb" / "lab.yaml").write_text(_overlay(today), encoding="utf-8")
    nets = lab / "networks"
    nets.mkdir(parents=True, exist_ok=True)
    files = data_files()
    tables = []
    for host, (name, fmt, path, _ip) in DATA_HOSTS.items():
        if fmt == "iptoasn":
            continue  # the lab's prefixes.tsv carries the ASNs; the iptoasn copy is only served
        fname = f"{name}{Path(path).suffix or '.txt'}"
        (nets / fname).write_bytes(files[name])
        tables.append({"name": name, "format": fmt, "file": fname, "url": f"https://{host}{path}",
                       "fetched": today.isoformat(), "note": "lab copy"})  # fmt: skip
    (nets / "manifest.json").write_text(json.dumps({"tables": tables}, indent=1) + "\n")
    for host, (name, _fmt, path, _ip) in DATA_HOSTS.items():
        target = lab / "www" / "_data" / host / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[name])
