"""Attribution benchmark: 100,000 recorded domains through observation + attribution on one core.

Recorded evidence comes from a real scan of a 1,000-domain lab world (the scan benchmark's store when it
exists, else a fresh lab scan). It is replicated to 100,000 domains by renaming each template domain
everywhere in its evidence (so per-domain names — MX hosts, DKIM targets, CNAMEs — stay unique, as in the
real world), then every domain is turned into an observation and attributed, in one process, one thread.

Writes ``benchmarks/results/attribution.json`` with ``domains``, ``seconds``, ``domains_per_s`` and context.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import time
from pathlib import Path

import orjson
from benchcommon import LAB, STORE, WORK, context, ensure_lab_scan, write_result


def _templates(lab_dir: Path, store_path: Path) -> list[tuple[str, bytes]]:
    from souverain.attribution.observe import PROBES_READ
    from souverain.store import Store

    ensure_lab_scan()
    store = Store(store_path)
    run_id = store.latest_run()
    assert run_id is not None
    domains = {t.id: t.domain for t in store.targets(run_id)}
    out = []
    for target_id, items in store.evidence_by_target(run_id, PROBES_READ):  # what `reassess` reads
        out.append((domains[target_id], orjson.dumps([e.to_dict() for e in items])))
    return out


def bench(count: int, lab_dir: Path, store_path: Path) -> dict[str, object]:
    from souverain.attribution.engine import Attributor
    from souverain.attribution.observe import observation_from_evidence
    from souverain.attribution.run import context_for_run
    from souverain.evidence import Evidence

    templates = _templates(lab_dir, store_path)
    kb, networks = context_for_run({"lab_dir": str(lab_dir)}, WORK)
    # replicate: domain i is template i % n renamed to d<i>-<template>; each record is decoded from its
    # stored JSON inside the timed loop, as `souverain reassess` does when it reads the store
    attributor = Attributor(kb, networks, dt.date.today())
    dependencies = 0
    decode_s = attribute_s = 0.0
    gc.collect()
    started = time.perf_counter()
    cpu0 = time.process_time()
    for i in range(count):
        name, blob = templates[i % len(templates)]
        new = f"d{i}-{name}"
        t0 = time.perf_counter()
        items = [Evidence.from_dict(r) for r in orjson.loads(blob.replace(name.encode(), new.encode()))]
        t1 = time.perf_counter()
        dependencies += len(attributor.attribute(observation_from_evidence(new, items)))
        t2 = time.perf_counter()
        decode_s += t1 - t0
        attribute_s += t2 - t1
    cpu = time.process_time() - cpu0
    seconds = time.perf_counter() - started
    return {
        "domains": count,
        "seconds": round(seconds, 2),
        "domains_per_s": round(count / seconds, 1),
        "cpu_seconds": round(cpu, 2),
        "decode_seconds": round(decode_s, 2),
        "observe_and_attribute_seconds": round(attribute_s, 2),
        "dependencies": dependencies,
        "templates": len(templates),
        "kb_version": kb.version,
        "kb_entities": len(kb.entities),
        "kb_signatures": len(kb.signatures),
        **context(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", type=int, default=100_000)
    args = parser.parse_args()
    write_result("attribution.json", bench(args.domains, LAB, STORE))


if __name__ == "__main__":
    main()
