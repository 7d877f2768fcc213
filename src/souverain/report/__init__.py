"""The static report of a run."""

from souverain.report.build import ReportResult, build_report

__all__ = ["ReportResult", "build_report"]
