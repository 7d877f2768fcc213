"""Run the command line as a user would (a subprocess with its own SOUVERAIN_HOME)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_cli(
    *args: str, home: Path, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``souverain ARGS`` in a subprocess with ``SOUVERAIN_HOME=home``, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "souverain.cli", *args],
        capture_output=True,
        text=True,
        env={"SOUVERAIN_HOME": str(home), "PATH": "/usr/bin:/bin"},
        timeout=timeout,
        check=False,
        cwd=cwd,
    )
