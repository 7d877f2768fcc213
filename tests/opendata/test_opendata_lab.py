"""Open-data export of a real scan of the lab (the simulated internet on 127.0.0.0/8): every table in the
three formats, row counts that follow the store, the lab marked as such."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opendata_checks import check_export

from cli_runner import run_cli
from souverain.store import Store

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_export_of_a_lab_scan(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("home")
    db = home / "s.db"
    scan = run_cli("scan", "--lab", "--dir", str(lab.dir), "--store", str(db), "--per-ip", "16",
                   "--target-budget", "30", home=home)  # fmt: skip
    assert scan.returncode == 0, scan.stderr
    run_id = int(scan.stdout.split()[-1])
    out = home / "open"
    result = run_cli("export", "latest", "--out", str(out), "--store", str(db), home=home)
    assert result.returncode == 0, result.stderr
    assert "simulated internet" in result.stderr
    tables = check_export(out)

    store = Store(db)
    orgs = store.run_organisations(run_id)
    attribution, assessment = store.latest_attribution(run_id), store.latest_assessment(run_id)
    assert attribution is not None and assessment is not None
    docs = store.org_assessments_of(assessment["id"])
    stored = store.dependencies_of(attribution["id"])
    by_domain: dict[str, int] = {}
    by_siren: dict[str, int] = {}
    for dep in stored:
        if dep["domain"] is not None:
            by_domain[dep["domain"]] = by_domain.get(dep["domain"], 0) + 1
        else:
            by_siren[dep["siren"]] = by_siren.get(dep["siren"], 0) + 1
    assert len(tables["organisations"]) == len(orgs) == len(docs)
    assert len(tables["domains"]) == sum(len(o.domains) for o in orgs)
    assert len(tables["dependencies"]) == sum(
        sum(by_domain.get(d.name, 0) for d in o.domains) + by_siren.get(o.siren, 0) for o in orgs
    )
    assert len(tables["findings"]) == sum(len(d["findings"]) for d in docs.values())
    assert len(tables["hygiene_checks"]) == sum(
        len(h["checks"]) for d in docs.values() for h in d["hygiene"]["domains"].values()
    )
    assert all(d["level"] is not None for d in tables["dependencies"])
    statuses = {t.domain: t.status for t in store.targets(run_id)}
    assert all(r["scan_status"] == statuses[r["domain"]] for r in tables["domains"])
    assert {r["scan_status"] for r in tables["domains"]} >= {"ok", "timeout"}
    truth = lab.truth["domains"]
    ordinary = [r for r in tables["domains"] if not truth[r["domain"]]["hostile"]]
    answered = [r for r in ordinary if r["dns_status"] == "ok"]
    assert answered and all(
        r["dnssec_validated"] is (truth[r["domain"]]["dnssec"] == "signed") for r in answered
    ), "the AD flag read from the evidence follows the lab's signed zones"
    assert all(r["null_mx"] is truth[r["domain"]]["null_mx"] for r in answered)
    served = [
        r for r in ordinary if r["tls_status"] == "ok" and truth[r["domain"]]["tls"] in ("valid", "expired")
    ]
    assert served and all(r["tls_chain_valid"] is (truth[r["domain"]]["tls"] == "valid") for r in served)
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert "simulated internet" in package["description"]
    assert Path(result.stdout.strip()) == (out / "datapackage.json").resolve()
