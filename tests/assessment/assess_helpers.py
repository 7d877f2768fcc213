"""Helpers of the assessment tests."""

from __future__ import annotations

import datetime as dt

ON = dt.date(2026, 6, 1)


def dep(
    role: str,
    operator: str | None,
    domain: str = "mairie.fr",
    subject: str | None = None,
    infra: str | None = None,
    scope: str = "",
    exposures: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    if exposures is None:
        exposures = (
            [{"law": "us-cloud-act", "via": [operator], "through": "operator"}]
            if operator == "uscloud"
            else []
        )
    return {
        "domain": domain,
        "scope": scope,
        "role": role,
        "subject": subject or domain,
        "operator": operator,
        "infrastructure": infra if infra is not None else operator,
        "exposures": exposures,
    }
