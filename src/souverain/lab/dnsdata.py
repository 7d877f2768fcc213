"""Zone contents: the lab root, TLDs, provider zones and one zone per organisation domain."""

from __future__ import annotations

from dataclasses import dataclass, field

from souverain.lab.kbfiles import DATA_HOSTS, TENANT_HOST
from souverain.lab.model import Record, World
from souverain.lab.pages import THIRD_PARTY_HOSTS
from souverain.lab.profiles import DKIM_TXT
from souverain.lab.providers import (
    AWS_NS,
    AWS_NS_ZONES,
    CLOUDFLARE_NS,
    GANDI_NS,
    OVH_NS,
    PROVIDERS,
    ROOT_NS,
    TLD_NS,
    TLDS,
)


@dataclass(slots=True)
class Zone:
    origin: str
    records: list[Record]
    ns: list[str]
    sign: str = "unsigned"
    glue: dict[str, str] = field(default_factory=dict)


def _ip(key: str, block: int, host: int) -> str:
    return PROVIDERS[key].ip(block, host)


def _provider_records() -> dict[str, tuple[str, list[Record]]]:
    """zone → (provider key of its name server, records)."""
    z: dict[str, tuple[str, list[Record]]] = {}

    def add(zone: str, key: str, *recs: Record) -> None:
        z.setdefault(zone, (key, []))[1].extend(recs)

    for i, (a, b) in enumerate(OVH_NS):
        add(
            "ovh.net",
            "ovh",
            (a.split(".")[0], 3600, "A", _ip("ovh", 0, 10 + 2 * i)),
            (b.split(".")[0], 3600, "A", _ip("ovh", 0, 11 + 2 * i)),
        )
    for i in range(8):
        add("ovh.net", "ovh", (f"cluster{21 + i:03d}.hosting", 300, "A", _ip("ovh", 1, 1 + i)))
    add("ovh.net", "ovh", *[(f"mx{i}.mail", 300, "A", _ip("ovh", 2, i)) for i in (1, 2, 3)])
    add(
        "ovh.com",
        "ovh",
        ("mx", 3600, "TXT", '"v=spf1 ip4:127.16.2.0/24 ~all"'),
        ("@", 300, "A", _ip("ovh", 1, 1)),
    )
    for i, (a, b) in enumerate(CLOUDFLARE_NS):
        add(
            "cloudflare.com",
            "cloudflare",
            (a.split(".")[0] + ".ns", 3600, "A", _ip("cloudflare", 0, 10 + 2 * i)),
            (b.split(".")[0] + ".ns", 3600, "A", _ip("cloudflare", 0, 11 + 2 * i)),
        )
    for i, hosts in enumerate(GANDI_NS):
        add(
            "gandi.net",
            "gandi",
            *[(h.split(".")[0], 3600, "A", _ip("gandi", 0, 10 + 3 * i + j)) for j, h in enumerate(hosts)],
        )
    for zone in AWS_NS_ZONES:
        add(zone, "aws")
    for i, hosts in enumerate(AWS_NS):
        for j, h in enumerate(hosts):
            label, zone = h.split(".", 1)
            add(zone, "aws", (label, 3600, "A", _ip("aws", 0, 10 + 3 * i + j)))
    add("amazonaws.com", "aws", *[("*.eu-west-3.elb", 60, "A", _ip("aws", 1, h)) for h in (1, 2)])
    add("cloudfront.net", "aws", *[("*", 60, "A", _ip("aws", 4, h)) for h in (1, 2)])
    add(
        "outlook.com",
        "microsoft",
        *[("*.mail.protection", 300, "A", _ip("microsoft", 2, h)) for h in (1, 2)],
        (
            "spf.protection",
            3600,
            "TXT",
            '"v=spf1 ip4:127.19.2.0/24 include:spfd.protection.outlook.com -all"',
        ),
        ("spfd.protection", 3600, "TXT", '"v=spf1 ip4:127.19.3.0/24 -all"'),
        ("autodiscover", 300, "A", _ip("microsoft", 4, 1)),
    )
    add("onmicrosoft.com", "microsoft", ("*", 3600, "TXT", DKIM_TXT))
    add("azurewebsites.net", "microsoft", ("*", 300, "A", _ip("microsoft", 1, 1)))
    g = "google"
    add(
        "google.com",
        g,
        ("aspmx.l", 300, "A", _ip(g, 2, 1)),
        *[(f"alt{i}.aspmx.l", 300, "A", _ip(g, 2, 1 + i)) for i in range(1, 5)],
        ("gmail-smtp-in.l", 300, "A", _ip(g, 2, 10)),
        ("_spf", 300, "TXT", '"v=spf1 include:_netblocks.google.com include:_netblocks2.google.com ~all"'),
        ("_netblocks", 300, "TXT", '"v=spf1 ip4:127.20.2.0/24 ~all"'),
        ("_netblocks2", 300, "TXT", '"v=spf1 ip4:127.20.3.0/24 ~all"'),
        ("www", 300, "A", _ip(g, 1, 4)),
        ("docs", 300, "A", _ip(g, 1, 5)),
    )
    add("gmail.com", g, ("@", 3600, "MX", "5 gmail-smtp-in.l.google.com."))
    add("googletagmanager.com", g, ("www", 300, "A", _ip(g, 1, 1)))
    add("googleapis.com", g, ("fonts", 300, "A", _ip(g, 1, 2)))
    add("gstatic.com", g, ("fonts", 300, "A", _ip(g, 1, 3)), ("www", 300, "A", _ip(g, 1, 3)))
    add("youtube.com", g, ("www", 300, "A", _ip(g, 1, 6)))
    add("akamaiedge.net", "akamai", *[("e1234.a", 60, "A", _ip("akamai", 1, h)) for h in (1, 2)])
    add("edgekey.net", "akamai", ("*", 300, "CNAME", "e1234.a.akamaiedge.net."))
    add("fastly.net", "fastly", *[("n.sni.global", 60, "A", _ip("fastly", 1, h)) for h in (1, 2)])
    for key, zone, mxs, spf in (
        ("hornetsecurity", "hornetsecurity.com", ["mx-gw01", "mx-gw02"], "spf"),
        ("vade", "vadesecure.com", ["mx1-fr", "mx2-fr"], "_spf"),
        ("mailinblack", "mailinblack.com", ["mx1", "mx2"], "spf"),
        ("proofpoint", "pphosted.com", ["*"], "_spf"),
    ):
        octet = PROVIDERS[key].octet
        add(
            zone,
            key,
            *[(m, 300, "A", _ip(key, 2, i + 1)) for i, m in enumerate(mxs)],
            (spf, 3600, "TXT", f'"v=spf1 ip4:127.{octet}.2.0/24 -all"'),
        )
    add(
        "gip-lab-numerique.fr",
        "gip-lab",
        ("mail", 300, "A", _ip("gip-lab", 2, 1)),
        ("spf", 3600, "TXT", '"v=spf1 ip4:127.30.2.0/24 -all"'),
        ("@", 300, "A", _ip("gip-lab", 1, 1)),
    )
    add(
        "orange.fr",
        "orange",
        ("smtp-in", 300, "A", _ip("orange", 2, 1)),
        ("@", 3600, "MX", "10 smtp-in.orange.fr."),
    )
    add("wanadoo.fr", "orange", ("@", 3600, "MX", "10 smtp-in.orange.fr."))
    add(
        "laposte.net",
        "thirdparty",
        ("@", 3600, "MX", "10 mx.laposte.net."),
        ("mx", 300, "A", _ip("thirdparty", 2, 1)),
    )
    add("matomo.cloud", "thirdparty", ("*", 300, "A", _ip("thirdparty", 1, 1)))
    # origin AS lookups in the Team Cymru format, for the lab's address plan
    for p in PROVIDERS.values():
        if p.octet is not None and p.asn is not None:
            text = f'"{p.asn} | 127.{p.octet}.0.0/16 | {p.country or "ZZ"} | lab | 2026-01-01"'
            add("cymru.com", "lab-infra", (f"*.{p.octet}.127.origin.asn", 3600, "TXT", text))
    # lab copies of published network tables (souverain kb update)
    for host, ip in data_host_ips().items():
        zone = _tp_zone(host)
        label = host[: -len(zone) - 1] or "@"
        add(zone, data_host_zone_key(host), (label, 300, "A", ip))
    for i, host in enumerate(
        h for h in THIRD_PARTY_HOSTS if _tp_zone(h) not in z or h.endswith("matomo.cloud")
    ):
        zone = _tp_zone(host)
        label = host[: -len(zone) - 1] or "@"
        add(zone, "thirdparty", (label, 300, "A", _ip("thirdparty", 1, 10 + i)))
    return z


