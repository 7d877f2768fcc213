"""The web index of an assessment: small tables the pages read instead of decoding every organisation's
document per request (built once per assessment, stored, reused by every later start).

- ``web_orgs``: one summary row per organisation (indexed by score, département, région, kind, name);
- ``web_words`` / ``web_domains``: search by word prefix of the normalised name and by domain prefix;
- ``web_deps``: who depends on which operator (or infrastructure), by role;
- ``web_areas``: per région and département, the mean score and each indicator of the assessment summary;
- ``web_providers``: per operator, counts of dependent organisations by role, level, région and département;
- ``web_index.stats``: national key figures, kinds of body, score bands.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import orjson

from souverain.assessment.document import hygiene_findings
from souverain.assessment.run import SENSITIVE, domain_indicators
from souverain.store import Store

__all__ = ["INDEX_VERSION", "build_index", "ensure_index", "norm", "words"]

INDEX_VERSION = 1
SERIOUS = frozenset({"critical", "high"})
LEVEL_RANK = {"qualified": 0, "european": 1, "exposed": 2, "extraterritorial": 3}
STOP_WORDS = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "et", "en", "sur", "a", "au", "aux"})


def norm(text: str) -> str:
    """Lower-case ASCII words separated by one space (accents and punctuation dropped)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def words(text: str) -> list[str]:
    """Search words of a name: normalised, without stop words, at most 64 characters each."""
    return [w[:64] for w in norm(text).split() if w not in STOP_WORDS]


def _all_or_none(values: list[bool]) -> int | None:
    return None if not values else int(all(values))


def _indicators(doc: dict[str, Any]) -> dict[str, int | None]:
    """Per-organisation indicator values, with the rules of ``assessment.run.trajectories``."""
    sensitive = [s for s in doc.get("services", []) if SENSITIVE & set(s["data_classes"]) and s["level"]]
    qualified = [
        s["level"] == "qualified" or (s["observed"] == "self" and s["level"] == "european") for s in sensitive
    ]
    boxes = [r for r in doc["levels"] if r["role"] == "mailbox" and r["level"] != "undetermined"]
    reject: list[bool] = []
    dnssec: list[bool] = []
    for domain in doc.get("hygiene", {}).get("domains", {}).values():
        rejects, _, validated = domain_indicators(domain["checks"])
        if rejects is not None:
            reject.append(rejects)
        if validated is not None:
            dnssec.append(validated)
    return {
        "mailbox_eu": _all_or_none([r["level"] in ("qualified", "european") for r in boxes]),
        "dmarc_reject": _all_or_none(reject),
        "dnssec": _all_or_none(dnssec),
        "sensitive_qualified": _all_or_none(qualified),
    }


