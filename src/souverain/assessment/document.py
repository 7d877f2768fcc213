"""An organisation's assessment document: the compact form the store keeps, the full form readers use.

Stored (``"format": 2``), each hygiene check is a list ``[rule, category, required, status, detail,
evidence, severity]`` and the hygiene findings are not stored: each is a check that failed or warned, so
they are derived from the checks when the document is read. Documents stored before (no ``format``) hold
check records as dicts and the hygiene findings in ``findings``; :func:`expand` leaves them as they are.

:func:`expand` gives the full form every reader of the store gets (``Store.org_assessments_of``…): check
records as dicts (``rule``, ``category``, ``required``, ``status``, ``detail``, ``evidence``) and the
hygiene findings after the others, domain by domain in check order — exactly what format 1 stored. The
assessment itself reads the compact form directly (:func:`check_view`, :func:`hygiene_findings`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["FORMAT", "check_dict", "check_view", "expand", "flagged", "hygiene_findings"]

FORMAT = 2
CHECK_FIELDS = ("rule", "category", "required", "status", "detail", "evidence")
FLAGGED = ("fail", "warn")
"""Check statuses that are findings."""


def check_dict(record: list[Any] | dict[str, Any]) -> dict[str, Any]:
    """A check record as a dict (keys: ``CHECK_FIELDS``)."""
    if isinstance(record, dict):
        return record
    rule, category, required, status, detail, evidence = record[:6]
    return {
        "rule": rule,
        "category": category,
        "required": required,
        "status": status,
        "detail": detail,
        "evidence": evidence,
    }


def check_view(record: list[Any] | dict[str, Any]) -> tuple[str, str, str]:
    """(rule, status, detail) of a check record, compact or not."""
    if isinstance(record, dict):
        return record["rule"], record["status"], record["detail"]
    return record[0], record[3], record[4]


def _finding(domain: str, record: list[Any]) -> dict[str, Any]:
    return {
        "rule": record[0],
        "family": "hygiene",
        "status": record[3],
        "severity": record[6],
        "subject": domain,
        "facts": {"subject": domain, "detail": record[4]},
        "evidence": [record[5]],
    }


def _flagged_records(doc: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """(domain, check record) of each check that is a finding, in a compact document (none for format 1,
    whose ``findings`` hold them already)."""
    if doc.get("format") != FORMAT:
        return
    for domain, part in (doc.get("hygiene") or {}).get("domains", {}).items():
        for record in part.get("checks") or ():
            if record[3] in FLAGGED:
                yield domain, record


def hygiene_findings(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The hygiene findings a compact document does not store."""
    return (_finding(domain, record) for domain, record in _flagged_records(doc))


def flagged(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(rule, status) of each hygiene finding a compact document does not store (counting them needs no
    finding objects)."""
    return ((record[0], record[3]) for _, record in _flagged_records(doc))


def expand(doc: dict[str, Any]) -> dict[str, Any]:
    """The full form of a stored document (a new dict; a document of format 1 is returned as it is)."""
    if doc.get("format") != FORMAT:
        return doc
    out = {k: v for k, v in doc.items() if k != "format"}
    hygiene = doc.get("hygiene") or {}
    domains = {
        name: {**part, "checks": [check_dict(r) for r in part.get("checks") or ()]}
        for name, part in (hygiene.get("domains") or {}).items()
    }
    out["hygiene"] = {**hygiene, "domains": domains}
    out["findings"] = [*(doc.get("findings") or ()), *hygiene_findings(doc)]
    return out
