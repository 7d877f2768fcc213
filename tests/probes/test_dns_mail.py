"""DNS client, dns probe and mail probe against a loopback DNS responder (and an HTTPS policy server)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from probes.world import HTTPS_PORT, TestCA, World
from souverain.evidence import Evidence, Status
from souverain.net import Net
from souverain.probes import run_target


def test_dns_client_statuses_and_cache(ca: TestCA) -> None:
    async def main() -> None:
        async with World(ca) as world:
            server = world.dns
            server.add("ok.test", "A", "127.0.0.10")
            server.add("ok.test", "SOA", "ns.ok.test. admin.ok.test. 1 2 3 4 5")
            server.cnames["alias.ok.test"] = "mid.ok.test"
            server.cnames["mid.ok.test"] = "ok.test"
            server.cnames["loop1.test"] = "loop2.test"
            server.cnames["loop2.test"] = "loop1.test"
            server.servfail.add("broken.test")
            server.refused.add("refused.test")
            server.silent.add("silent.test")
            server.truncate.add("big.test")
            server.add("big.test", "TXT", "x" * 600)
            server.secure.add("ok.test")
            async with Net(world.config(dns_timeout=0.6)) as net:
                dns = net.dns
                results = await asyncio.gather(*(dns.query("ok.test", "A") for _ in range(20)))
                assert sum(1 for q in server.queries if q[1:] == ("ok.test", "A")) == 1
                ok = results[0]
                assert ok.status is Status.OK and ok.rrs == ["127.0.0.10"] and ok.ad is True
                nodata = await dns.query("ok.test", "MX")
                assert nodata.status is Status.OK and nodata.nodata and nodata.to_dict()["nodata"] is True
                alias = await dns.query("alias.ok.test", "A")
                assert alias.cname_chain == ["mid.ok.test", "ok.test"] and alias.rrs == ["127.0.0.10"]
                loop = await dns.query("loop1.test", "A")
                assert loop.status is Status.ERROR and loop.error == "CNAME loop"
                assert (await dns.query("nx.test", "A")).status is Status.NOT_FOUND
                servfail = await dns.query("broken.test", "A")
                assert servfail.status is Status.ERROR and servfail.rcode == "SERVFAIL"
                assert (await dns.query("refused.test", "A")).status is Status.REFUSED
                assert (await dns.query("silent.test", "A")).status is Status.TIMEOUT
                big = await dns.query("big.test", "TXT")
                assert big.tc is True and big.rrs == ["x" * 600]
                assert ("tcp", "big.test", "TXT") in server.queries
                assert await net.addresses("ok.test") == ["127.0.0.10"]

    asyncio.run(main())


def test_dns_client_asks_for_a_cname_target_only_when_the_resolver_stopped_at_it(ca: TestCA) -> None:
    """A chain ending in NODATA (an SOA in the authority section) costs one query; a resolver that
    answers with the CNAME only is asked for the target, and a target with no records ends the chain."""

    async def main() -> None:
        async with World(ca) as world:
            server = world.dns
            server.add("cdn.ok.test", "A", "127.0.0.11")
            server.cnames["www.site.test"] = "cdn.ok.test"  # A at the target, no AAAA
            server.cnames["app.site.test"] = "cdn.ok.test"
            server.stops_at_cname.add("app.site.test")
            async with Net(world.config()) as net:
                dns = net.dns

                def asked(name: str, rdtype: str) -> int:
                    return sum(1 for q in server.queries if q[1:] == (name, rdtype))

                nodata = await dns.query("www.site.test", "AAAA")
                assert (
                    nodata.status is Status.OK and nodata.rrs == [] and nodata.cname_chain == ["cdn.ok.test"]
                )
                assert asked("www.site.test", "AAAA") == 1 and asked("cdn.ok.test", "AAAA") == 0
                found = await dns.query("app.site.test", "A")
                assert found.rrs == ["127.0.0.11"] and found.cname_chain == ["cdn.ok.test"]
                assert asked("app.site.test", "A") == 1 and asked("cdn.ok.test", "A") == 1
                server.with_soa = False  # a resolver that leaves the SOA out: the target is asked once
                bare = await dns.query("app.site.test", "AAAA")
                assert bare.status is Status.OK and bare.rrs == [] and bare.cname_chain == ["cdn.ok.test"]
                assert asked("app.site.test", "AAAA") == 1 and asked("cdn.ok.test", "AAAA") == 1

    asyncio.run(main())


def test_dns_client_asks_for_the_ad_flag_when_the_resolver_honours_it(ca: TestCA) -> None:
    """RFC 6840 §5.7: with a resolver that answers the AD bit, queries carry AD instead of DO (no
    signatures sent back); with one that does not, queries keep DO. The recorded verdict is the same."""

    async def ask(honours: bool, root_signed: bool) -> tuple[bool, list[tuple[str, bool, bool]], bool]:
        async with World(ca) as world:
            server = world.dns
            server.honours_ad_bit = honours
            server.add("", "SOA", "a.root-servers.test. admin.test. 1 2 3 4 5")
            if root_signed:
                server.secure.add("")
            server.add("signed.test", "A", "127.0.0.10")
            server.secure.add("signed.test")
            async with Net(world.config()) as net:
                answers = await asyncio.gather(*(net.dns.query("signed.test", "A") for _ in range(3)))
                assert all(a.ad == answers[0].ad for a in answers)
                bits = [b for b in server.query_bits if b[0] == "signed.test"]
                return answers[0].ad, bits, net.dns.dnssec_ok

    ad, bits, dnssec_ok = asyncio.run(ask(honours=True, root_signed=True))
    assert ad is True and dnssec_ok is False
    assert bits == [("signed.test", True, False)]  # one query (shared), AD bit, no DO bit
    ad, bits, dnssec_ok = asyncio.run(ask(honours=False, root_signed=True))
    assert ad is True and dnssec_ok is True
    assert bits == [("signed.test", False, True)]  # the resolver ignores AD in queries: DO it is
    ad, bits, dnssec_ok = asyncio.run(ask(honours=True, root_signed=False))
    assert ad is True and dnssec_ok is True  # no proof the resolver validates the root: DO


def by_probe(items: list[Evidence]) -> dict[str, Evidence]:
    return {e.probe: e for e in items}


def mail_world(world: World) -> None:
    dns = world.dns
    d = "mairie.test"
    dns.add(d, "A", "127.92.0.1")
    dns.add(d, "NS", "ns1.host.test.", "ns2.host.test.")
    dns.add("ns1.host.test", "A", "127.92.0.53")
    dns.add("ns2.host.test", "AAAA", "::1")
    dns.add(d, "MX", "10 mx1.filter.test.", "20 mx2.filter.test.")
    dns.add("mx1.filter.test", "A", "127.92.0.25")
    dns.add("mx2.filter.test", "A", "127.92.0.26")
    dns.add(d, "TXT", "v=spf1 include:_spf.provider.test include:loop-a.test mx a:nowhere.test ~all",
            "google-site-verification=abc")  # fmt: skip
    dns.add("_spf.provider.test", "TXT", "v=spf1 ip4:192.0.2.0/24 redirect=_spf2.provider.test")
    dns.add("_spf2.provider.test", "TXT", "v=spf1 ip6:2001:db8::/32 -all")
    dns.add("loop-a.test", "TXT", "v=spf1 include:loop-b.test -all")
    dns.add("loop-b.test", "TXT", "v=spf1 include:loop-a.test -all")
    dns.add(f"_dmarc.{d}", "TXT", "v=DMARC1; p=quarantine; pct=50; rua=mailto:a@x.test,mailto:b@y.test")
    dns.cnames[f"selector1._domainkey.{d}"] = "selector1-mairie-test._domainkey.tenant.onmicrosoft.test"
    dns.add("selector1-mairie-test._domainkey.tenant.onmicrosoft.test", "TXT",
            "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAt")  # fmt: skip
    dns.add(f"_mta-sts.{d}", "TXT", "v=STSv1; id=20240101")
    dns.add(f"mta-sts.{d}", "A", "127.92.0.2")
    dns.add(f"_smtp._tls.{d}", "TXT", "v=TLSRPTv1; rua=mailto:tls@mairie.test")
    dns.cnames[f"autodiscover.{d}"] = "autodiscover.outlook.test"
    dns.add("autodiscover.outlook.test", "A", "127.92.0.3")
    dns.add(f"_autodiscover._tcp.{d}", "SRV", "0 0 443 autodiscover.outlook.test.")


def test_dns_and_mail_probes(ca: TestCA) -> None:
    policy = "version: STSv1\r\nmode: enforce\r\nmx: mx1.filter.test\r\nmax_age: 86400\r\n"

    async def sts(request: web.Request) -> web.Response:
        return web.Response(text=policy)

    async def main() -> dict[str, Any]:
        async with World(ca) as world:
            mail_world(world)
            app = web.Application()
            app.router.add_get("/.well-known/mta-sts.txt", sts)
            await world.web("127.92.0.2", app, port=HTTPS_PORT,
                            ssl_context=ca.server_context(["mta-sts.mairie.test"]))  # fmt: skip
            async with Net(world.config()) as net:
                return by_probe(await run_target("mairie.test", frozenset({"mail"}), net, budget_s=10))

    ev = asyncio.run(main())
    assert set(ev) == {"dns", "spf", "dmarc", "dkim", "mta-sts", "tls-rpt", "autodiscover"}
    dns = ev["dns"].data
    assert ev["dns"].status is Status.OK
    assert [h["host"] for h in dns["mx_hosts"]] == ["mx1.filter.test", "mx2.filter.test"]
    assert dns["mx_hosts"][0]["addresses"] == ["127.92.0.25"]
    assert {h["host"]: h["addresses"] for h in dns["ns_hosts"]} == {"ns1.host.test": ["127.92.0.53"],
                                                                    "ns2.host.test": ["::1"]}  # fmt: skip
    spf = ev["spf"].data
    assert ev["spf"].status is Status.OK
    # root: include, include, mx, a = 4; _spf: redirect = 1; loop-a: include = 1; loop-b: include = 1
    assert spf["dns_lookups"] == 7
    assert spf["void_lookups"] == 1  # a:nowhere.test
    assert spf["permerror"] is True and any("loop" in p for p in spf["problems"])
    assert spf["tree"]["children"][0]["children"][0]["via"] == "redirect"
    dmarc = ev["dmarc"].data["record"]
    assert dmarc["p"] == "quarantine" and dmarc["pct"] == 50 and len(dmarc["rua"]) == 2
    dkim = ev["dkim"]
    assert dkim.status is Status.OK
    assert dkim.data["selectors"][0]["cname_chain"] == [
        "selector1-mairie-test._domainkey.tenant.onmicrosoft.test"
    ]
    sts_ev = ev["mta-sts"].data
    assert ev["mta-sts"].status is Status.OK and sts_ev["certificate_valid"] is True
    assert sts_ev["policy"]["mode"] == "enforce"
    assert sts_ev["mx_covered"] == {"mx1.filter.test": True, "mx2.filter.test": False}
    assert ev["tls-rpt"].data["record"]["rua"] == ["mailto:tls@mairie.test"]
    assert ev["autodiscover"].data["cname_chain"] == ["autodiscover.outlook.test"]


def test_nxdomain_target_and_budget(ca: TestCA) -> None:
    async def main() -> None:
        async with World(ca) as world, Net(world.config()) as net:
            ev = by_probe(await run_target("absent.test", frozenset({"web", "mail"}), net, budget_s=10))
            assert ev["dns"].status is Status.NOT_FOUND
            assert ev["tls"].status is Status.NOT_APPLICABLE
            assert ev["http"].status is Status.NOT_APPLICABLE
            assert ev["spf"].status is Status.NOT_FOUND
            world.dns.silent.add("slow.test")
            world.dns.silent.add("www.slow.test")
            ev = by_probe(await run_target("slow.test", frozenset({"web"}), net, budget_s=0.5))
            assert ev["http"].status is Status.TIMEOUT
            assert ev["page"].status is Status.SKIPPED

    asyncio.run(main())


def test_dns_cache_is_bounded(ca: TestCA) -> None:
    async def main() -> None:
        async with World(ca) as world, Net(world.config(dns_cache_size=16)) as net:
            world.dns.add("keep.test", "A", "127.0.0.7")
            for i in range(40):
                await net.dns.query(f"n{i}.test", "A")
                await net.dns.query("keep.test", "A")  # recently used: survives eviction
            assert len(net.dns._cache) <= 16
            assert sum(1 for q in world.dns.queries if q[1] == "keep.test") == 1

    asyncio.run(main())


def test_mta_sts_policy_with_untrusted_certificate(ca: TestCA) -> None:
    async def sts(request: web.Request) -> web.Response:
        return web.Response(text="version: STSv1\nmode: testing\nmx: *.mairie.test\nmax_age: 86400\n")

    async def main() -> Evidence:
        async with World(ca) as world:
            world.dns.add("_mta-sts.mairie.test", "TXT", "v=STSv1; id=1")
            world.dns.add("mta-sts.mairie.test", "A", "127.92.1.2")
            app = web.Application()
            app.router.add_get("/.well-known/mta-sts.txt", sts)
            ctx = ca.server_context(["mta-sts.mairie.test"], self_signed=True)
            await world.web("127.92.1.2", app, port=HTTPS_PORT, ssl_context=ctx)
            async with Net(world.config()) as net:
                items = await run_target("mairie.test", frozenset({"mail"}), net, budget_s=10, only={"mail"})
        return by_probe(items)["mta-sts"]

    ev = asyncio.run(main())
    assert ev.status is Status.OK
    assert ev.data["certificate_valid"] is False and ev.data["certificate_error"]
    assert ev.data["policy"]["mode"] == "testing"


def test_cancelled_asker_does_not_cancel_waiters(ca: TestCA) -> None:
    async def main() -> None:
        async with World(ca) as world, Net(world.config(dns_timeout=0.6)) as net:
            world.dns.silent.add("slow.test")
            owner = asyncio.ensure_future(net.dns.query("slow.test", "A"))
            await asyncio.sleep(0.01)
            waiter = asyncio.ensure_future(net.dns.query("slow.test", "A"))
            await asyncio.sleep(0.01)
            owner.cancel()
            answer = await waiter
            assert answer.status is Status.TIMEOUT
            assert owner.cancelled()

    asyncio.run(main())
