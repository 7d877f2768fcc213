"""Scan the lab's world and compare the evidence with the world's truth."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from souverain.evidence import Evidence, Status
from souverain.portfolio import load_portfolio
from souverain.scan import ScanOptions, run_scan
from souverain.scan.run import net_config_from
from souverain.store import Store, TargetRow

pytestmark = [pytest.mark.lab, pytest.mark.slow]
TARGET_BUDGET_S = 30.0


@dataclass
class Scanned:
    store: Store
    run_id: int
    truth: dict[str, Any]
    targets: dict[str, TargetRow]
    evidence: dict[str, dict[str, Evidence]]


@pytest.fixture(scope="module")
def scanned(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    store = Store(tmp_path_factory.mktemp("scan") / "s.db")
    orgs = load_portfolio(Path(lab.info["portfolio"]))
    config = {"resolver": lab.resolver, "ca_file": lab.ca_file}
    run_id = store.create_run(lab.info["portfolio"], orgs, config)
    run_scan(
        store, run_id, net_config_from(config), ScanOptions(concurrency=100, target_budget_s=TARGET_BUDGET_S)
    )
    targets = {t.domain: t for t in store.targets(run_id)}
    by_id = {t.id: t.domain for t in targets.values()}
    evidence = {by_id[tid]: {ev.probe: ev for ev in items} for tid, items in store.evidence_by_target(run_id)}
    yield Scanned(store, run_id, lab.truth["domains"], targets, evidence)


def ordinary(s: Scanned) -> Iterator[tuple[str, dict[str, Any], dict[str, Evidence]]]:
    for domain, truth in s.truth.items():
        if not truth["hostile"]:
            yield domain, truth, s.evidence[domain]


def test_run_completes_with_every_target_recorded(scanned: Scanned) -> None:
    assert scanned.store.run(scanned.run_id).status == "completed"
    assert set(scanned.targets) == set(scanned.truth)
    statuses = {t.status for t in scanned.targets.values()}
    assert "pending" not in statuses and statuses <= {str(s) for s in Status}
    assert not any(ev.status is Status.BUG for items in scanned.evidence.values() for ev in items.values())


def test_hostile_targets_end_with_a_status_within_budget(scanned: Scanned) -> None:
    hostile = {d: t["hostile"] for d, t in scanned.truth.items() if t["hostile"]}
    assert len(hostile) >= 10
    for domain in hostile:
        target = scanned.targets[domain]
        assert target.status != "pending"
        assert target.duration_ms is not None and target.duration_ms < (TARGET_BUDGET_S + 5) * 1000, domain
    ev = scanned.evidence
    expect = {kind: domain for domain, kind in hostile.items()}
    assert ev[expect["silence"]]["http"].status is Status.TIMEOUT
    assert ev[expect["silence"]]["tls"].status is Status.TIMEOUT
    assert ev[expect["redirect-loop"]]["http"].status is Status.ERROR
    assert "redirect" in (ev[expect["redirect-loop"]]["http"].error or "")
    huge = ev[expect["huge-page"]]["page"]
    assert huge.status is Status.OK and huge.data["truncated"] and huge.data["size"] <= 2_000_000
    bomb = ev[expect["gzip-bomb"]]["page"]
    assert bomb.data["truncated"] and bomb.data["size"] <= 2_000_000 and bomb.data["wire_bytes"] < 1_000_000
    assert ev[expect["tls-garbage"]]["tls"].status is Status.ERROR
    assert ev[expect["cname-loop"]]["dns"].status is Status.ERROR
    assert ev[expect["dns-timeout"]]["dns"].status in (Status.TIMEOUT, Status.ERROR)
    big = ev[expect["big-txt"]]["dns"].data["queries"]["TXT"]
    assert big["tc"] is True and sum(len(r) for r in big["rrs"]) > 50_000
    latin1 = ev[expect["non-utf8"]]["page"].data
    assert latin1["encoding"] in ("cp1252", "windows-1252", "iso-8859-1", "latin-1")
    assert "Château" in latin1["title"]
    assert "<script>alert(1)</script>" in ev[expect["script-injection"]]["page"].data["title"]


def test_dns_matches_truth(scanned: Scanned) -> None:
    checked = broken_dkim = 0
    for domain, truth, ev in ordinary(scanned):
        dns = ev["dns"]
        if truth["dnssec"] == "broken":
            assert dns.status is Status.ERROR and dns.data["queries"]["SOA"]["rcode"] == "SERVFAIL", domain
            if "dkim" in ev:  # its lookups failed too: no absence of DKIM was observed (it said not-found)
                assert ev["dkim"].status is Status.ERROR and "lookups failed" in (ev["dkim"].error or ""), (
                    domain
                )
                broken_dkim += 1
            continue
        queries = dns.data["queries"]
        assert sorted(queries["A"]["rrs"]) == sorted(truth["addresses"]["A"]), domain
        assert sorted(queries["AAAA"]["rrs"]) == sorted(truth["addresses"]["AAAA"]), domain
        assert sorted(h["host"] for h in dns.data["mx_hosts"]) == sorted(truth["mx"]), domain
        assert sorted(h["host"] for h in dns.data["ns_hosts"]) == sorted(truth["ns"]), domain
        assert queries["SOA"]["ad"] is (truth["dnssec"] == "signed"), domain
        checked += 1
    assert checked > 40 and broken_dkim >= 1


def test_tls_matches_truth(scanned: Scanned) -> None:
    seen = set()
    for domain, truth, ev in [
        *ordinary(scanned),
        *((d, scanned.truth[d], scanned.evidence[d]) for d in scanned.truth if scanned.truth[d]["hostile"]),
    ]:
        kind = truth.get("tls")
        tls = ev.get("tls")
        if kind is None or tls is None or tls.status is not Status.OK or truth["dnssec"] == "broken":
            continue
        endpoint = tls.data["endpoints"][0]
        seen.add(kind)
        if kind == "valid":
            assert endpoint["chain_valid"] is True and endpoint["hostname_match"] is True, domain
        elif kind == "expired":
            assert (
                endpoint["chain_valid"] is False
                and "not valid at validation time" in endpoint["validation_error"]
            )
        elif kind == "self-signed":
            assert endpoint["chain_valid"] is False and endpoint["chain"][0]["self_issued"] is True
        elif kind == "wrong-host":
            assert endpoint["hostname_match"] is False and endpoint["chain_valid"] is False
        elif kind == "tls10-only":
            accepted = endpoint["versions"]["accepted"]
            assert accepted == {"TLSv1": True, "TLSv1.1": False, "TLSv1.2": False, "TLSv1.3": False}, domain
            assert endpoint["version"] == "TLSv1"
    assert seen >= {"valid", "expired", "self-signed", "wrong-host", "tls10-only"}


def test_third_parties_match_truth(scanned: Scanned) -> None:
    checked = 0
    for domain, truth, ev in ordinary(scanned):
        page = ev.get("page")
        if page is None or truth["dnssec"] == "broken":
            continue
        if truth.get("robots_disallow"):
            assert page.status is Status.SKIPPED and "robots" in (page.error or ""), domain
            continue
        if page.status is not Status.OK:
            continue
        assert set(page.data["third_party"]) == set(truth["third_parties"]), domain
        checked += 1
    assert checked > 30


def test_mail_records_match_truth(scanned: Scanned) -> None:
    checked = 0
    for domain, truth, ev in ordinary(scanned):
        if "mail" not in truth["roles"] or truth["dnssec"] == "broken":
            continue
        spf, dmarc = ev["spf"], ev["dmarc"]
        if truth["spf"]:
            assert spf.status is Status.OK and spf.data["record"] == truth["spf"], domain
        else:
            assert spf.status is Status.NOT_FOUND, domain
        if truth["dmarc"]:
            assert dmarc.data["record"] is not None, domain
        else:
            assert dmarc.status is Status.NOT_FOUND, domain
        checked += 1
    assert checked > 20
