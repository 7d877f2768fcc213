"""Reference data of the procurement pillar, read once: CPV nomenclature and digital families, perimeter
keyword rules, named publishers, intermediaries, the territories table and the policy (trajectory, amount
rules). Every file is validated; a problem names the file and the entry."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from souverain.errors import InputError
from souverain.procurement.identifiers import european_area
from souverain.yamlio import YamlProblem, read_yaml

__all__ = [
    "FAMILIES",
    "Intermediary",
    "Policy",
    "Publisher",
    "Reference",
    "data_dir",
    "load_reference",
    "policy_path",
]

FAMILIES = (
    "software",
    "it_services",
    "computer_hardware",
    "telecom_equipment",
    "networks",
    "telecom_services",
    "maintenance",
    "installation",
    "it_training",
)
"""Digital families (the ``family`` column of cpv_numerique_fr.csv)."""


def data_dir() -> Path:
    return Path(str(resources.files("souverain.procurement") / "data"))


def policy_path() -> Path:
    return Path(str(resources.files("souverain.policy") / "data" / "procurement.yaml"))


@dataclass(frozen=True, slots=True)
class Publisher:
    entity: str
    pattern: str
    """One RE2/Python-compatible alternation of the entry's patterns."""


@dataclass(frozen=True, slots=True)
class Intermediary:
    entity: str
    kind: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    european_area: frozenset[str]
    area_name: str
    targets: dict[int, float]
    trajectory: dict[str, Any]
    ceiling_eur: float
    placeholder_min_eur: float
    outlier_z: float
    outlier_mad_floor: float
    outlier_min_contracts: int
    outlier_min_amount_eur: float
    earliest: dt.date
    days_ahead: int


@dataclass(frozen=True, slots=True)
class Reference:
    cpv_codes: dict[str, str]
    """8-digit code → code with check digit (the whole CPV 2008)."""
    cpv_family: dict[str, str]
    """8-digit code → digital family."""
    family_labels: dict[str, dict[str, str]]
    keyword_rules: tuple[tuple[str, str], ...]
    """(family, pattern) in order."""
    keyword_exclude: str | None
    publishers: tuple[Publisher, ...]
    intermediaries: tuple[Intermediary, ...]
    policy: Policy
    digest: str
    """Digest of every file above: stored with each ingest so a change of rules is visible."""


def _read(path: Path) -> Any:
    try:
        return read_yaml(path)
    except YamlProblem as exc:
        raise InputError(str(exc)) from None


def _pattern(where: str, patterns: Any) -> str:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
        raise InputError(f"{where}: expected a non-empty list of patterns")
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise InputError(f"{where}: pattern {p!r} does not compile: {exc}") from None
        if p != p.lower():
            raise InputError(f"{where}: pattern {p!r} must be lower case (matched against folded text)")
    return "|".join(f"(?:{p})" for p in patterns)


