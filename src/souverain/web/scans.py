"""On-demand scans: a queue served by one worker thread, each scan in a child process that records a normal
run (marked ``on_demand`` in its configuration, so it never replaces the published assessment), then
attributes and assesses it.

The child process (``python -m souverain.web.scans STORE REQUEST``) runs the scan in its own main thread,
where the scanning core can install its signal handlers, and cannot take the web server down with it.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["ScanQueue", "scan_config"]

CHILD_TIMEOUT_S = 900


def scan_config(*, lab_dir: Path | None, resolver: str | None, ca_file: str | None) -> dict[str, Any]:
    """The run configuration of on-demand scans (lab: the lab's resolver, CA and KB overlay)."""
    # outside the lab, every connection of the scan is to a public address (net/addresses.py): the guard's
    # check before the scan cannot see a name that changes its answer later, nor a redirect to an inner host
    config: dict[str, Any] = {
        "resolver": resolver,
        "ca_file": ca_file,
        "on_demand": True,
        "public_only": lab_dir is None,
    }
    if lab_dir is not None:
        import orjson

        info = orjson.loads((lab_dir / "lab.json").read_bytes())
        config.update(
            resolver=resolver or info["resolver"], ca_file=ca_file or info["ca_file"], lab_dir=str(lab_dir)
        )
    return config


class ScanQueue:
    """FIFO of scan request ids; one scan at a time. ``capacity`` bounds the waiting requests."""

    def __init__(self, store_path: str, home: Path, config: dict[str, Any], capacity: int = 20) -> None:
        self.store_path = store_path
        self.home = home
        self.config = config
        self._queue: queue.Queue[int | None] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None

    def submit(self, request_id: int) -> bool:
        """Queue a request; False when the queue is full."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="souverain-scans", daemon=True)
            self._thread.start()
        try:
            self._queue.put_nowait(request_id)
        except queue.Full:
            return False
        return True

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)

    def _work(self) -> None:
        from souverain.store import Store

        store = Store(self.store_path)
        while True:
            request_id = self._queue.get()
            if request_id is None:
                return
            env = dict(os.environ, SOUVERAIN_HOME=str(self.home))
            import orjson

            args = [
                sys.executable,
                "-m",
                "souverain.web.scans",
                self.store_path,
                str(request_id),
                orjson.dumps(self.config).decode(),
            ]
            try:
                done = subprocess.run(
                    args, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
                )
                if done.returncode != 0:
                    lines = (done.stderr or "").strip().splitlines()
                    detail = lines[-1] if lines else f"exit code {done.returncode}"
                    store.update_scan_request(request_id, status="failed", detail=detail[:500])
            except subprocess.TimeoutExpired:
                store.update_scan_request(request_id, status="failed", detail="timed out")


def _child(store_path: str, request_id: int, config: dict[str, Any]) -> None:
    from souverain.assessment.run import assess_run
    from souverain.attribution.run import attribute_run, context_for_run
    from souverain.policy.load import load_policy
    from souverain.scan.run import ScanOptions, net_config_from, run_scan
    from souverain.store import Store

    store = Store(store_path)
    request = store.scan_request(request_id)
    if request is None:
        raise SystemExit(f"scan request {request_id}: not found")
    org = store.organisation(request["siren"])
    if org is None:
        store.update_scan_request(
            request_id, status="failed", detail=f"organisation {request['siren']} unknown"
        )
        return
    if request["target"] != org.siren:
        org = dataclasses.replace(org, domains=tuple(d for d in org.domains if d.name == request["target"]))
    config = {**config, "scan_request": request_id}
    run_id = store.create_run(f"on-demand:{request_id}", [org], config)
    store.hold_run(run_id)  # until this process ends: a `scan --resume` of it meanwhile is refused
    store.update_scan_request(request_id, status="running", run_id=run_id)
    run_scan(store, run_id, net_config_from(config), ScanOptions(concurrency=20, workers=1))
    home = Path(os.environ.get("SOUVERAIN_HOME", "~/.local/share/souverain")).expanduser()
    kb, networks = context_for_run(config, home)
    attribute_run(store, run_id, kb, networks)
    result = assess_run(store, run_id, kb, networks, load_policy())
    score = store.org_scores(org.siren, [result.assessment_id]).get(result.assessment_id)
    detail = f"assessment {result.assessment_id}: score {score[0] if score else None}"
    store.update_scan_request(request_id, status="completed", detail=detail)


if __name__ == "__main__":
    import orjson

    _child(sys.argv[1], int(sys.argv[2]), orjson.loads(sys.argv[3]))
