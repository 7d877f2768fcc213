"""Assessment benchmark: 100,000 recorded organisations on one core.

Templates are the organisations of the 1,000-domain lab scan (the scan benchmark's store; scanned and
attributed first if missing): each one's stored hygiene evidence and dependency rows, serialised as the store
keeps them. They are replicated to 100,000 organisations (new SIRENs); each is decoded from JSON and assessed
(levels, score, coverage, findings in French and English, hygiene checks) in one process, one thread.

Writes ``benchmarks/results/assessment.json`` with ``organisations``, ``seconds``, ``orgs_per_s``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import time
from pathlib import Path

import orjson
from benchcommon import LAB, STORE, WORK, context, ensure_lab_scan, write_result


def _templates(lab_dir: Path, store_path: Path) -> list[bytes]:
    from souverain.assessment.run import HYGIENE_PROBES, _evidence, _stored_dependencies
    from souverain.store import Store

    ensure_lab_scan()
    store = Store(store_path)
    run_id = store.latest_run()
    assert run_id is not None
    attribution = store.latest_attribution(run_id)
    assert attribution is not None, "the benchmark store has no attribution: delete it and rerun"
    evidence = _evidence(store, run_id, HYGIENE_PROBES)
    by_domain, by_siren = _stored_dependencies(store, attribution["id"])
    out = []
    for org in store.run_organisations(run_id):
        deps = [d for dom in org.domains for d in by_domain.get(dom.name, [])] + by_siren.get(org.siren, [])
        ev = {dom.name: [e.to_dict() for e in evidence.get(dom.name, {}).values()] for dom in org.domains}
        out.append(orjson.dumps({"org": org.to_dict(), "evidence": ev, "deps": deps}))
    return out


def bench(count: int, lab_dir: Path, store_path: Path) -> dict[str, object]:
    from souverain.assessment.assess import Assessor
    from souverain.assessment.levels import Leveller
    from souverain.attribution.run import context_for_run
    from souverain.evidence import Evidence
    from souverain.policy.load import load_policy
    from souverain.portfolio import Organisation

    templates = _templates(lab_dir, store_path)
    kb, _ = context_for_run({"lab_dir": str(lab_dir)}, WORK)
    policy = load_policy()
    today = dt.date.today()
    assessor = Assessor(kb, policy, Leveller(kb, policy, today))
    findings = 0
    decode_s = assess_s = 0.0
    gc.collect()
    started = time.perf_counter()
    cpu0 = time.process_time()
    for i in range(count):
        t0 = time.perf_counter()
        raw = orjson.loads(templates[i % len(templates)])
        raw["org"]["siren"] = f"{i:09d}"
        org = Organisation.from_dict(raw["org"])
        ev = {d: {e["probe"]: Evidence.from_dict(e) for e in items} for d, items in raw["evidence"].items()}
        t1 = time.perf_counter()
        doc = assessor.assess(org, ev, raw["deps"]).to_dict()
        findings += len(doc["findings"])
        orjson.dumps(doc)  # what the store writes
        t2 = time.perf_counter()
        decode_s += t1 - t0
        assess_s += t2 - t1
    cpu = time.process_time() - cpu0
    seconds = time.perf_counter() - started
    return {
        "organisations": count,
        "seconds": round(seconds, 2),
        "orgs_per_s": round(count / seconds, 1),
        "cpu_seconds": round(cpu, 2),
        "decode_seconds": round(decode_s, 2),
        "assess_seconds": round(assess_s, 2),
        "assess_only_orgs_per_s": round(count / assess_s, 1),
        "findings": findings,
        "templates": len(templates),
        "methodology": policy.methodology,
        "kb_version": kb.version,
        **context(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--organisations", type=int, default=100_000)
    args = parser.parse_args()
    write_result("assessment.json", bench(args.organisations, LAB, STORE))


if __name__ == "__main__":
    main()
