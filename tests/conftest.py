"""Shared fixtures. The ``lab`` fixture starts the real lab (nsd, unbound, nginx, hostile servers) once per
session on 127.0.0.0/8 and stops it at the end."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

LAB_SEED = 7
LAB_SIZE = 150
LAB_LOCK = "/tmp/souverain-test-lab.lock"


@dataclass(frozen=True)
class RunningLab:
    dir: Path
    info: dict[str, Any]
    truth: dict[str, Any]

    @property
    def resolver(self) -> str:
        return str(self.info["resolver"])

    @property
    def ca_file(self) -> str:
        return str(self.info["ca_file"])


@pytest.fixture(scope="session")
def lab_lock() -> Iterator[None]:
    """Held by every fixture that starts a lab: the lab owns fixed loopback addresses and ports, so two
    test sessions on one machine (two checkouts, or a developer's run beside CI) take turns instead of
    replacing each other's lab."""
    with open(LAB_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def _lab_session(lab_lock: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    from souverain.lab import down, up

    if os.geteuid() != 0:
        pytest.skip("the lab binds port 53/80/443 on 127.0.0.0/8 and needs root")
    lab_dir = tmp_path_factory.mktemp("lab")
    up(lab_dir, seed=LAB_SEED, size=LAB_SIZE)
    try:
        info = json.loads((lab_dir / "lab.json").read_text())
        truth = json.loads((lab_dir / "truth.json").read_text())
        yield RunningLab(lab_dir, info, truth)
    finally:
        down(lab_dir)


@pytest.fixture(scope="module")
def lab(_lab_session: RunningLab) -> RunningLab:
    """The session's lab, restarted (world reused, under a second) if another lab replaced it meanwhile."""
    from souverain.lab import status, up

    if not status(_lab_session.dir).get("running"):
        up(_lab_session.dir, seed=LAB_SEED, size=LAB_SIZE)
    return _lab_session
