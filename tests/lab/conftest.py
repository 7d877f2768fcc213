"""Session fixture ``lab``: a small lab world brought up once for the integration tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from souverain.lab import LabInfo, down, up


@pytest.fixture(scope="session")
def lab(lab_lock: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabInfo]:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    missing = [b for b in ("nsd", "unbound", "nginx") if shutil.which(b, path=path) is None]
    if missing:
        pytest.skip(f"lab binaries missing: {', '.join(missing)} (see scripts/lab-deps.txt)")
    if os.geteuid() != 0:
        pytest.skip("the lab binds port 53/80/443 on 127.0.0.0/8 and needs root")
    lab_dir: Path = tmp_path_factory.mktemp("lab")
    info = up(lab_dir, seed=3, size=25)
    try:
        yield info
    finally:
        down(lab_dir)