def _policy(path: Path) -> Policy:
    doc = _read(path)
    try:
        area_name = str(doc.get("european_area", "EEA"))
        targets = {int(k): float(v) for k, v in doc["trajectory"]["targets"].items() if k != "__line__"}
        amounts, dates = doc["amounts"], doc.get("dates") or {}
        outlier = amounts["outlier"]
        earliest = dates.get("earliest", dt.date(1990, 1, 1))
        if isinstance(earliest, str):
            earliest = dt.date.fromisoformat(earliest)
        return Policy(
            version=str(doc["version"]),
            european_area=european_area(area_name),
            area_name=area_name,
            targets=targets,
            trajectory=_without_lines(doc["trajectory"]),
            ceiling_eur=float(amounts["ceiling_eur"]),
            placeholder_min_eur=float(amounts["placeholder_min_eur"]),
            outlier_z=float(outlier["z"]),
            outlier_mad_floor=float(outlier["mad_floor"]),
            outlier_min_contracts=int(outlier["min_contracts"]),
            outlier_min_amount_eur=float(outlier["min_amount_eur"]),
            earliest=earliest,
            days_ahead=int(dates.get("days_ahead", 366)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: missing or bad field ({type(exc).__name__}: {exc})") from None


def load_reference(data: Path | None = None, policy: Path | None = None) -> Reference:
    """Read and validate the reference files (default: the shipped ones)."""
    d = data or data_dir()
    policy_file = policy or policy_path()
    files = [
        d / n
        for n in (
            "cpv_2008_fr.csv",
            "cpv_numerique_fr.csv",
            "perimeter.yaml",
            "publishers.yaml",
            "intermediaries.yaml",
        )
    ] + [policy_file]
    digest = hashlib.sha256()
    for f in files:
        if not f.is_file():
            raise InputError(f"{f}: reference file not found")
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    codes: dict[str, str] = {}
    with (d / "cpv_2008_fr.csv").open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter=";"):
            if row and re.fullmatch(r"\d{8}-\d", row[0]):
                codes[row[0][:8]] = row[0]
    family: dict[str, str] = {}
    with (d / "cpv_numerique_fr.csv").open(encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["family"] not in FAMILIES:
                raise InputError(
                    f"{d / 'cpv_numerique_fr.csv'}: {rec['cpv8']}: unknown family {rec['family']!r}"
                )
            family[rec["cpv8"]] = rec["family"]
    perimeter = _read(d / "perimeter.yaml")
    labels = {k: {"fr": v["fr"], "en": v["en"]} for k, v in perimeter["families"].items() if k != "__line__"}
    if set(labels) != set(FAMILIES):
        raise InputError(f"{d / 'perimeter.yaml'}: families must be exactly {', '.join(FAMILIES)}")
    rules: list[tuple[str, str]] = []
    for i, rule in enumerate(perimeter.get("rules") or []):
        where = f"{d / 'perimeter.yaml'}:{rule.get('__line__', '?')}: rules[{i}]"
        if rule.get("family") not in FAMILIES:
            raise InputError(f"{where}: family: unknown {rule.get('family')!r}")
        rules.append((rule["family"], _pattern(where, rule.get("pattern"))))
    exclude = perimeter.get("exclude")
    exclude_pattern = _pattern(f"{d / 'perimeter.yaml'}: exclude", exclude) if exclude else None
    publishers = []
    for i, item in enumerate((_read(d / "publishers.yaml") or {}).get("publishers") or []):
        where = f"{d / 'publishers.yaml'}:{item.get('__line__', '?')}: publishers[{i}]"
        if not isinstance(item.get("entity"), str):
            raise InputError(f"{where}: entity: missing")
        publishers.append(Publisher(item["entity"], _pattern(where, item.get("patterns"))))
    intermediaries = []
    for i, item in enumerate((_read(d / "intermediaries.yaml") or {}).get("intermediaries") or []):
        where = f"{d / 'intermediaries.yaml'}:{item.get('__line__', '?')}: intermediaries[{i}]"
        if item.get("kind") not in ("reseller", "central-purchasing"):
            raise InputError(f"{where}: kind: expected reseller or central-purchasing")
        if not isinstance(item.get("entity"), str):
            raise InputError(f"{where}: entity: missing")
        intermediaries.append(Intermediary(item["entity"], item["kind"], _pattern(where, item.get("names"))))
    return Reference(
        cpv_codes=codes,
        cpv_family=family,
        family_labels=labels,
        keyword_rules=tuple(rules),
        keyword_exclude=exclude_pattern,
        publishers=tuple(publishers),
        intermediaries=tuple(intermediaries),
        policy=_policy(policy_file),
        digest=digest.hexdigest()[:12],
    )


@cache
def shipped_reference() -> Reference:
    return load_reference()


def territories_csv() -> Path:
    """Vendored SIREN → territory table (communes, EPCI, EPT, départements, régions); data/README.md."""
    return data_dir() / "territories.csv"


@dataclass(frozen=True, slots=True)
class ParsedCpv:
    code: str | None
    status: str
    detail: str = ""


def parse_cpv(raw: str | None, codes: dict[str, str]) -> ParsedCpv:
    """A CPV code: 8 digits with an optional check digit. A missing leading zero or a wrong check digit
    is corrected; a code absent from CPV 2008 is flagged (kept out of the CPV perimeter)."""
    text = (raw or "").strip()
    if not text:
        return ParsedCpv(None, "bad", "missing")
    compact = re.sub(r"[\s.]", "", text)
    m = re.fullmatch(r"(\d{7,8})(?:-?(\d))?", compact)
    if not m:
        return ParsedCpv(None, "bad", "not a CPV code (8 digits and an optional check digit)")
    digits, check = m.groups()
    notes = []
    if len(digits) == 7:
        if "0" + digits in codes:
            digits = "0" + digits
            notes.append("leading zero restored")
        else:
            return ParsedCpv(None, "flagged", "7 digits, not a CPV code even with a leading zero")
    if digits not in codes:
        return ParsedCpv(None, "flagged", f"{digits} is not in the CPV 2008 nomenclature")
    if check is not None and codes[digits][-1] != check:
        notes.append(f"check digit {check} → {codes[digits][-1]}")
    if compact != text and not notes:
        notes.append("separators removed")
    return ParsedCpv(digits, "corrected" if notes else "ok", "; ".join(notes))


def _without_lines(value: Any) -> Any:
    """``value`` without the loader's ``__line__`` keys, at every depth (they locate errors, not data)."""
    if isinstance(value, dict):
        return {k: _without_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_without_lines(v) for v in value]
    return value
