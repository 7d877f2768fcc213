"""Evidence: the immutable record of what one probe observed, collected without interpretation."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["EVIDENCE_ROLE", "Evidence", "Status", "dig", "for_roles"]


class Status(StrEnum):
    """Closed set of outcomes for a probe (and for a whole target)."""

    OK = "ok"
    NOT_FOUND = "not-found"  # the thing does not exist (NXDOMAIN, no record, HTTP 404 where relevant)
    REFUSED = "refused"  # connection refused / DNS REFUSED
    TIMEOUT = "timeout"  # a budget ran out
    ERROR = "error"  # the target misbehaved (garbage, protocol error, SERVFAIL, too many redirects…)
    NOT_APPLICABLE = "not-applicable"  # the probe does not apply (no address, role not present…)
    SKIPPED = "skipped"  # deliberately not done (robots.txt disallow, target budget exhausted first)
    BUG = "bug"  # an exception inside souverain itself: a defect to report, never the target's fault


_STATUS: dict[str, Status] = {s.value: s for s in Status}


@dataclass(slots=True)
class Evidence:
    """One observation. ``data`` is a JSON-serialisable dict documented per probe in docs/evidence.md."""

    probe: str
    target: str
    status: Status
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    duration_ms: float = 0.0
    probe_version: str = "1"
    schema_version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "target": self.target,
            "status": str(self.status),
            "error": self.error,
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 3),
            "probe_version": self.probe_version,
            "schema_version": self.schema_version,
            "data": self.data,
        }

    @classmethod
    def from_essentials(cls, raw: dict[str, Any]) -> Evidence:
        """From a stored essentials document (``souverain.assessment.essentials``: probe, target, status,
        error and the pruned data only); timings are not kept there."""
        return cls(raw["probe"], raw["target"], _STATUS[raw["status"]], raw["data"], raw["error"], 0.0)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Evidence:
        get = raw.get
        status = raw["status"]
        return cls(  # positional: this runs for every stored evidence read back
            raw["probe"],
            raw["target"],
            _STATUS.get(status) or Status(status),
            get("data") or {},
            get("error"),
            get("started_at", 0.0),
            get("duration_ms", 0.0),
            get("probe_version", "1"),
            get("schema_version", 1),
        )


def dig(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]…`` of an evidence payload, or None where a level is missing or not a dict."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


EVIDENCE_ROLE = {
    "tls": "web",
    "http": "web",
    "page": "web",
    "spf": "mail",
    "dmarc": "mail",
    "dkim": "mail",
    "mta-sts": "mail",
    "tls-rpt": "mail",
    "autodiscover": "mail",
}
"""The domain role an evidence item is about; the others (dns, origin, tenant) are about every role."""


def for_roles(evidence: Sequence[Evidence], roles: Iterable[str]) -> list[Evidence]:
    """The evidence of a domain that is about the roles a body declares for it: a domain scanned once for
    two bodies (one for the web, one for mail) shows each its own facts."""
    wanted = set(roles)
    return [
        ev for ev in evidence if EVIDENCE_ROLE.get(ev.probe, "") in wanted or ev.probe not in EVIDENCE_ROLE
    ]
