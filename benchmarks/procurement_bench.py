"""Procurement ingest benchmark: 1.5 million rows of the consolidated DECP table (Parquet), synthetic but of
realistic shape and defects, ingested by ``souverain procurement ingest`` in a subprocess (wall time and peak
RSS of that process), then one ``shares`` query. Writes benchmarks/results/procurement.json.

The input is generated once into benchmarks/work/ (not timed); the database is rebuilt on every run.
Targets (issue 6): ≤ 60 s and ≤ 2 GB peak RSS on the 2-core machine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
RESULTS = ROOT / "results"
INPUT = WORK / "decp-1.5M.parquet"
DB = WORK / "procurement-bench.duckdb"
CONTRACTS = 1_200_000
"""Contracts generated: with co-suppliers and modification versions, about 1.5 million rows."""
SEED = 2026


def _rows(path: Path) -> int:
    import duckdb

    quoted = str(path).replace("'", "''")
    con = duckdb.connect()
    try:
        row = con.execute(f"SELECT count(*) FROM read_parquet('{quoted}')").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def ensure_input() -> int:
    """Generate the input unless it is already there; returns its number of rows."""
    if not INPUT.exists():
        from souverain.procurement.generator import Manifest, contracts
        from souverain.procurement.writers import write_flat

        WORK.mkdir(parents=True, exist_ok=True)
        manifest = Manifest()
        started = time.perf_counter()
        write_flat(
            INPUT, contracts(CONTRACTS, seed=SEED, manifest=manifest), fmt="parquet", manifest=manifest
        )
        print(
            f"generated {INPUT} ({manifest.rows} rows) in {time.perf_counter() - started:.1f} s", flush=True
        )
    return _rows(INPUT)


def main() -> None:
    rows = ensure_input()
    for stale in WORK.glob(DB.name + "*"):
        stale.unlink()
    env = dict(os.environ, SOUVERAIN_HOME=str(WORK))
    cmd = [sys.executable, "-m", "souverain.cli", "procurement"]
    load_before = os.getloadavg()
    started = time.perf_counter()
    done = subprocess.run(
        [*cmd, "ingest", str(INPUT), "--db", str(DB)], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"ingest failed ({done.returncode}): {done.stderr}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    shares = subprocess.run(
        [*cmd, "shares", "--json", "--db", str(DB)], env=env, capture_output=True, text=True
    )
    shares_seconds = time.perf_counter() - started
    if shares.returncode:
        sys.exit(f"shares failed ({shares.returncode}): {shares.stderr}")
    status = json.loads(
        subprocess.run(
            [*cmd, "status", "--db", str(DB)], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    result = {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "contracts_published": status["sources"][0]["records"],
        "contracts_after_deduplication": status["contracts"],
        "digital_contracts": status["digital_contracts"],
        "report_rows": sum(r["rows"] for r in status["report"]),
        "shares_query_seconds": round(shares_seconds, 2),
        "input": {
            "file": INPUT.name,
            "bytes": INPUT.stat().st_size,
            "format": "consolidated Parquet",
            "generator": f"souverain.procurement.generator, {CONTRACTS} contracts, seed {SEED}",
        },
        "targets": {"seconds": 60, "peak_rss_mb": 2048},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
        },
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "procurement.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
