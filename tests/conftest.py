"""Shared fixtures. The ``lab`` fixture starts the real lab (nsd, unbound, nginx, hostile servers) once per
session on 127.0.0.0/8 and stops it at the end."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import tempfile
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


# PostgreSQL: a throwaway cluster of Debian's PostgreSQL for the store's tests on it ---------------------


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The URL of a PostgreSQL server of our own (trust authentication, 127.0.0.1 only), stopped after."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("Debian's postgresql is not installed (scripts/setup.sh installs it)")
    pytest.importorskip(
        "psycopg", reason="the postgresql extra is not installed (scripts/setup.sh installs it)"
    )
    if os.geteuid() != 0:
        pytest.skip("starts PostgreSQL as the postgres user: needs root")
    base = Path(tempfile.mkdtemp(prefix="souverain-postgres-"))  # pytest's folders are root's alone
    data = base / "data"
    data.mkdir()
    shutil.chown(base, "postgres")
    shutil.chown(data, "postgres")
    port = _free_port()

    def as_postgres(*args: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{Path(args[0]).name}: {done.stderr or done.stdout}"

    try:
        as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        as_postgres(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"
        )
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
        finally:
            as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)
