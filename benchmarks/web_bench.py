"""Web benchmark: page and API times with 100,000 organisations in the store.

The store is built from the 1,000-domain lab scan (the scan benchmark's store; scanned first if missing):
its run is assessed if needed, then every organisation's stored assessment is replicated to 100,000
organisations (new SIRENs and domains, same territory and dependencies) and written through the Store API as
one run, one attribution and one assessment; the web index is built once (timed). The app then runs
in-process (ASGI, no socket) and a fixed mix of pages is requested: overview (two indicators), map data,
département pages, organisation pages, provider pages (the most depended-upon providers), provider list,
search by name / SIREN / domain, rankings (with and without filters), API lists and details.

Writes ``benchmarks/results/web.json``: per page kind the number of requests and p50 / p95 / max in ms.
Target: p95 ≤ 150 ms for every kind.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
from benchcommon import SOUVERAIN, STORE, WORK, context, ensure_lab_scan, write_result

TARGET_P95_MS = 150.0


def _siren(i: int) -> str:
    stem = f"{300_000_000 // 10 + i:08d}"
    for last in range(10):
        candidate = stem + str(last)
        total = 0
        for index, char in enumerate(reversed(candidate)):
            digit = int(char) * (2 if index % 2 else 1)
            total += digit - 9 if digit > 9 else digit
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def build_store(path: Path, count: int) -> dict[str, Any]:
    """A store with one assessed run of ``count`` organisations replicated from the lab scan."""
    import dataclasses
    import os

    from souverain.assessment.run import trajectories
    from souverain.policy.load import load_policy
    from souverain.portfolio.model import Domain
    from souverain.store import Store

    ensure_lab_scan()
    template_path = WORK / "web-template.db"
    if not template_path.exists():
        shutil.copyfile(STORE, template_path)
        env = dict(os.environ, SOUVERAIN_HOME=str(WORK))
        subprocess.run(
            [*SOUVERAIN, "assess", "latest", "--store", str(template_path)],
            check=True,
            env=env,
            capture_output=True,
        )
    template = Store(template_path)
    run_id = template.latest_run()
    assert run_id is not None
    assessment = template.latest_assessment(run_id)
    assert assessment is not None
    # the documents as `souverain assess` stores them (compact: souverain.assessment.document)
    docs = {siren: orjson.loads(raw) for siren, raw in template.iter_org_assessments(assessment["id"])}
    orgs = [o for o in template.run_organisations(run_id) if o.siren in docs]
    path.unlink(missing_ok=True)
    store = Store(path)
    policy = load_policy()
    started = time.perf_counter()
    new_orgs = []
    new_docs = []
    for i in range(count):
        base = orgs[i % len(orgs)]
        copy = i // len(orgs)
        siren = _siren(i)
        name = base.name if copy == 0 else f"{base.name} {copy}"
        domains = tuple(Domain(d.name if copy == 0 else f"c{copy}-{d.name}", d.roles) for d in base.domains)
        new_orgs.append(dataclasses.replace(base, siren=siren, name=name, domains=domains))
        doc = orjson.loads(orjson.dumps(docs[base.siren]))
        doc["siren"] = siren
        new_docs.append(doc)
    run = store.create_run(
        "web-bench", new_orgs, {"resolver": "127.0.0.1", "lab_dir": str(WORK / "lab-1000")}
    )
    store.set_run_status(run, "completed")
    attribution = store.create_attribution(run, assessment["kb_version"], [], assessment["as_of"])
    by_siren = {d["siren"]: d for d in new_docs}
    scores = [d["score"] for d in new_docs if d["score"] is not None]
    summary = {
        "methodology": policy.methodology,
        "organisations": len(new_docs),
        "score": {
            "mean": round(statistics.fmean(scores), 1),
            "median": round(statistics.median(scores), 1),
            "provisional": sum(1 for d in new_docs if d["provisional"]),
        },
        "levels": assessment["summary"].get("levels", {}),
        "findings": assessment["summary"].get("findings", {}),
        "trajectories": trajectories(new_orgs, by_siren, policy),
    }
    store.save_assessment(
        run, attribution, policy.methodology, assessment["kb_version"], assessment["as_of"], summary, new_docs
    )
    return {
        "organisations": count,
        "templates": len(orgs),
        "store_build_s": round(time.perf_counter() - started, 1),
    }


def request_mix(store_path: Path, rng: random.Random, per_kind: int) -> list[tuple[str, str]]:
    import sqlite3

    db = sqlite3.connect(store_path)
    sirens = [
        r[0] for r in db.execute("SELECT siren FROM web_orgs ORDER BY random() LIMIT ?", (per_kind * 3,))
    ]
    domains = [
        r[0] for r in db.execute("SELECT domain FROM web_domains ORDER BY random() LIMIT ?", (per_kind,))
    ]
    words = [
        r[0] for r in db.execute("SELECT DISTINCT word FROM web_words WHERE length(word) > 4 LIMIT 2000")
    ]
    deps = [
        r[0] for r in db.execute("SELECT DISTINCT departement FROM web_orgs WHERE departement IS NOT NULL")
    ]
    regions = [r[0] for r in db.execute("SELECT DISTINCT region FROM web_orgs WHERE region IS NOT NULL")]
    providers = [
        r[0] for r in db.execute("SELECT operator FROM web_providers ORDER BY organisations DESC LIMIT 8")
    ]
    db.close()
    mix: list[tuple[str, str]] = []
    for i in range(per_kind):
        mix += [
            ("overview", "/"),
            ("overview-indicator", f"/en/?indicator={rng.choice(['dmarc-reject', 'mailboxes-eu-control'])}"),
            ("map-data-api", "/api/v1/scores?level=departement"),
            ("departement", f"/departement/{rng.choice(deps)}?page={rng.randint(1, 5)}"),
            ("organisation", f"/org/{sirens[i]}"),
            ("organisation-en", f"/en/org/{sirens[per_kind + i]}"),
            ("provider", f"/provider/{providers[i % len(providers)]}?page={rng.randint(1, 20)}"),
            ("providers", "/providers"),
            ("search-name", f"/search?q={rng.choice(words)}"),
            ("search-two-words", f"/search?q=commune+{rng.choice(words)}"),
            ("search-siren", f"/search?q={sirens[2 * per_kind + i]}"),
            ("search-domain", f"/search?q={domains[i]}"),
            ("rankings", f"/rankings?order={rng.choice(['worst', 'best'])}&page={rng.randint(1, 50)}"),
            ("rankings-filtered", f"/rankings?region={rng.choice(regions)}&kind=commune"),
            ("api-organisations", f"/api/v1/organisations?page={rng.randint(1, 2000)}&per_page=50"),
            ("api-organisations-csv", f"/api/v1/organisations?departement={rng.choice(deps)}&format=csv"),
            ("api-organisation", f"/api/v1/organisations/{sirens[i]}"),
            ("api-findings", f"/api/v1/organisations/{sirens[i]}/findings"),
            (
                "api-dependencies",
                f"/api/v1/dependencies?operator={providers[i % len(providers)]}&per_page=100",
            ),
        ]
    rng.shuffle(mix)
    return mix


async def measure(app: Any, mix: list[tuple[str, str]]) -> dict[str, list[float]]:
    import httpx

    times: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _kind, url in mix[:40]:  # warm-up: KB, policy, caches
            await client.get(url)
        for kind, url in mix:
            started = time.perf_counter()
            response = await client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}: {response.text[:200]}")
            times.setdefault(kind, []).append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organisations", type=int, default=100_000)
    parser.add_argument("--per-kind", type=int, default=40, help="requests per page kind")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the 100k store even if present")
    args = parser.parse_args()
    from souverain.store import Store
    from souverain.web.app import WebSettings, create_app
    from souverain.web.data import Observatory
    from souverain.web.index import build_index

    path = WORK / f"web-{args.organisations}.db"
    build: dict[str, Any] = {"store_build": f"reused {path.name} (built earlier; --rebuild times it)"}
    if args.rebuild or not path.exists():
        build = build_store(path, args.organisations)
    store = Store(path)
    current = Observatory(store, WORK).current()
    assert current is not None
    started = time.perf_counter()
    build_index(store, current["id"])
    index_s = time.perf_counter() - started
    app = create_app(WebSettings(store=path, home=WORK, api_per_minute=10**9))
    mix = request_mix(path, random.Random(7), args.per_kind)
    times = asyncio.run(measure(app, mix))
    pages = {}
    for kind, values in sorted(times.items()):
        values.sort()
        pages[kind] = {
            "requests": len(values),
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(values[max(0, int(len(values) * 0.95) - 1)], 1),
            "max_ms": round(values[-1], 1),
        }
    worst = max(p["p95_ms"] for p in pages.values())
    write_result(
        "web.json",
        {
            "organisations": args.organisations,
            **build,
            "index_build_s": round(index_s, 1),
            "requests": len(mix),
            "client": "in-process ASGI (httpx.ASGITransport), sequential",
            "target_p95_ms": TARGET_P95_MS,
            "worst_p95_ms": worst,
            "target_met": worst <= TARGET_P95_MS,
            "pages": pages,
            **context(),
        },
    )


if __name__ == "__main__":
    main()
