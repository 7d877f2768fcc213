"""Scan benchmark: lab worlds of 1,000 and 10,000 domains, whole probe set.

Writes ``benchmarks/results/scan-<N>.json`` with ``domains``, ``seconds``, ``domains_per_s``,
``cpu_s_per_domain`` (the scan's processes — parent and scanning workers —, user + system),
``peak_rss_mb`` (the largest of them) and context (status counts, CPU used by the lab servers during the
scan, the speed of the shared VM before and after, machine). Run with ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from benchcommon import RESULTS, SOUVERAIN, WORK, reference_loop_s


def _server_cpu(lab_dir: Path) -> float:
    total = 0.0
    for pid_file in lab_dir.rglob("*.pid"):
        try:
            proc = psutil.Process(int(pid_file.read_text().split()[0]))
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in proc.children(recursive=True):
                ctimes = child.cpu_times()
                total += ctimes.user + ctimes.system
        except (OSError, ValueError, psutil.Error):
            continue
    return total


def bench(domains: int, concurrency: int, per_ip: int, workers: int) -> dict[str, Any]:
    lab_dir = WORK / f"lab-{domains}"
    store = WORK / f"scan-{domains}.db"
    store.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(store) + suffix).unlink(missing_ok=True)
    env = dict(os.environ, SOUVERAIN_HOME=str(WORK))
    started = time.perf_counter()
    subprocess.run(
        [*SOUVERAIN, "lab", "up", "--domains", str(domains), "--dir", str(lab_dir)], check=True, env=env
    )
    lab_seconds = time.perf_counter() - started
    server_cpu_before = _server_cpu(lab_dir)
    loop_before = reference_loop_s()
    started = time.perf_counter()
    started_wall = time.time()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [
                *SOUVERAIN,
                "scan",
                "--lab",
                "--dir",
                str(lab_dir),
                "--store",
                str(store),
                "--concurrency",
                str(concurrency),
                "--per-ip",
                str(per_ip),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=out,
            stderr=err,
            text=True,
        )
        # wait4: CPU and peak RSS of the scan's own process tree (its workers included), not of the
        # lab's servers that `lab up` started before (nginx holds its certificates: ~600 MB at 10k)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        ended_wall = time.time()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        sys.stderr.write(stderr)
        raise SystemExit(f"scan of {domains} domains failed with exit code {proc.returncode}")
    server_cpu = _server_cpu(lab_dir) - server_cpu_before
    loop_after = reference_loop_s()
    handshake = _handshake_cost(lab_dir)
    run_id = int(stdout.strip().splitlines()[-1])
    from souverain.store import Store
    from souverain.store.rows import scanner_load

    db = Store(store)
    counts = db.status_counts(run_id)
    targets = db.targets(run_id)
    lags = sorted(t.loop_lag_ms for t in targets if t.loop_lag_ms is not None)
    scanned = sum(counts.values())
    phases = _phases(db, run_id, started_wall, ended_wall)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "domains": scanned,
        "seconds": round(seconds, 2),
        "domains_per_s": round(scanned / seconds, 1),
        "cpu_s_per_domain": round(cpu / scanned, 5),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "status_counts": counts,
        "phases_s": phases,
        "probing_domains_per_s": round(scanned / phases["probing"], 1),
        "scanner_load": {
            **scanner_load(targets),
            "loop_lag_ms_per_target": {
                "median": lags[len(lags) // 2] if lags else None,
                "max": lags[-1] if lags else None,
            },
            "dns_queue_ms_max": max((t.dns_queue_ms or 0.0 for t in targets), default=None),
        },
        "lab_servers_cpu_s": round(server_cpu, 1),
        "tls_handshake": handshake,
        "lab_up_seconds": round(lab_seconds, 1),
        "concurrency": concurrency,
        "per_ip": per_ip,
        "workers": workers,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "reference_loop_s": {"before": loop_before, "after": loop_after},
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _handshake_cost(lab_dir: Path, count: int = 2000) -> dict[str, Any]:
    """Client CPU of one TLS handshake (the scan's observation context, aborted right after) against one of
    the lab's HTTPS sites, measured in this process: what each of the scan's ~1.5 handshakes per domain
    costs before any Python of souverain's runs. Ten connections at a time, after 50 to warm up."""
    import asyncio
    import resource
    import ssl

    from souverain.net.tlsctx import observation_context
    from souverain.scan.engine import loop_factory

    truth = json.loads((lab_dir / "truth.json").read_text(encoding="utf-8"))["domains"]
    host, ip = next(
        (name, d["addresses"]["A"][0])
        for name, d in sorted(truth.items())
        if d.get("https") and not d.get("hostile") and d["addresses"]["A"]
    )
    context = observation_context()

    async def connect(times: int) -> None:
        for _ in range(times):
            _, writer = await asyncio.open_connection(ip, 443, ssl=context, server_hostname=host)
            writer.transport.abort()

    async def measure() -> tuple[float, float]:
        await connect(50)
        before, clock = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        await asyncio.gather(*(connect(count // 10) for _ in range(10)))
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - clock
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return cpu, wall

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        cpu, wall = runner.run(measure())
    return {
        "handshakes": count,
        "client_cpu_ms": round(cpu / count * 1000, 3),
        "per_s": round(count / wall),
        "openssl": ssl.OPENSSL_VERSION,
    }


def _phases(db: Any, run_id: int, started: float, ended: float) -> dict[str, Any]:
    """Where the scan command's wall time went, from the timestamps the store keeps: the run's creation
    (portfolio read), its first target's start, its end, its attribution's and assessment's creation."""
    run = db.run(run_id)
    with db.engine.connect() as conn:
        first = conn.exec_driver_sql(
            "SELECT min(started_at) FROM targets WHERE run_id = ?", (run_id,)
        ).scalar_one()
    attributed = db.latest_attribution(run_id)["created_at"]
    assessed = db.latest_assessment(run_id)["created_at"]
    # the scan attributes its targets as it records them (its attribution set is created before probing):
    # what is left after probing is the contact addresses and completing the set
    streamed = attributed < run.finished_at
    marks = {
        "start_to_run_created": (started, run.created_at),  # imports, portfolio read and checked
        "run_created_to_first_target": (run.created_at, first),  # run stored, KB loaded, processes started
        "probing": (first, run.finished_at),
        "probing_end_to_attribution": (run.finished_at, run.finished_at if streamed else attributed),
        "attribution": (run.finished_at if streamed else attributed, assessed),
        "assessment_and_exit": (assessed, ended),
    }
    return {name: round(b - a, 2) for name, (a, b) in marks.items()} | {"attribution_streamed": streamed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--concurrency", type=int, default=150)
    parser.add_argument("--per-ip", type=int, default=16, help="lab addresses host ~500 sites each")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    for size in (int(s) for s in args.sizes.split(",")):
        result = bench(size, args.concurrency, args.per_ip, args.workers)
        path = RESULTS / f"scan-{size}.json"
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(
            f"{path.name}: {result['domains']} domains in {result['seconds']} s = "
            f"{result['domains_per_s']} domains/s, {result['cpu_s_per_domain'] * 1000:.2f} ms CPU/domain, "
            f"peak RSS {result['peak_rss_mb']} MB"
        )
        subprocess.run([*SOUVERAIN, "lab", "down", "--dir", str(WORK / f"lab-{size}")], check=False)


if __name__ == "__main__":
    main()
