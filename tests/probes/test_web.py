"""Web probes (tls, http, page) against loopback servers, normal and hostile."""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc
from typing import Any

from aiohttp import web

from probes.world import HTTP_PORT, HTTPS_PORT, TestCA, World
from souverain.evidence import Evidence, Status
from souverain.net import Net
from souverain.probes import run_target

PAGE = """<!doctype html><html><head><title>Mairie &lt;b&gt; de Test</title>
<meta name="generator" content="Drupal 10">
<link rel="stylesheet" href="https://cdn.jsdelivr.net/x.css">
<script src="//www.googletagmanager.com/gtm.js"></script>
<script src="/local.js"></script></head>
<body><img src="https://static.normal.test/logo.png"><iframe src="https://www.youtube.com/embed/x"></iframe>
</body></html>"""


def by_probe(items: list[Evidence]) -> dict[str, Evidence]:
    return {e.probe: e for e in items}


def site(*, robots: str = "User-agent: *\nAllow: /\n", page: Any = PAGE, https_host: str) -> web.Application:
    async def index(request: web.Request) -> web.StreamResponse:
        if callable(page):
            return await page(request)
        return web.Response(
            text=page, content_type="text/html",
            headers={"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
                     "Server": "nginx", "X-Frame-Options": "DENY"},
        )  # fmt: skip

    async def robots_txt(request: web.Request) -> web.Response:
        return web.Response(text=robots)

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/robots.txt", robots_txt)
    return app


def redirector(target: str) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(target)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


async def scan(world: World, domain: str, **config: Any) -> dict[str, Evidence]:
    async with Net(world.config(**config)) as net:
        return by_probe(await run_target(domain, frozenset({"web"}), net, budget_s=10))


async def normal_world(world: World, domain: str, ip: str, **site_kw: Any) -> None:
    world.dns.add(domain, "A", ip)
    world.dns.add(f"www.{domain}", "A", ip)
    world.dns.add(domain, "NS", "ns1.provider.test.")
    world.dns.add("ns1.provider.test", "A", "127.91.0.53")
    ctx = world.ca.server_context([domain, f"www.{domain}"])
    await world.web(ip, redirector(f"https://{domain}:{HTTPS_PORT}/"), port=HTTP_PORT)
    await world.web(ip, site(https_host=domain, **site_kw), port=HTTPS_PORT, ssl_context=ctx)


def test_normal_site(ca: TestCA) -> None:
    async def main() -> None:
        async with World(ca) as world:
            await normal_world(world, "normal.test", "127.91.1.1")
            ev = await scan(world, "normal.test")
        assert {e: ev[e].status for e in ev} == dict.fromkeys(("dns", "tls", "http", "page"), Status.OK)
        tls = ev["tls"].data["endpoints"][0]
        assert tls["chain_valid"] is True and tls["hostname_match"] is True
        assert tls["observed_by"] == "http"  # the http probe's handshake was reused
        assert tls["chain"][0]["issuer_org"] == "Souverain Test"
        assert tls["versions"]["accepted"]["TLSv1.2"] is True
        assert tls["versions"]["accepted"]["TLSv1"] is False
        http = ev["http"].data
        assert http["http_redirects_to_https"] is True and http["https_same_host"] is True
        assert [h["status"] for h in http["hops"]] == [301, 200]
        assert http["headers"]["hsts"]["max_age"] == 31536000
        assert http["headers"]["server"]["server"] == "nginx"
        page = ev["page"].data
        assert page["title"] == "Mairie <b> de Test"
        assert page["generator"] == "Drupal 10"
        assert set(page["third_party"]) == {"cdn.jsdelivr.net", "www.googletagmanager.com", "www.youtube.com"}
        assert page["third_party"]["www.youtube.com"]["kinds"] == ["frame"]

    asyncio.run(main())


def test_redirect_loop(ca: TestCA) -> None:
    async def main() -> None:
        async with World(ca) as world:
            world.dns.add("loop.test", "A", "127.91.2.1")
            app = web.Application()

            async def a(request: web.Request) -> web.Response:
                raise web.HTTPFound("/b")

            async def b(request: web.Request) -> web.Response:
                raise web.HTTPFound(f"http://loop.test:{HTTP_PORT}/")

            app.router.add_get("/", a)
            app.router.add_get("/b", b)
            await world.web("127.91.2.1", app, port=HTTP_PORT)
            ev = await scan(world, "loop.test")
        assert ev["http"].status is Status.ERROR and ev["http"].error == "redirect loop"
        assert len(ev["http"].data["hops"]) == 2
        assert ev["page"].status is Status.NOT_APPLICABLE

    asyncio.run(main())


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await asyncio.sleep(30)
    finally:
        writer.close()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HELLO THIS IS NOT TLS\r\n" * 20)
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()