def data_host_zone_key(host: str) -> str:
    """Provider key whose /16 holds a data host's address (its zone's name server lives there too)."""
    ip = data_host_ips()[host]
    octet = int(ip.split(".")[1])
    return next(k for k, p in PROVIDERS.items() if p.octet == octet)


def data_host_ips() -> dict[str, str]:
    """Hostname → address of every lab data host (served by nginx)."""
    return {**{host: ip for host, (_n, _f, _p, ip) in DATA_HOSTS.items()}, TENANT_HOST[0]: TENANT_HOST[1]}


def _tp_zone(host: str) -> str:
    return ".".join(host.split(".")[-2:])


def third_party_ips() -> dict[str, str]:
    """Hostname → address of every third-party host that nginx serves."""
    out: dict[str, str] = {}
    for zone, (_, recs) in _provider_records().items():
        for owner, _, rtype, rdata in recs:
            host = zone if owner == "@" else f"{owner}.{zone}"
            if rtype == "A" and (host in THIRD_PARTY_HOSTS or (owner == "*" and zone == "matomo.cloud")):
                out.setdefault(host, rdata)
    return out


SIGNED_PROVIDER_ZONES = frozenset({"gip-lab-numerique.fr", "cloudflare.com"})


def build_zones(world: World) -> list[Zone]:
    """Every zone of the lab, leaves first; parents carry NS, glue and DS-needed markers."""
    zones: list[Zone] = []
    tld_recs: dict[str, list[Record]] = {t: [] for t in TLDS}
    tld_deleg: dict[str, list[tuple[str, list[str], dict[str, str], bool]]] = {t: [] for t in TLDS}
    for zone, (key, recs) in _provider_records().items():
        ns = f"ns1.{zone}"
        glue = {ns: PROVIDERS[key].ip(0, 250)}
        zones.append(
            Zone(
                zone,
                [*recs, ("ns1", 3600, "A", glue[ns])],
                [ns],
                "signed" if zone in SIGNED_PROVIDER_ZONES else "unsigned",
            )
        )
        tld_deleg[zone.rsplit(".", 1)[1]].append((zone, [ns], glue, zone in SIGNED_PROVIDER_ZONES))
    for d in world.domains.values():
        tld = d.name.rsplit(".", 1)[1]
        parent = "fr" if d.name.endswith(".gouv.fr") else tld
        tld_recs[parent] += d.tld_records
        if d.ns:
            glue = {h: a for h, a in d.glue.items()}
            tld_deleg[parent].append((d.name, d.ns, glue, d.dnssec != "unsigned"))
        if d.zone:
            zones.append(Zone(d.name, list(d.records), d.ns, d.dnssec, dict(d.glue)))
    tld_recs["fr"].append(("d.nic", 3600, "A", TLD_NS["fr"][1]))
    tld_recs["net"] += [
        ("a.root-servers", 3600, "A", ROOT_NS[1]),
        ("a.gtld-servers", 3600, "A", TLD_NS["*"][1]),
    ]
    root: list[Record] = [("a.root-servers.net.", 3600, "A", ROOT_NS[1])]
    for tld in TLDS:
        recs = list(tld_recs[tld])
        for child, ns_hosts, glue, secure in sorted(tld_deleg[tld]):
            rel = child[: -len(tld) - 1]
            recs += [(rel, 3600, "NS", f"{h}.") for h in ns_hosts]
            recs += [(h[: -len(tld) - 1], 3600, "A", a) for h, a in glue.items() if h.endswith(f".{tld}")]
            if secure:
                recs.append((rel, 3600, "DS", "@key"))
        tns = TLD_NS.get(tld, TLD_NS["*"])
        zones.append(Zone(tld, recs, [tns[0]], "signed"))
        root += [(tld, 172800, "NS", f"{tns[0]}."), (tld, 86400, "DS", "@key")]
    root.append(("d.nic.fr.", 3600, "A", TLD_NS["fr"][1]))
    root.append(("a.gtld-servers.net.", 3600, "A", TLD_NS["*"][1]))
    zones.append(Zone(".", root, [ROOT_NS[0]], "signed"))
    return zones
