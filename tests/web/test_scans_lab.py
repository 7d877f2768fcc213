"""On-demand scans against the lab: names of the lab's world resolve (through the lab's resolver) to
127.x addresses, so the guard must refuse them unless the instance runs in lab mode; in lab mode the scan
runs and records a normal run, marked on-demand, that does not replace the published assessment."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from souverain.net import NetConfig
from souverain.portfolio import load_portfolio
from souverain.store import Store
from souverain.web.security import hash_token, new_token
from souverain.web.ssrf import TargetRefused, check_target

from .conftest import Server, build_store, make_app

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _ordinary_org(lab: Any) -> Any:
    orgs = load_portfolio(lab.dir / "portfolio.yaml")
    for org in orgs:
        names = [d.name for d in org.domains]
        truth = [lab.truth["domains"].get(n) for n in names]
        if len(names) == 1 and all(t and not t["hostile"] and t["https"] for t in truth):
            return org
    raise AssertionError("no ordinary organisation in the lab world")


def test_guard_refuses_lab_names_resolving_to_loopback(lab: Any) -> None:
    org = _ordinary_org(lab)
    domain = org.domains[0].name
    config = NetConfig(resolver=lab.resolver, ca_file=lab.ca_file)
    with pytest.raises(TargetRefused, match=r"resolves to 127\.\d+\.\d+\.\d+, loopback"):
        check_target(domain, config)
    checked = check_target(domain, config, lab=True)
    assert checked.domain == domain
    assert all(a.startswith("127.") for addrs in checked.addresses.values() for a in addrs)
    with pytest.raises(TargetRefused, match="no address"):
        check_target("no-such-name-here.fr", config, lab=True)


def test_on_demand_scan_refused_then_run_in_lab_mode(lab: Any, tmp_path: Path) -> None:
    world = build_store(tmp_path / "store.db")
    org = _ordinary_org(lab)
    store = Store(world.store_path)
    run_id = store.create_run("lab-org.yaml", [org], {"resolver": lab.resolver})  # make the body known
    store.set_run_status(run_id, "interrupted")
    token = new_token()
    store.add_api_token("lab test", hash_token(token), 30)
    auth = {"Authorization": f"Bearer {token}"}
    domain = org.domains[0].name

    refusing = make_app(world, resolver=lab.resolver, ca_file=lab.ca_file)
    with Server(refusing) as running, httpx.Client(base_url=running.url, timeout=30) as c:
        response = c.post("/api/v1/scans", json={"target": org.siren}, headers=auth)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert "loopback" in error["message"] and domain in error["message"]
        assert error["details"]["refused"] is True

    with (
        Server(make_app(world, lab_dir=lab.dir)) as running,
        httpx.Client(base_url=running.url, timeout=30) as c,
    ):
        published = c.get("/api/v1/runs").json()
        accepted = c.post("/api/v1/scans", json={"target": org.siren}, headers=auth)
        assert accepted.status_code == 202, accepted.text
        request_id = accepted.json()["id"]
        deadline = time.monotonic() + 120
        state: dict[str, Any] = accepted.json()
        while state["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
            state = c.get(f"/api/v1/scans/{request_id}", headers=auth).json()
        assert state["status"] == "completed", state
        assert state["run_id"] is not None and state["detail"].startswith("assessment ")
        for _ in range(20):  # the list of assessments is re-read at most every 2 s
            runs = {r["run_id"]: r for r in c.get("/api/v1/runs").json()}
            if state["run_id"] in runs:
                break
            time.sleep(0.25)
        scanned = runs[state["run_id"]]
        assert scanned["on_demand"] is True and scanned["assessments"]
        # the published (current) assessment is still the last full run
        assert c.get("/api/v1/organisations").json()["run_id"] == published[-1]["run_id"]
        other = c.get(f"/api/v1/scans/{request_id}", headers={"Authorization": "Bearer sv_other"})
        assert other.status_code == 403
    info = store.run(state["run_id"])
    assert info.config["on_demand"] is True and info.config["lab_dir"] == str(lab.dir)
    assert sum(store.status_counts(state["run_id"]).values()) == 1
