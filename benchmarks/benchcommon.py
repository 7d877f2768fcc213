"""What the single-core benchmarks share: the 1,000-domain lab scan they start from, context, results."""

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
from typing import Any

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
RESULTS = ROOT / "results"
LAB = WORK / "lab-1000"
STORE = WORK / "scan-1000.db"
SOUVERAIN = [sys.executable, "-m", "souverain.cli"]


def ensure_lab_scan() -> None:
    """Bring up the 1,000-domain lab and scan it (with attribution and assessment) unless already stored;
    the lab is brought down after (its addresses are the test suite's)."""
    if STORE.exists():
        return
    env = dict(os.environ, SOUVERAIN_HOME=str(WORK))
    subprocess.run([*SOUVERAIN, "lab", "up", "--domains", "1000", "--dir", str(LAB)], check=True, env=env)
    try:
        subprocess.run(
            [*SOUVERAIN, "scan", "--lab", "--dir", str(LAB), "--store", str(STORE), "--per-ip", "16"],
            check=True,
            env=env,
            capture_output=True,
        )
    finally:
        subprocess.run([*SOUVERAIN, "lab", "down", "--dir", str(LAB)], check=False, env=env)


def reference_loop_s() -> float:
    """Seconds a fixed pure-Python loop takes right now, on one core. The reference machine is a shared
    VM whose speed drifts by ±25 % from one minute to the next; results carry this to show the state."""
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i * i % 7
    return round(time.perf_counter() - started, 3)


def context() -> dict[str, Any]:
    """Fields every result file carries."""
    return {
        "threads": 1,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_result(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
