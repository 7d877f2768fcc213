"""Scanning: the core (scan_shard) and the run driver (resume, progress, store).

The run driver (and the store behind it) is loaded on first use: scanning processes import the core only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from souverain.scan.engine import TargetResult, scan_shard, target_status

if TYPE_CHECKING:
    from souverain.scan.run import ScanOptions, run_scan

__all__ = ["ScanOptions", "TargetResult", "run_scan", "scan_shard", "target_status"]


def __getattr__(name: str) -> Any:
    if name in ("ScanOptions", "run_scan"):
        from souverain.scan import run

        return getattr(run, name)
    raise AttributeError(f"module 'souverain.scan' has no attribute '{name}'")
