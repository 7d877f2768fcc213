"""Scanning: the core (scan_shard) and the run driver (resume, progress, store)."""

from souverain.scan.engine import TargetResult, scan_shard, target_status
from souverain.scan.run import ScanOptions, run_scan

__all__ = ["ScanOptions", "TargetResult", "run_scan", "scan_shard", "target_status"]
