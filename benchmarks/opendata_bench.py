"""Open-data export benchmark: ``souverain export`` of recorded lab scans, twice, in one process.

Stores: the 1,000-domain lab scan of the scan benchmark (scanned first if missing) and, when present, the
10,000-domain one (``benchmarks/work/scan-10000.db``). Each is copied to ``benchmarks/work/opendata-N.db``
and assessed there (the scan benchmark's stores are left as they are), then exported twice into
``benchmarks/work/opendata-N/`` to check that the two exports are byte-identical.

Writes ``benchmarks/results/opendata.json``: per store the organisations, rows per table, seconds,
organisations per second, bytes per format, whether the two exports are identical, and the peak RSS of the
process (imports, KB and the exports; the assessment runs in a subprocess).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from benchcommon import SOUVERAIN, STORE, WORK, context, ensure_lab_scan, write_result

BIG = WORK / "scan-10000.db"


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _prepare(source: Path, name: str) -> Path:
    """A copy of ``source`` with an assessment of its latest run."""
    from souverain.store import Store

    copy = WORK / f"opendata-{name}.db"
    if not copy.exists():
        shutil.copyfile(source, copy)
    store = Store(copy)
    run_id = store.latest_run()
    assert run_id is not None, f"{source}: no run"
    if store.latest_assessment(run_id) is None:
        env = dict(os.environ, SOUVERAIN_HOME=str(WORK))
        subprocess.run(
            [*SOUVERAIN, "assess", str(run_id), "--store", str(copy)],
            check=True,
            env=env,
            capture_output=True,
        )
    store.engine.dispose()
    return copy


def bench(source: Path, name: str) -> dict[str, Any]:
    from souverain.attribution.run import context_for_run
    from souverain.opendata import export_run
    from souverain.store import Store

    store = Store(_prepare(source, name))
    run_id = store.latest_run()
    assert run_id is not None
    kb, _ = context_for_run(store.run(run_id).config, WORK)
    out = WORK / f"opendata-{name}"
    shutil.rmtree(out, ignore_errors=True)
    seconds = []
    hashes = []
    result = None
    for attempt in range(2):
        folder = out / f"export-{attempt + 1}"
        started = time.perf_counter()
        result = export_run(store, run_id, folder, kb=kb)
        seconds.append(time.perf_counter() - started)
        hashes.append(_hashes(folder))
    assert result is not None
    sizes: dict[str, int] = {"csv": 0, "parquet": 0, "sqlite": result.sqlite.stat().st_size}
    for table in result.rows:
        sizes["csv"] += result.csv[table].stat().st_size
        sizes["parquet"] += result.parquet[table].stat().st_size
    organisations = result.rows["organisations"]
    return {
        "store": name,
        "organisations": organisations,
        "domains": result.rows["domains"],
        "rows": result.rows,
        "seconds": [round(s, 2) for s in seconds],
        "orgs_per_s": round(organisations / min(seconds), 1),
        "bytes": sizes,
        "identical_exports": hashes[0] == hashes[1],
        "files": len(hashes[0]),
        "peak_rss_mb_so_far": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only-small", action="store_true", help="Skip the 10,000-domain store.")
    args = parser.parse_args()
    ensure_lab_scan()
    measures = [bench(STORE, "1000")]
    if BIG.exists() and not args.only_small:
        measures.append(bench(BIG, "10000"))
    write_result("opendata.json", {"measures": measures, **context()})


if __name__ == "__main__":
    main()
