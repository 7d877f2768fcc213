"""A scan attributes its targets as it records them (``StreamedAttribution``): same rows as attributing the
stored evidence afterwards, invisible to readers until complete, and a failure leaves the scan unharmed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from souverain.attribution.run import StreamedAttribution, attribute_run
from souverain.evidence import Evidence, Status
from souverain.kb.load import load_kb
from souverain.kb.netdata import NetworkData
from souverain.portfolio import Domain, Organisation, Territory
from souverain.store import Store, Writer

ON = dt.date(2026, 6, 1)
ORG = Organisation(
    "213700016",
    "Commune A",
    "commune",
    Territory("37001", "37", "24"),
    (Domain("a.fr", frozenset({"web", "mail"})), Domain("b.fr", frozenset({"web"}))),
    ("mairie.a@wanadoo.fr",),
)


def _evidence(domain: str) -> list[Evidence]:
    mx = f"{domain}.mail.protection.outlook.com"
    gtm = {"www.googletagmanager.com": {"kinds": ["script"]}}
    return [
        Evidence(
            "dns",
            domain,
            Status.OK,
            {
                "queries": {"A": {"rrs": ["127.16.0.1"]}, "MX": {"rrs": [f"0 {mx}."]}},
                "mx_hosts": [{"host": mx, "addresses": []}],
            },
        ),
        Evidence("page", domain, Status.OK, {"third_party": gtm}),
        Evidence("scan-note", domain, Status.OK),  # not read by the attribution
    ]


def _scan(store: Store, stream: Any) -> int:
    run_id = stream.run_id
    with Writer(store, batch=1, on_batch=stream.add) as writer:
        for target in store.targets(run_id):
            writer.submit((run_id, target.id, "ok", 0.0, 1.0, _evidence(target.domain)))
    return run_id


def test_same_rows_as_attributing_the_stored_evidence(tmp_path: Path) -> None:
    kb = load_kb()
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", [ORG], {})
    stream = StreamedAttribution(store, run_id, kb, NetworkData(), on=ON)
    _scan(store, stream)
    assert store.latest_attribution(run_id) is None  # incomplete: not for readers yet
    result = stream.finish()
    assert store.latest_attribution(run_id)["id"] == stream.id  # type: ignore[index]
    again = attribute_run(store, run_id, kb, NetworkData(), on=ON)
    streamed, stored = store.dependencies_of(stream.id), store.dependencies_of(again.attribution_id)
    assert streamed == stored and len(streamed) >= 5
    assert {d["role"] for d in streamed} >= {"mailbox", "analytics"}
    assert (result.targets, result.dependencies, result.by_role) == (
        again.targets,
        again.dependencies,
        again.by_role,
    )


def test_a_failure_is_kept_not_raised(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("p.yaml", [ORG], {})
    stream = StreamedAttribution(store, run_id, load_kb(), NetworkData(), on=ON)
    _scan(store, stream)
    written = store.dependencies_of(stream.id)
    assert written
    stream.add([(run_id, 10_000, "ok", 0.0, 1.0, _evidence("unknown.fr"))])  # a target not in the run
    assert isinstance(stream.error, KeyError)
    stream.add([(run_id, 10_001, "ok", 0.0, 1.0, _evidence("unknown.fr"))])  # then does nothing
    assert store.status_counts(run_id) == {"ok": 2} and store.dependencies_of(stream.id) == written
    with pytest.raises(KeyError):
        stream.finish()
    assert store.latest_attribution(run_id) is None  # the scan command attributes from the store instead
    assert store.drop_incomplete_attributions(run_id) == 1
    assert store.dependencies_of(stream.id) == [] and store.drop_incomplete_attributions(run_id) == 0
