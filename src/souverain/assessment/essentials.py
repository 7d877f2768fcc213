"""What the assessment reads of the stored evidence and dependency rows, cut out once when they are written.

A domain's hygiene evidence is ~7 KB of JSON (DNS answers, TLS chains, HTTP headers); the checks of
``hygiene.py`` and the units of ``assess.py`` read a few dozen fields of it. The store keeps, beside each
hygiene probe's full payload, its *essentials*: the same document pruned to those fields, **with the same
paths**, so the checks run unchanged on either and give the same result (tested on the lab world). A
dependency row's essentials are its scope and its exposures (law, path, through), without the attribution
reasons.

Stores written before the essentials existed have none: readers prune the full payload instead (same
result, slower).
"""

from __future__ import annotations

from typing import Any

__all__ = ["HYGIENE_PROBES", "dependency_essentials", "evidence_essentials"]

_Spec = dict[str, "bool | _Spec"]

KEEP = True
_SPECS: dict[str, _Spec] = {
    "dns": {
        "ad": {"SOA": KEEP, "A": KEEP},
        "queries": {"CAA": {"rrs": KEEP}},
        "null_mx": KEEP,
        "mx_hosts": {"host": KEEP},
    },
    "tls": {
        "endpoints": {
            "status": KEEP,
            "version": KEEP,
            "versions": {"accepted": KEEP},
            "cipher": KEEP,
            "key_exchange": KEEP,
            "key_exchange_group": KEEP,
            "chain_valid": KEEP,
            "validation_error": KEEP,
            "hostname_match": KEEP,
            "chain": {"key_type": KEEP, "key_size": KEEP},
        },
    },
    "http": {
        "final_url": KEEP,  # an HSTS header counts over https:// only
        "http_redirects_to_https": KEEP,
        "https_same_host": KEEP,
        "headers": {"hsts": KEEP, "security": KEEP, "x_content_type_options_nosniff": KEEP},
    },
    "spf": {
        "record": KEEP,
        "all": KEEP,
        "all_effective": KEEP,
        "all_from": KEEP,
        "lookups_exceeded": KEEP,
        "void_lookups_exceeded": KEEP,
        "permerror": KEEP,
        "dns_lookups": KEEP,
        "void_lookups": KEEP,
    },
    "dmarc": {"record": {"valid": KEEP, "raw": KEEP, "effective_policy": KEEP, "pct": KEEP}},
    "dkim": {"keys_found": KEEP, "keys_unusable": KEEP},
    "mta-sts": {"policy": {"mode": KEEP}},
    "tls-rpt": {"record": {"valid": KEEP}},
}
"""Per probe, the fields of ``data`` the assessment reads (``KEEP``: the whole value; a dict: those keys of
it, applied to every element when the value is a list)."""

HYGIENE_PROBES = frozenset(_SPECS)
"""Probes whose payload the assessment reads."""


def _prune(value: Any, spec: bool | _Spec) -> Any:
    if spec is True:
        return value
    assert isinstance(spec, dict)
    if isinstance(value, dict):
        return {key: _prune(value[key], sub) for key, sub in spec.items() if key in value}
    if isinstance(value, list):
        return [_prune(item, spec) for item in value]
    return value


def evidence_essentials(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The stored evidence document ``raw`` (``Evidence.to_dict()``) cut to what the assessment reads, or
    None for a probe the assessment does not read."""
    spec = _SPECS.get(raw.get("probe", ""))
    if spec is None:
        return None
    return {
        "probe": raw["probe"],
        "target": raw["target"],
        "status": raw["status"],
        "error": raw.get("error"),
        "data": _prune(raw.get("data") or {}, spec),
    }


def dependency_essentials(payload: dict[str, Any]) -> dict[str, Any]:
    """A dependency row's payload as the assessment reads it: its scope, and each exposure's law, path and
    whether it comes through the operator or the infrastructure (no reasons)."""
    return {
        "scope": payload.get("scope", ""),
        "exposures": [
            {k: e[k] for k in ("law", "through", "via") if k in e} for e in payload.get("exposures") or ()
        ],
    }