def test_never_answering_server(ca: TestCA) -> None:
    async def main() -> None:
        async with World(ca) as world:
            world.dns.add("silent.test", "A", "127.91.3.1")
            await world.raw("127.91.3.1", HTTP_PORT, _silent)
            await world.raw("127.91.3.1", HTTPS_PORT, _silent)
            t0 = time.monotonic()
            ev = await scan(world, "silent.test", read_timeout=0.5, connect_timeout=0.5)
            assert time.monotonic() - t0 < 4
        assert ev["tls"].status is Status.TIMEOUT
        assert ev["http"].status is Status.TIMEOUT
        assert ev["page"].status is Status.NOT_APPLICABLE

    asyncio.run(main())


def test_garbage_tls(ca: TestCA) -> None:
    async def main() -> None:
        async with World(ca) as world:
            world.dns.add("garbage.test", "A", "127.91.4.1")
            await world.web("127.91.4.1", redirector(f"https://garbage.test:{HTTPS_PORT}/"), port=HTTP_PORT)
            await world.raw("127.91.4.1", HTTPS_PORT, _garbage)
            ev = await scan(world, "garbage.test")
        assert ev["tls"].status is Status.ERROR
        assert ev["tls"].error is not None and "TLS handshake failed" in ev["tls"].error
        assert ev["http"].status is Status.ERROR
        assert ev["http"].data["hops"][0]["status"] == 301

    asyncio.run(main())


