"""Attribution rules on a small test KB: mail through gateways, self-run servers, CDN and transit networks,
identity tenants, third parties — and "undetermined" rather than a guess."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from souverain.attribution.engine import SELF, Attributor, Dependency
from souverain.attribution.observe import HostAddresses, Observation
from souverain.kb.load import load_kb
from souverain.kb.netdata import NetworkData

ALL = {"web", "ns", "mx", "spf", "dkim", "autodiscover", "txt", "tls", "http", "page"}


@pytest.fixture()
def attributor(tiny_kb_dir: Path) -> Attributor:
    nets = NetworkData.load(prefix_tsvs=[tiny_kb_dir.parent / "prefixes.tsv"])
    return Attributor(load_kb([tiny_kb_dir]), nets, dt.date(2026, 6, 1))


def obs(**kw: Any) -> Observation:
    o = Observation(kw.pop("domain", "mairie.example"), **kw)
    o.observed = set(ALL)
    return o


def only(deps: list[Dependency], role: str) -> list[Dependency]:
    return [d for d in deps if d.role == role]


def test_gateway_is_looked_through_with_dkim(attributor: Attributor) -> None:
    deps = attributor.attribute(
        obs(
            mx=[HostAddresses("mx1.acme-mail.fr")],
            dkim=[("selector1", "s1._domainkey.t.softcorp-tenant.example")],
        )
    )
    gw = only(deps, "mail-gateway")
    box = only(deps, "mailbox")
    assert [(d.operator, d.confidence) for d in gw] == [("acme-mail", "high")]
    assert [(d.operator, d.confidence) for d in box] == [("softcorp", "high")]
    assert {r.signal for r in box[0].reasons} == {"dkim"}
    # the gateway's exposure comes through its owners (bought by a US group in December 2025)
    assert gw[0].exposures[0]["law"] == "us-cloud-act"
    assert gw[0].exposures[0]["via"] == ["acme-mail", "bigco-de", "usparent"]
    assert only(deps, "identity-suite")[0].operator == "softcorp"


def test_gateway_without_other_signal_leaves_mailbox_undetermined(attributor: Attributor) -> None:
    # SPF names the mailbox provider, but SPF alone never decides
    deps = attributor.attribute(
        obs(mx=[HostAddresses("mx1.acme-mail.fr")], spf_includes=["spf.softcorp.example"])
    )
    box = only(deps, "mailbox")
    assert [(d.operator, d.confidence) for d in box] == [(None, "none")]


def test_spf_is_agreeing_evidence_only(attributor: Attributor) -> None:
    deps = attributor.attribute(
        obs(mx=[HostAddresses("eu.mail.softcorp.example")], spf_includes=["spf.softcorp.example"])
    )
    box = only(deps, "mailbox")[0]
    assert box.operator == "softcorp"
    assert [r.signal for r in box.reasons] == ["mx", "spf"]


def test_direct_mx_wins_over_a_leftover_tenant(attributor: Attributor) -> None:
    deps = attributor.attribute(
        obs(mx=[HostAddresses("mx.mail.hostfr.example")], autodiscover=["autodiscover.softcorp.example"],
            txt=["SC=123"])
    )  # fmt: skip
    assert [d.operator for d in only(deps, "mailbox")] == ["hostfr"]
    ident = only(deps, "identity-suite")
    assert [(d.operator, d.confidence) for d in ident] == [("softcorp", "medium")]


def test_verification_token_alone_is_not_an_identity_dependency(attributor: Attributor) -> None:
    deps = attributor.attribute(obs(mx=[HostAddresses("mx.mail.hostfr.example")], txt=["SC=123"]))
    assert only(deps, "identity-suite") == []


def test_self_run_mail_server_depends_on_its_network(attributor: Attributor) -> None:
    deps = attributor.attribute(obs(mx=[HostAddresses("mail.mairie.example", ["192.0.2.10"])]))
    box = only(deps, "mailbox")[0]
    assert (box.operator, box.infrastructure, box.confidence) == (SELF, "softcorp", "medium")
    assert [e["through"] for e in box.exposures] == ["infrastructure"]


def test_unknown_mx_outside_own_domain_is_undetermined(attributor: Attributor) -> None:
    deps = attributor.attribute(obs(mx=[HostAddresses("mx.unknown-provider.example", ["192.0.2.140"])]))
    box = only(deps, "mailbox")[0]
    assert box.operator is None
    assert box.infrastructure == "hostfr"


def test_cdn_in_front_hides_the_origin(attributor: Attributor) -> None:
    deps = attributor.attribute(
        obs(web_host="mairie.example", web_addresses=["198.51.100.7"], headers={"x-edge-id": "abc"})
    )
    cdn = only(deps, "cdn")[0]
    hosting = only(deps, "web-hosting")[0]
    assert (cdn.operator, cdn.confidence) == ("edgeco", "medium")
    assert {r.signal for r in cdn.reasons} == {"asn", "header"}
    assert hosting.operator is None and hosting.reasons[0].signal == "cdn-in-front"


def test_transit_network_attributes_nothing(attributor: Attributor) -> None:
    deps = attributor.attribute(obs(web_host="mairie.example", web_addresses=["203.0.113.9"]))
    hosting = only(deps, "web-hosting")[0]
    assert hosting.operator is None
    assert hosting.reasons[0].signal == "transit"


def test_asn_attribution_is_medium_and_cname_high(attributor: Attributor) -> None:
    by_asn = only(
        attributor.attribute(obs(web_host="mairie.example", web_addresses=["192.0.2.5"])), "web-hosting"
    )
    assert (by_asn[0].operator, by_asn[0].confidence) == ("softcorp", "medium")
    by_cname = only(
        attributor.attribute(
            obs(
                web_host="mairie.example", web_addresses=["192.0.2.5"], web_cnames=["m.softcorpsites.example"]
            )
        ),
        "web-hosting",
    )
    assert (by_cname[0].operator, by_cname[0].confidence) == ("softcorp", "high")


def test_addresses_in_two_networks_are_a_conflict(attributor: Attributor) -> None:
    deps = attributor.attribute(obs(web_host="mairie.example", web_addresses=["192.0.2.5", "192.0.2.150"]))
    hosting = only(deps, "web-hosting")[0]
    assert hosting.operator is None and hosting.reasons[-1].signal == "conflict"


def test_no_table_covers_the_address(attributor: Attributor) -> None:
    deps = attributor.attribute(obs(web_host="mairie.example", web_addresses=["100.64.0.1"]))
    assert only(deps, "web-hosting")[0].operator is None


def test_origin_lookup_evidence_is_the_fallback(attributor: Attributor) -> None:
    o = obs(web_host="mairie.example", web_addresses=["100.64.0.1"])
    o.origins = {"100.64.0.1": (64001, "100.64.0.0/10")}
    hosting = only(attributor.attribute(o), "web-hosting")[0]
    assert hosting.operator == "hostfr"
    assert "100.64.0.0/10" in hosting.reasons[0].value


def test_dns_hosting_provider_and_own_name_servers(attributor: Attributor) -> None:
    deps = attributor.attribute(
        obs(ns=[HostAddresses("ns1.dns.hostfr.example"), HostAddresses("ns2.dns.hostfr.example")])
    )
    assert [(d.operator, d.confidence, len(d.reasons)) for d in only(deps, "dns-hosting")] == [
        ("hostfr", "high", 2)
    ]
    own = only(
        attributor.attribute(obs(ns=[HostAddresses("ns1.mairie.example", ["192.0.2.130"])])), "dns-hosting"
    )
    assert [(d.operator, d.infrastructure) for d in own] == [(SELF, "hostfr")]


def test_ca_and_third_parties(attributor: Attributor) -> None:
    deps = attributor.attribute(
        obs(
            cert_issuer="Softcorp CA",
            third_party={"tags.softcorp.example": ["script"], "cdn.nobody.example": []},
        )
    )
    assert [d.operator for d in only(deps, "certificate-authority")] == ["softcorp"]
    page = [d for d in deps if d.scope == "page"]
    assert {(d.subject, d.role, d.operator) for d in page} == {
        ("tags.softcorp.example", "analytics", "softcorp"),
        ("cdn.nobody.example", "third-party", None),
    }
    unknown = obs(third_party={"cdn.nobody.example": ["script"]},
                  third_party_addresses={"cdn.nobody.example": ["192.0.2.140"]})  # fmt: skip
    dep = attributor.attribute(unknown)[0]
    assert (dep.operator, dep.infrastructure) == (None, "hostfr")
    assert [r.signal for r in dep.reasons] == ["no-match", "asn"]
    self_signed = obs(cert_issuer="mairie.example", cert_self_issued=True)
    assert only(attributor.attribute(self_signed), "certificate-authority") == []


def test_unobserved_means_no_dependency(attributor: Attributor) -> None:
    o = Observation("mairie.example", mx=[HostAddresses("eu.mail.softcorp.example")])
    assert attributor.attribute(o) == []  # nothing marked observed: nothing concluded


def test_observation_round_trip_and_errors() -> None:
    o = obs(
        mx=[HostAddresses("mx.example", ["192.0.2.1"])],
        dkim=[("s1", "t.example")],
        origins={"192.0.2.1": (1, "x")},
    )
    again = Observation.from_dict(o.to_dict())
    assert again.mx[0].addresses == ["192.0.2.1"] and again.dkim == [("s1", "t.example")]
    assert again.observed == o.observed
    with pytest.raises(ValueError, match="domain"):
        Observation.from_dict({"mx": []})
    with pytest.raises(ValueError, match="mx"):
        Observation.from_dict({"domain": "a.fr", "mx": [3]})