def _worst(doc: dict[str, Any]) -> str | None:
    worst = doc.get("worst_critical")
    return str(worst["level"]) if worst else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def build_index(store: Store, assessment_id: int, progress: Callable[[int, int], None] | None = None) -> None:
    """Compute and store the web index of one assessment (replacing an older one)."""
    rows = store.assessment_rows()
    meta = next((r for r in rows if r["id"] == assessment_id), None)
    if meta is None:
        raise ValueError(f"assessment {assessment_id}: not in the store")
    summary = store.assessment_summary(assessment_id) or {}
    orgs = {o.siren: o for o in store.run_organisations(meta["run_id"])}
    total = len(orgs)
    org_rows: list[dict[str, Any]] = []
    word_rows: list[dict[str, Any]] = []
    domain_rows: list[dict[str, Any]] = []
    dep_rows: list[dict[str, Any]] = []
    providers: dict[str, dict[str, Any]] = {}
    kinds: dict[str, list[float]] = defaultdict(list)
    kind_counts: Counter[str] = Counter()
    bands: Counter[int] = Counter()
    area_scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    area_counts: Counter[tuple[str, str]] = Counter()
    done = 0
    for siren, raw in store.iter_org_assessments(assessment_id):
        org = orgs.get(siren)
        if org is None:
            continue
        doc = orjson.loads(raw)  # the stored form; its hygiene findings derived without expanding it all
        score = doc["score"]
        territory = org.territory
        findings = [f for f in (*doc["findings"], *hygiene_findings(doc)) if f["status"] in ("fail", "warn")]
        org_rows.append(
            {
                "siren": siren,
                "name": org.name,
                "name_norm": norm(org.name),
                "kind": org.kind,
                "commune": territory.commune,
                "departement": territory.departement,
                "region": territory.region,
                "score": score,
                "coverage": doc["coverage"],
                "provisional": int(bool(doc.get("provisional"))),
                "worst_level": _worst(doc),
                "findings": len(findings),
                "serious": sum(1 for f in findings if f["severity"] in SERIOUS),
                **_indicators(doc),
                "domains": " ".join(d.name for d in org.domains),
            }
        )
        for word in sorted(set(words(org.name))):
            word_rows.append({"word": word, "siren": siren})
        for domain in org.domains:
            domain_rows.append({"domain": domain.name, "siren": siren})
        kind_counts[org.kind] += 1
        if score is not None:
            kinds[org.kind].append(score)
            bands[min(int(score // 10), 9)] += 1
        for level, code in (("region", territory.region), ("departement", territory.departement)):
            if code:
                area_counts[(level, code)] += 1
                if score is not None:
                    area_scores[(level, code)].append(score)
        seen: set[tuple[str, str, str]] = set()
        for row in doc["levels"]:
            for relation, entity in (
                ("operator", row["operator"]),
                ("infrastructure", row["infrastructure"]),
            ):
                if not entity or entity == "self":
                    continue
                if relation == "infrastructure" and entity == row["operator"]:
                    continue
                key = (entity, row["role"], relation)
                if key in seen:
                    continue
                seen.add(key)
                dep_rows.append(
                    {
                        "operator": entity,
                        "role": row["role"],
                        "siren": siren,
                        "level": row["level"],
                        "subject": str(row["subject"])[:320],
                        "relation": relation,
                    }
                )
                stats = providers.setdefault(
                    entity,
                    {
                        "orgs": set(),
                        "roles": defaultdict(set),
                        "levels": Counter(),
                        "regions": Counter(),
                        "departements": Counter(),
                        "kinds": Counter(),
                        "relations": Counter(),
                    },
                )
                stats["roles"][row["role"]].add(siren)
                stats["levels"][row["level"]] += 1
                stats["relations"][relation] += 1
                if siren not in stats["orgs"]:
                    stats["orgs"].add(siren)
                    stats["regions"][territory.region or "?"] += 1
                    stats["departements"][territory.departement or "?"] += 1
                    stats["kinds"][org.kind] += 1
        done += 1
        if progress is not None and done % 1000 == 0:
            progress(done, total)
    trajectories = summary.get("trajectories", {})
    areas = []
    for (level, code), count in sorted(area_counts.items()):
        scores = area_scores.get((level, code), [])
        values: dict[str, Any] = {
            "organisations": count,
            "score": {"value": _mean(scores), "numerator": None, "denominator": len(scores)},
        }
        plural = "regions" if level == "region" else "departements"
        for indicator, traj in trajectories.items():
            if code in traj.get(plural, {}):
                values[indicator] = traj[plural][code]
        areas.append({"level": level, "code": code, "values": orjson.dumps(values).decode()})
    provider_rows = [
        {
            "operator": entity,
            "organisations": len(s["orgs"]),
            "stats": orjson.dumps(
                {
                    "roles": {role: len(sirens) for role, sirens in sorted(s["roles"].items())},
                    "levels": dict(s["levels"].most_common()),
                    "regions": dict(s["regions"].most_common()),
                    "departements": dict(s["departements"].most_common()),
                    "kinds": dict(s["kinds"].most_common()),
                    "relations": dict(s["relations"]),
                }
            ).decode(),
        }
        for entity, s in providers.items()
    ]
    scored = [r["score"] for r in org_rows if r["score"] is not None]
    stats = {
        "organisations": len(org_rows),
        "scored": len(scored),
        "score": summary.get("score", {}),
        "kinds": {
            kind: {"organisations": n, "scored": len(kinds[kind]), "mean": _mean(kinds[kind])}
            for kind, n in kind_counts.most_common()
        },
        "bands": [bands.get(i, 0) for i in range(10)],
        "levels": summary.get("levels", {}),
        "findings": summary.get("findings", {}),
        "trajectories": {
            k: {kk: v[kk] for kk in ("title", "unit", "target", "gap", "national") if kk in v}
            for k, v in trajectories.items()
        },
        "providers": len(providers),
        "dependencies": len(dep_rows),
    }
    store.save_web_index(
        assessment_id,
        INDEX_VERSION,
        stats,
        {
            "web_orgs": org_rows,
            "web_words": word_rows,
            "web_domains": domain_rows,
            "web_deps": dep_rows,
            "web_areas": areas,
            "web_providers": provider_rows,
        },
    )
    if progress is not None:
        progress(total, total)


def ensure_index(
    store: Store, assessment_id: int, progress: Callable[[int, int], None] | None = None
) -> bool:
    """Build the index of an assessment unless a current one is stored; True when it was built."""
    info = store.web_index_info(assessment_id)
    if info is not None and info["version"] == INDEX_VERSION:
        return False
    build_index(store, assessment_id, progress)
    return True
