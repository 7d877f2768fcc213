"""A scan killed mid-run (SIGKILL or SIGINT) resumes and ends with every target recorded exactly once."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from souverain.store import Store
from souverain.store.schema import evidence, targets
from store_revisions import new_database

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _start_scan(lab: Any, store_path: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "souverain.cli",
            "scan",
            "--lab",
            "--dir",
            str(lab.dir),
            "--store",
            store_path,
            "--concurrency",
            "4",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _recorded(store_path: str) -> int:
    if "://" not in store_path and not Path(store_path).exists():
        return 0
    try:
        store = Store(store_path)
    except Exception:
        return 0
    try:
        with store.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(targets).where(targets.c.status != "pending")
                ).scalar()
                or 0
            )
    except Exception:
        return 0
    finally:
        store.close()


def _wait_for_progress(
    proc: subprocess.Popen[str], store_path: str, at_least: int, timeout: float = 150
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _recorded(store_path) >= at_least:
            return
        if proc.poll() is not None:  # the scan ended before: say why instead of waiting out the timeout
            raise AssertionError(
                f"the scan exited ({proc.returncode}) early: {proc.communicate()[1][-2000:]}"
            )
        time.sleep(0.2)
    raise AssertionError(f"scan recorded fewer than {at_least} targets in {timeout}s")


def _stopped(proc: subprocess.Popen[str]) -> str:
    """Wait until every process of the scan has ended: its scanning processes hold the command's output pipes,
    so the pipes close only when the last of them is gone. One that outlives a killed command (it would go on
    scanning, unseen) fails the test, and the whole session is killed so that it does not outlive the test."""
    try:
        return proc.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("a process of the scan was still running 60 s after the command was stopped")


def _assert_exactly_once(store_path: str, run_id: int) -> None:
    store = Store(store_path)
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(targets.c.domain, targets.c.status).where(targets.c.run_id == run_id)
        ).all()
        per_target_probe = conn.execute(
            sa.select(evidence.c.target_id, evidence.c.probe, evidence.c.subject, sa.func.count())
            .where(evidence.c.run_id == run_id)
            .group_by(evidence.c.target_id, evidence.c.probe, evidence.c.subject)
            .having(sa.func.count() > 1)
        ).all()
    assert rows and all(status != "pending" for _, status in rows)
    assert len({domain for domain, _ in rows}) == len(rows)
    assert per_target_probe == [], "evidence recorded twice for one target"
    assert store.run(run_id).status == "completed"
    store.close()


@pytest.mark.parametrize(
    ("sig", "workers", "database"),
    [
        (signal.SIGKILL, 1, "sqlite"),
        (signal.SIGINT, 1, "sqlite"),
        (signal.SIGKILL, 2, "sqlite"),
        (signal.SIGINT, 2, "sqlite"),
        (signal.SIGKILL, 2, "postgresql"),
    ],
    ids=["kill-9", "ctrl-c", "kill-9-two-workers", "ctrl-c-two-workers", "kill-9-two-workers-postgresql"],
)
def test_interrupted_scan_resumes_exactly_once(
    lab: Any, tmp_path: Path, sig: signal.Signals, workers: int, database: str, request: pytest.FixtureRequest
) -> None:
    if database == "postgresql":
        store_path = new_database(request.getfixturevalue("postgres"), "resume")
    else:
        store_path = str(tmp_path / "s.db")
    proc = _start_scan(lab, store_path, "--workers", str(workers))
    try:
        _wait_for_progress(proc, store_path, 3)
    finally:
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground process group
        else:
            os.kill(proc.pid, sig)
        stderr = _stopped(proc)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, stderr
        assert "resume with: souverain scan --resume 1" in stderr
        assert "Traceback" not in stderr, stderr  # asyncio's noise about the cut connections is dropped
    store = Store(store_path)
    assert store.run(1).status in ("running", "interrupted")
    # the attribution the scan was filling as it recorded targets is incomplete: readers see none
    assert store.latest_attribution(1) is None
    pending_before = len(store.targets(1, pending_only=True))
    assert pending_before > 0, "the scan finished before it was interrupted; the test proves nothing"
    resumed = subprocess.run(
        [sys.executable, "-m", "souverain.cli", "scan", "--resume", "1", "--store", store_path],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    _assert_exactly_once(store_path, 1)
    # the resumed run is attributed from all its stored evidence, in a new, complete set
    attribution = store.latest_attribution(1)
    assert attribution is not None and attribution["id"] == 2 and attribution["complete"]
    assert "attribution 2 of run 1" in resumed.stderr
    assert store.dependencies_of(2)
    assert store.drop_incomplete_attributions(1) == 0  # the interrupted scan's set is gone already
    assert store.dependencies_of(1) == []
    store.close()