def test_gzip_bomb_and_huge_page_stay_bounded(ca: TestCA) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)

    async def bomb_page(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})

    async def huge_page(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        await resp.prepare(request)
        chunk = b"<p>" + b"x" * 65_533
        try:
            for _ in range(1600):  # 100 MB if anyone reads it all
                await resp.write(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def main() -> None:
        async with World(ca) as world:
            await normal_world(world, "bomb.test", "127.91.5.1", page=bomb_page)
            await normal_world(world, "huge.test", "127.91.5.2", page=huge_page)
            tracemalloc.start()
            ev = await scan(world, "bomb.test", max_page_bytes=1_000_000)
            ev2 = await scan(world, "huge.test", max_page_bytes=1_000_000)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        for page in (ev["page"], ev2["page"]):
            assert page.status is Status.OK
            assert page.data["truncated"] == "size"
            assert page.data["size"] <= 1_000_000
        assert ev["page"].data["wire_bytes"] < 200_000
        assert peak < 30_000_000

    asyncio.run(main())


def test_non_utf8_page(ca: TestCA) -> None:
    latin = '<html><head><meta charset="iso-8859-1"><title>Mairie de Saint-Étienne-du-Rouvray</title>'
    body = latin.encode("latin-1")

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": "text/html"})

    async def main() -> None:
        async with World(ca) as world:
            await normal_world(world, "latin.test", "127.91.6.1", page=page)
            ev = await scan(world, "latin.test")
        assert ev["page"].status is Status.OK
        assert ev["page"].data["title"] == "Mairie de Saint-Étienne-du-Rouvray"
        assert ev["page"].data["encoding_source"] == "meta"

    asyncio.run(main())


def test_robots_disallow(ca: TestCA) -> None:
    async def main() -> None:
        async with World(ca) as world:
            await normal_world(world, "robots.test", "127.91.7.1", robots="User-agent: *\nDisallow: /\n")
            ev = await scan(world, "robots.test")
        assert ev["page"].status is Status.SKIPPED
        assert ev["page"].error == "robots.txt disallows"
        assert "title" not in ev["page"].data

    asyncio.run(main())


def test_invalid_certificates_are_recorded(ca: TestCA) -> None:
    async def main() -> None:
        async with World(ca) as world:
            for ip, domain, kw in (
                ("127.91.8.1", "expired.test", {"expired": True}),
                ("127.91.8.2", "selfsigned.test", {"self_signed": True}),
            ):
                world.dns.add(domain, "A", ip)
                await world.web(ip, site(https_host=domain), port=HTTPS_PORT,
                                ssl_context=ca.server_context([domain], **kw))  # fmt: skip
            world.dns.add("mismatch.test", "A", "127.91.8.3")
            await world.web("127.91.8.3", site(https_host="x"), port=HTTPS_PORT,
                            ssl_context=ca.server_context(["other.test"]))  # fmt: skip
            results = {d: await scan(world, d) for d in ("expired.test", "selfsigned.test", "mismatch.test")}
        for domain, ev in results.items():
            endpoint = ev["tls"].data["endpoints"][0]
            assert ev["tls"].status is Status.OK, domain
            assert endpoint["chain_valid"] is False, domain
            assert endpoint["validation_error"], domain
        assert results["mismatch.test"]["tls"].data["endpoints"][0]["hostname_match"] is False
        assert results["expired.test"]["tls"].data["endpoints"][0]["hostname_match"] is True

    asyncio.run(main())


def test_tls10_only_server_versions(ca: TestCA) -> None:
    import ssl
    import warnings

    async def main() -> dict[str, Evidence]:
        async with World(ca) as world:
            world.dns.add("old.test", "A", "127.91.9.1")
            ctx = ca.server_context(["old.test"])
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1
            await world.web("127.91.9.1", site(https_host="old.test"), port=HTTPS_PORT, ssl_context=ctx)
            return await scan(world, "old.test")

    ev = asyncio.run(main())
    endpoint = ev["tls"].data["endpoints"][0]
    assert endpoint["version"] == "TLSv1"
    assert endpoint["versions"]["accepted"] == {
        "TLSv1": True,
        "TLSv1.1": False,
        "TLSv1.2": False,
        "TLSv1.3": False,
    }


def test_trickling_page_is_cut_by_time(ca: TestCA) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        await resp.prepare(request)
        await resp.write(b"<html><head><title>lent</title>")
        try:
            for _ in range(100):
                await asyncio.sleep(0.1)
                await resp.write(b"<p>x</p>")
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def main() -> dict[str, Evidence]:
        async with World(ca) as world:
            await normal_world(world, "trickle.test", "127.91.10.1", page=trickle)
            return await scan(world, "trickle.test", read_timeout=0.5)

    t0 = time.monotonic()
    ev = asyncio.run(main())
    assert time.monotonic() - t0 < 5
    assert ev["page"].status is Status.OK and ev["page"].data["truncated"] == "time"
    assert ev["page"].data["title"] == "lent"


def test_http_budget_names_the_per_ip_queue(ca: TestCA) -> None:
    from souverain.probes import http as http_probe

    async def main() -> dict[str, Evidence]:
        async with World(ca) as world:
            await normal_world(world, "queued.test", "127.91.11.1")
            net = Net(world.config(per_ip_limit=1))
            async with net, net.ip_slot("127.91.11.1"):  # someone else holds the only slot
                items = await run_target("queued.test", frozenset({"web"}), net, budget_s=10, only={"http"})
        return by_probe(items)

    old = http_probe.BUDGET_S
    http_probe.BUDGET_S = 3.5
    try:
        ev = asyncio.run(main())
    finally:
        http_probe.BUDGET_S = old
    assert ev["http"].status is Status.TIMEOUT
    assert "queued behind the per-IP connection cap of 127.91.11.1" in (ev["http"].error or "")


def test_public_only_refuses_every_connection_to_an_internal_address(ca: TestCA) -> None:
    """On-demand scans run with ``public_only``: a name that resolves to loopback at scan time (after the
    guard's check: DNS rebinding) or a redirect to it gets no connection at all, and the probes say why."""
    hits: list[str] = []

    async def counting(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        return web.Response(text=PAGE, content_type="text/html")

    async def main() -> dict[str, Evidence]:
        async with World(ca) as world:
            await normal_world(world, "rebind.test", "127.91.1.9", page=counting)
            return await scan(world, "rebind.test", public_only=True)

    ev = asyncio.run(main())
    assert hits == []  # not one request reached the internal server
    assert ev["dns"].status == Status.OK  # DNS goes to the configured resolver only, as always
    for probe in ("tls", "http"):
        assert ev[probe].status in (Status.REFUSED, Status.ERROR), (probe, ev[probe])
        text = str(ev[probe].error) + str(ev[probe].data)
        assert "public-only" in text and "loopback" in text, (probe, text)
    assert ev["page"].status != Status.OK
