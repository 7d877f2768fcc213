"""Web fixtures: a small store built through the Store API (two assessed runs, organisations over several
départements, overseas included), and a real uvicorn server on 127.0.0.1 serving it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from souverain.portfolio import Organisation
from souverain.portfolio.model import DeclaredService, Domain, Territory
from souverain.portfolio.validate import siren_problem
from souverain.store import Store


def luhn_siren(stem: int) -> str:
    """The first valid SIREN at or after ``stem`` (8 digits + check digit)."""
    for last in range(10):
        candidate = f"{stem:08d}{last}"
        if siren_problem(candidate) is None:
            return candidate
    raise AssertionError("unreachable")


ORGS = [
    # (name, kind, departement, region, mailbox operator, web operator, dmarc policy, dnssec)
    ("Commune de Fort-de-France", "commune", "972", "02", "microsoft", "aws", "p=reject", True),
    ("Commune de Saint-Denis", "commune", "974", "04", "ovhcloud", "ovhcloud", "p=none", False),
    ("Commune de Lyon", "commune", "69", "84", "google", "ovhcloud", "p=reject", True),
    ("Métropole de Lyon", "epci", "69", "84", "ovhcloud", "ovhcloud", "p=quarantine", True),
    ("Ville de Paris", "commune", "75", "11", "microsoft", "cloudflare", "p=reject", False),
    ("Département de la Gironde", "departement", "33", "75", "ovhcloud", "aws", "p=none", False),
    ("Région Bretagne", "region", "35", "53", "google", "ovhcloud", "p=reject", True),
    ("Centre hospitalier de Cayenne", "hopital", "973", "03", "microsoft", "aws", "p=none", False),
    ("Commune de Mamoudzou", "commune", "976", "06", "ovhcloud", "ovhcloud", "p=reject", True),
    ("Commune de Pointe-à-Pitre", "commune", "971", "01", "google", "google", "p=none", False),
    ("Ministère de l'Intérieur", "ministere", None, None, "microsoft", "ovhcloud", "p=reject", True),
    ("Commune de Quimper", "commune", "29", "53", "ovhcloud", "ovhcloud", "p=reject", True),
]
LEVEL = {
    "microsoft": "extraterritorial",
    "aws": "extraterritorial",
    "google": "extraterritorial",
    "cloudflare": "extraterritorial",
    "ovhcloud": "european",
}
POINTS = {"extraterritorial": 0.0, "european": 80.0}


@dataclass
class WebWorld:
    store_path: Path
    home: Path
    sirens: list[str]
    names: dict[str, str]
    domains: dict[str, str]
    run_ids: list[int]


def _org(index: int, spec: tuple[Any, ...]) -> Organisation:
    name, kind, dep, reg = spec[:4]
    domain = f"web-test-{index}.fr"
    services = (
        (DeclaredService("Dossiers patients", ("sante",), "OVHcloud", "web-hosting", domain),)
        if (kind == "hopital")
        else ()
    )
    return Organisation(
        siren=luhn_siren(21_000_000 + index * 37),
        name=name,
        kind=kind,
        territory=Territory(None, dep, reg),
        domains=(Domain(domain, frozenset({"web", "mail"})),),
        contacts=(f"mairie@{domain}",),
        services=services,
    )


def _doc(org: Organisation, spec: tuple[Any, ...], variant: int) -> dict[str, Any]:
    mailbox, web, dmarc, dnssec = spec[4:]
    if variant == 1 and mailbox == "google":
        mailbox = "ovhcloud"  # the second run: a body moved its mailboxes to a European provider
    domain = org.domains[0].name
    levels = []
    for role, operator in (("mailbox", mailbox), ("web-hosting", web), ("dns-hosting", "ovhcloud")):
        level = LEVEL[operator]
        levels.append(
            {
                "domain": domain,
                "scope": role,
                "role": role,
                "kind": role,
                "subject": domain,
                "operator": operator,
                "infrastructure": operator,
                "level": level,
                "why": "operator reached by us-cloud-act"
                if level == "extraterritorial"
                else "controlled from the European area",
                "laws": ["us-cloud-act"] if level == "extraterritorial" else [],
                "via": [operator],
                "critical": True,
            }
        )
    roles = {
        r["role"]: {"level": r["level"], "points": POINTS[r["level"]], "coverage": 1.0, "weight": 10.0}
        for r in levels
    }
    score = round(sum(POINTS[r["level"]] for r in levels) / len(levels), 1)
    findings = []
    for r in levels:
        if r["level"] == "extraterritorial":
            findings.append(
                {
                    "rule": "SOV-EXTRATERRITORIAL",
                    "family": "sovereignty",
                    "status": "fail",
                    "severity": "high",
                    "subject": domain,
                    "facts": {
                        "role": r["role"],
                        "subject": domain,
                        "operator": r["operator"],
                        "laws": "US CLOUD Act",
                        "via": r["operator"],
                        "why": r["why"],
                    },
                    "evidence": [f"dependency:{domain}:{r['role']}:{domain}"],
                }
            )
    checks = [
        {
            "rule": "MAIL-DMARC-POLICY",
            "category": "mail",
            "required": True,
            "status": "pass" if dmarc in ("p=reject", "p=quarantine") else "fail",
            "detail": dmarc,
            "evidence": f"{domain}:dmarc",
        },
        {
            "rule": "DNS-DNSSEC",
            "category": "dns",
            "required": True,
            "status": "pass" if dnssec else "fail",
            "detail": "signed" if dnssec else "unsigned",
            "evidence": f"{domain}:dns",
        },
    ]
    for c in checks:
        if c["status"] == "fail":
            findings.append(
                {
                    "rule": c["rule"],
                    "family": "hygiene",
                    "status": "fail",
                    "severity": "medium",
                    "subject": domain,
                    "facts": {"subject": domain, "detail": c["detail"]},
                    "evidence": [c["evidence"]],
                }
            )
    worst = next((r for r in levels if r["level"] == "extraterritorial"), None)
    services = [
        {
            "name": s.name,
            "data_classes": list(s.data_classes),
            "claimed_hosting": s.claimed_hosting,
            "claimed_entity": "ovhcloud",
            "role": s.role,
            "domain": s.domain,
            "observed": web,
            "level": LEVEL[web],
        }
        for s in org.services
    ]
    return {
        "siren": org.siren,
        "score": score,
        "coverage": 1.0,
        "provisional": False,
        "worst_critical": {k: worst[k] for k in ("role", "subject", "domain", "operator", "level", "why")}
        if worst
        else None,
        "roles": roles,
        "levels": levels,
        "findings": findings,
        "hygiene": {
            "domains": {domain: {"scores": {}, "checks": checks}},
            "scores": {"mail": {"score": 50.0, "passed": 1, "failed": 1, "warned": 0, "unknown": 0}},
        },
        "services": services,
        "history": [],
    }


def build_store(path: Path) -> WebWorld:
    from souverain.assessment.run import trajectories
    from souverain.policy.load import load_policy

    policy = load_policy()
    store = Store(path)
    orgs = [_org(i, spec) for i, spec in enumerate(ORGS)]
    run_ids = []
    for variant in (0, 1):
        run_id = store.create_run("web-test.yaml", orgs, {"resolver": "127.0.0.1"})
        store.set_run_status(run_id, "completed")
        attribution = store.create_attribution(run_id, "test", [], "2026-11-24")
        docs = {o.siren: _doc(o, spec, variant) for o, spec in zip(orgs, ORGS, strict=True)}
        if variant == 1:
            for o, spec in zip(orgs, ORGS, strict=True):
                if spec[4] == "google":
                    docs[o.siren]["history"] = [
                        {
                            "change": "operator-changed",
                            "domain": o.domains[0].name,
                            "role": "mailbox",
                            "subject": o.domains[0].name,
                            "before": {"operator": "google", "level": "extraterritorial"},
                            "after": {"operator": "ovhcloud", "level": "european"},
                            "cause": "reality",
                            "since_run": run_ids[0],
                        }
                    ]
        scores = [d["score"] for d in docs.values()]
        summary = {
            "methodology": policy.methodology,
            "organisations": len(docs),
            "score": {
                "mean": round(sum(scores) / len(scores), 1),
                "median": sorted(scores)[len(scores) // 2],
                "provisional": 0,
            },
            "levels": {},
            "findings": {},
            "trajectories": trajectories(orgs, docs, policy),
        }
        store.save_assessment(
            run_id, attribution, policy.methodology, "test", "2026-11-24", summary, list(docs.values())
        )
        run_ids.append(run_id)
    return WebWorld(
        path,
        path.parent,
        [o.siren for o in orgs],
        {o.siren: o.name for o in orgs},
        {o.siren: o.domains[0].name for o in orgs},
        run_ids,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """uvicorn serving an app on 127.0.0.1 in a thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            ws="none",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> WebWorld:
    return build_store(tmp_path_factory.mktemp("web") / "store.db")


def make_app(world: WebWorld, **settings: Any) -> Any:
    from souverain.web.app import WebSettings, create_app

    return create_app(WebSettings(store=world.store_path, home=world.home, secret="test-secret", **settings))


@pytest.fixture(scope="module")
def server(world: WebWorld) -> Iterator[Server]:
    with Server(make_app(world)) as running:
        yield running
