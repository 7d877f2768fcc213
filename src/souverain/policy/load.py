"""The assessment policy: versioned data files (levels, weights, rules with French and English texts,
baseline profiles, programme indicators, references) read and validated into a :class:`Policy`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from souverain.errors import InputError
from souverain.kb.countries import EEA, EU
from souverain.yamlio import YamlProblem, read_yaml, without_lines

__all__ = ["LEVELS", "Policy", "Rule", "default_policy_dir", "load_policy"]

LEVELS = ("qualified", "european", "exposed", "extraterritorial", "undetermined")
SEVERITIES = ("critical", "high", "medium", "low", "info")
FAMILIES = ("sovereignty", "strategic-data", "declared-vs-observed", "hygiene")


def default_policy_dir() -> Path:
    return Path(str(resources.files("souverain.policy") / "data"))


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    family: str
    severity: str
    title: dict[str, str]
    explanation: dict[str, str]
    remediation: dict[str, str]
    basis: tuple[str, ...] = ()
    category: str | None = None
    required: bool = True
    data_classes: tuple[str, ...] = ()
    explanation_unknown: dict[str, str] | None = None
    """What an ``unknown`` finding says, when the rule's explanation states a fact that was not seen."""


@dataclass(slots=True)
class Policy:
    version: str
    digest: str
    points: dict[str, int]
    european_area: frozenset[str]
    qualified_schemes: tuple[str, ...]
    weights: dict[str, float]
    critical: frozenset[str]
    provisional_below: float
    tls_baseline: str
    hsts_min_max_age: int
    rules: dict[str, Rule]
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    indicators: list[dict[str, Any]] = field(default_factory=list)
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    tls_baseline_chosen: bool = False  # chosen at run time instead of the policy file's default

    @property
    def methodology(self) -> str:
        """What every stored score names: policy version and content digest (and the TLS baseline when one
        other than the policy file's was chosen at run time)."""
        chosen = f"+tls:{self.tls_baseline}" if self.tls_baseline_chosen else ""
        return f"{self.version}+{self.digest}{chosen}"

    def rule(self, rule_id: str) -> Rule:
        return self.rules[rule_id]


def _read(path: Path) -> Any:
    try:
        return read_yaml(path)
    except YamlProblem as exc:
        raise InputError(str(exc)) from None


def _texts(where: str, raw: Any, name: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not isinstance(raw.get("fr"), str) or not isinstance(raw.get("en"), str):
        raise InputError(f"{where}: {name}: needs 'fr' and 'en' texts")
    return {"fr": raw["fr"], "en": raw["en"]}


def load_policy(directory: Path | None = None, *, tls_baseline: str | None = None) -> Policy:
    """Read ``policy.yaml``, ``rules.yaml``, ``trajectories.yaml``, ``references.yaml`` and ``baselines/``.

    ``tls_baseline`` replaces the TLS baseline profile named in ``policy.yaml`` (``hygiene.tls_baseline``) by
    another profile of ``baselines/``; the methodology string then names it."""
    d = directory or default_policy_dir()
    digest = hashlib.sha256()
    files = sorted(p for p in d.rglob("*.yaml") if p.is_file())
    for p in files:
        digest.update(p.name.encode() + b"\0" + p.read_bytes())
    main_path = d / "policy.yaml"
    if not main_path.is_file():
        raise InputError(f"{main_path}: policy file not found")
    main = _read(main_path)
    try:
        levels, score, hygiene = main["levels"], main["score"], main["hygiene"]
        points = {k: int(v) for k, v in levels["points"].items() if k != "__line__"}
        weights = {k: float(v) for k, v in score["weights"].items() if k != "__line__"}
        area = {"EU": EU, "EEA": EEA}[levels.get("european_area", "EEA")]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{main_path}: missing or bad field {exc}") from None
    if set(points) != set(LEVELS) - {"undetermined"}:
        raise InputError(f"{main_path}: levels.points must give points for {', '.join(LEVELS[:-1])}")
    rules: dict[str, Rule] = {}
    for raw in (_read(d / "rules.yaml") or {}).get("rules", []):
        where = f"{d / 'rules.yaml'}:{raw.get('__line__', 0)}: {raw.get('id')}"
        if raw.get("id") in rules:
            raise InputError(f"{where}: duplicate rule id")
        if raw.get("family") not in FAMILIES or raw.get("severity") not in SEVERITIES:
            raise InputError(f"{where}: family must be one of {FAMILIES}, severity one of {SEVERITIES}")
        rules[raw["id"]] = Rule(
            raw["id"],
            raw["family"],
            raw["severity"],
            _texts(where, raw.get("title"), "title"),
            _texts(where, raw.get("explanation"), "explanation"),
            _texts(where, raw.get("remediation"), "remediation"),
            tuple(raw.get("basis") or ()),
            raw.get("category"),
            bool(raw.get("required", True)),
            tuple(raw.get("data_classes") or ()),
            _texts(where, raw["explanation_unknown"], "explanation_unknown")
            if "explanation_unknown" in raw
            else None,
        )
    baselines = {}
    for p in sorted((d / "baselines").glob("*.yaml")) if (d / "baselines").is_dir() else []:
        doc = _read(p)
        if not isinstance(doc, dict) or "id" not in doc:
            raise InputError(f"{p}: a baseline needs an id")
        for section in ("protocols", "ciphers"):
            for key, values in (doc.get(section) or {}).items():
                if key != "__line__" and (
                    not isinstance(values, list) or not all(isinstance(v, str) for v in values)
                ):
                    raise InputError(
                        f"{p}: {section}.{key}: expected a list of strings (quote NULL, yes, no…)"
                    )
        baselines[doc["id"]] = doc
    refs_path = d / "references.yaml"
    references = (
        {r["id"]: without_lines(r) for r in (_read(refs_path) or {}).get("references", [])}
        if refs_path.is_file()
        else {}
    )
    for rule in rules.values():
        missing = [b for b in rule.basis if b not in references]
        if missing and references:
            raise InputError(f"{d / 'rules.yaml'}: {rule.id}: basis {missing} not in references.yaml")
    default_baseline = str(hygiene.get("tls_baseline", "anssi-tls"))
    if default_baseline not in baselines:
        raise InputError(
            f"{main_path}: hygiene.tls_baseline {default_baseline!r} is not a profile of {d / 'baselines'} "
            f"(known: {', '.join(sorted(baselines)) or 'none'})"
        )
    if tls_baseline is not None and tls_baseline not in baselines:
        raise InputError(
            f"--tls-baseline {tls_baseline!r}: no such baseline profile "
            f"(known: {', '.join(sorted(baselines))})"
        )
    chosen = tls_baseline is not None and tls_baseline != default_baseline
    indicators = without_lines((_read(d / "trajectories.yaml") or {}).get("indicators", []))
    return Policy(
        version=str(main.get("version")),
        digest=digest.hexdigest()[:12],
        points=points,
        european_area=frozenset(area),
        qualified_schemes=tuple(levels.get("qualified_schemes") or ("secnumcloud",)),
        weights=weights,
        critical=frozenset(score.get("critical") or ()),
        provisional_below=float(score.get("provisional_below", 0.6)),
        tls_baseline=tls_baseline if chosen and tls_baseline else default_baseline,
        hsts_min_max_age=int(hygiene.get("hsts_min_max_age", 31536000)),
        rules=rules,
        baselines=baselines,
        indicators=indicators,
        references=references,
        tls_baseline_chosen=chosen,
    )
