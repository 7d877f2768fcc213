"""Grade a run's attribution against the lab world's ``truth.json``: precision and recall per role.

A *claim* is a dependency with an operator (``undetermined`` claims nothing). For each role:
``precision = correct claims / claims`` and
``recall = targets whose true operator was claimed / targets with a true operator``. Saying "undetermined"
lowers recall, never precision: that is the contract (a wrong operator is worse than none).
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from typing import Any

from souverain.lab.kbfiles import LAB_KB, THIRD_PARTY_KB

__all__ = ["ROLE_TRUTH", "grade"]

ROLE_TRUTH = {
    "web-hosting": "web_hosting",
    "cdn": "cdn",
    "dns-hosting": "dns_hosting",
    "mailbox": "mailbox",
    "mail-gateway": "mail_gateway",
    "identity-suite": "identity",
    "certificate-authority": "ca",
}
"""Dependency role → truth key of a domain."""


def _expected_third_party(host: str) -> str | None:
    for pattern, entity in THIRD_PARTY_KB.items():
        if fnmatch.fnmatchcase(host, pattern):
            return entity
    return None


def grade(dependencies: list[dict[str, Any]], truth: dict[str, Any]) -> dict[str, Any]:
    """Precision/recall per role (plus ``mailbox-infrastructure`` and ``third-party``) as a JSON-able dict."""
    domains: dict[str, dict[str, Any]] = truth["domains"]
    claims: dict[str, list[tuple[str, str, str]]] = defaultdict(list)  # role → (domain, subject, operator)
    undetermined: dict[str, int] = defaultdict(int)
    infra_claims: list[tuple[str, str]] = []
    for dep in dependencies:
        domain = dep.get("domain")
        if domain is None or domain not in domains:
            continue
        role = "third-party" if dep.get("scope") == "page" else dep["role"]
        if role not in ROLE_TRUTH and role != "third-party":
            continue
        if dep["operator"] is None:
            undetermined[role] += 1
            continue
        claims[role].append((domain, dep["subject"], dep["operator"]))
        if dep["role"] == "mailbox" and dep["operator"] == "self" and dep.get("infrastructure"):
            infra_claims.append((domain, dep["infrastructure"]))
    out: dict[str, Any] = {}
    for role, key in ROLE_TRUTH.items():
        expected = {d: LAB_KB.get(t[key], f"lab:{t[key]}") for d, t in domains.items() if t.get(key)}
        out[role] = _score([(d, op) for d, _, op in claims[role]], expected, undetermined[role])
    expected_infra = {
        d: LAB_KB.get(t["mailbox_infra"], f"lab:{t['mailbox_infra']}")
        for d, t in domains.items()
        if t.get("mailbox_infra") and t["mailbox_infra"] != "self"
    }
    out["mailbox-infrastructure"] = _score(
        [(d, e) for d, e in infra_claims if d in expected_infra or domains[d].get("mailbox_infra")],
        expected_infra, 0,
    )  # fmt: skip
    tp_claims = [(f"{d} {s}", op) for d, s, op in claims["third-party"]]
    expected_tp = {
        f"{d} {h}": e
        for d, t in domains.items()
        for h in t.get("third_parties") or []
        if (e := _expected_third_party(h))
    }
    out["third-party"] = _score(tp_claims, expected_tp, undetermined["third-party"])
    total_claims = sum(v["claims"] for v in out.values())
    total_correct = sum(v["correct"] for v in out.values())
    out["overall"] = {
        "claims": total_claims,
        "correct": total_correct,
        "precision": round(total_correct / total_claims, 4) if total_claims else None,
    }
    return out


def _score(claims: list[tuple[str, str]], expected: dict[str, str], undetermined: int) -> dict[str, Any]:
    correct = [c for c in claims if expected.get(c[0]) == c[1]]
    wrong = [c for c in claims if expected.get(c[0]) != c[1]]
    found = {d for d, _ in correct}
    return {
        "claims": len(claims),
        "correct": len(correct),
        "wrong": len(wrong),
        "undetermined": undetermined,
        "expected": len(expected),
        "precision": round(len(correct) / len(claims), 4) if claims else None,
        "recall": round(len(found) / len(expected), 4) if expected else None,
        "wrong_examples": [
            {"target": d, "claimed": op, "truth": expected.get(d)} for d, op in sorted(wrong)[:10]
        ],
    }
