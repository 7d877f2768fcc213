"""Identifiers found in DECP: buyer SIRETs, supplier identifiers (SIRET, SIREN, VAT, overseas registries,
HORS-UE), dates and CPV codes. Pure functions; each returns the normalised value, a status and why.

Statuses: ``ok`` (as published, or only trimmed), ``corrected`` (changed; ``detail`` says how), ``flagged``
(kept but doubtful: checksum fails, unknown code) and ``bad`` (unusable).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from souverain.kb.countries import EEA, EU, ISO_ALPHA2

__all__ = [
    "FRENCH_TERRITORIES",
    "VAT_PREFIXES",
    "BuyerId",
    "ParsedDate",
    "SupplierId",
    "bloc_of",
    "classify_buyer",
    "classify_supplier",
    "european_area",
    "fold",
    "luhn_ok",
    "parse_date",
    "siren_valid",
    "siret_valid",
]

FRENCH_TERRITORIES = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF", "WF", "PF", "NC", "TF"})
"""France and its overseas départements and collectivities: a registration there counts as French."""

VAT_PREFIXES = {code: code for code in sorted(EU - {"GR"})} | {"EL": "GR", "XI": "GB"}
"""EU VAT prefixes (Greece uses EL, Northern Ireland XI); any other ISO alpha-2 prefix is taken as that
country's own VAT or tax number (``GB…``, ``CH…``/``CHE…``, ``NO…``)."""

_SEPARATORS = re.compile(r"[\s.\-_/\u00a0\u202f]+")
_TYPES = {
    "SIRET": "siret",
    "SIREN": "siren",
    "TVA": "vat",
    "TVAINTRACOMMUNAUTAIRE": "vat",
    "VAT": "vat",
    "TAHITI": "tahiti",
    "RIDET": "ridet",
    "FRWF": "frwf",
    "IREP": "irep",
    "UE": "ue",
    "HORSUE": "hors-ue",
}
_OVERSEAS_COUNTRY = {"tahiti": "PF", "ridet": "NC", "frwf": "WF", "irep": None}
_LA_POSTE = "356000000"


def fold(text: str) -> str:
    """Lower case without accents (what keyword rules match against)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def siren_valid(value: str) -> bool:
    return len(value) == 9 and value.isdigit() and luhn_ok(value)


def siret_valid(value: str) -> bool:
    """14 digits and the Luhn key; La Poste's establishments (SIREN 356000000) use a digit sum divisible
    by 5."""
    if len(value) != 14 or not value.isdigit():
        return False
    if value.startswith(_LA_POSTE):
        return sum(ord(c) - 48 for c in value) % 5 == 0
    return luhn_ok(value)


def european_area(name: str) -> frozenset[str]:
    return {"EU": EU, "EEA": EEA}[name]


def bloc_of(country: str | None, area: frozenset[str]) -> str:
    """``fr`` (France and overseas), ``eu`` (rest of the European area), ``non_eu`` or ``unknown``."""
    if not country:
        return "unknown"
    if country in FRENCH_TERRITORIES:
        return "fr"
    return "eu" if country in area else "non_eu"


def _compact(raw: str) -> str:
    return _SEPARATORS.sub("", raw.strip())


@dataclass(frozen=True, slots=True)
class BuyerId:
    siret: str | None
    siren: str | None
    status: str
    detail: str = ""


def classify_buyer(raw: str | None) -> BuyerId:
    """A buyer's SIRET: separators removed, a lost leading zero restored; a SIREN alone is accepted."""
    text = (raw or "").strip()
    if not text:
        return BuyerId(None, None, "bad", "missing")
    digits = _compact(text)
    if digits.endswith(".0") and digits[:-2].isdigit():
        digits = digits[:-2]
    if not digits.isdigit():
        return BuyerId(None, None, "bad", "not a SIRET (non-digit characters)")
    changed = digits != text
    if len(digits) == 13 and siret_valid("0" + digits):
        return BuyerId("0" + digits, "0" + digits[:8], "corrected", "leading zero restored")
    if len(digits) == 14:
        if siret_valid(digits):
            return BuyerId(
                digits, digits[:9], "corrected" if changed else "ok", "separators removed" if changed else ""
            )
        if siren_valid(digits[:9]):
            return BuyerId(digits, digits[:9], "flagged", "SIRET checksum fails (SIREN valid)")
        return BuyerId(digits, digits[:9], "flagged", "SIRET and SIREN checksums fail")
    if len(digits) == 9:
        if siren_valid(digits):
            return BuyerId(None, digits, "corrected", "SIREN given instead of a SIRET")
        return BuyerId(None, digits, "flagged", "SIREN checksum fails")
    return BuyerId(None, None, "bad", f"{len(digits)} digits (a SIRET has 14)")


@dataclass(frozen=True, slots=True)
class SupplierId:
    """A supplier identifier, normalised. ``key`` identifies the supplier across sources."""

    key: str
    id_type: str
    """siret, siren, vat, tahiti, ridet, frwf, irep, ue, hors-ue or unknown."""
    value: str
    siren: str | None
    country: str | None
    """Country of registration (ISO alpha-2) when the identifier tells it."""
    valid: bool
    status: str
    detail: str = ""


def _french_vat_siren(value: str) -> tuple[str | None, bool]:
    """SIREN inside a French VAT number FRkk123456789 and whether the numeric key matches."""
    body = value[2:]
    if len(body) != 11 or not body[2:].isdigit():
        return None, False
    siren = body[2:]
    key = body[:2]
    if key.isdigit():
        return siren, int(key) == (12 + 3 * (int(siren) % 97)) % 97
    return siren, True  # alphanumeric keys (new-style numbers) are not checked


def _vat(value: str, detail: list[str]) -> SupplierId:
    upper = value.upper()
    prefix = upper[:2]
    country = VAT_PREFIXES.get(prefix) or (prefix if prefix in ISO_ALPHA2 else None)
    if country is None or len(upper) < 4:
        return SupplierId(
            f"vat:{upper}",
            "vat",
            upper,
            None,
            None,
            False,
            "flagged",
            "; ".join([*detail, "VAT number without a known country prefix"]),
        )
    siren = None
    valid = True
    if country == "FR":
        siren, valid = _french_vat_siren(upper)
        if siren is None:
            valid = False
            detail.append("French VAT number not of the form FRkk + SIREN")
        elif not valid:
            detail.append("French VAT key does not match the SIREN")
        elif not siren_valid(siren):
            valid = False
            detail.append("SIREN inside the VAT number fails its checksum")
    key = f"siren:{siren}" if siren and valid else f"vat:{upper}"
    status = "flagged" if not valid else ("corrected" if detail else "ok")
    return SupplierId(key, "vat", upper, siren, country, valid, status, "; ".join(detail))


def classify_supplier(type_raw: str | None, id_raw: str | None) -> SupplierId:
    """Identify a supplier from the published identifier type and value (types are often missing or
    misspelt: ``Siret``, ``HORS_UE``, empty)."""
    text = (id_raw or "").strip()
    declared = re.sub(r"[^A-Z]", "", fold(type_raw or "").upper())
    id_type = _TYPES.get(declared)
    detail: list[str] = []
    compact = _compact(text)
    if compact.endswith(".0") and compact[:-2].isdigit():
        compact = compact[:-2]
    if id_type is None:
        if compact.isdigit() and len(compact) in (13, 14):
            id_type = "siret"
        elif compact.isdigit() and len(compact) == 9:
            id_type = "siren"
        elif re.fullmatch(r"[A-Za-z]{2}[A-Za-z0-9+*]{2,13}", compact):
            id_type = "vat"
        if id_type:
            detail.append(
                f"type {type_raw!r} → {id_type.upper()} (inferred from the identifier)"
                if (type_raw or "").strip()
                else f"missing type → {id_type.upper()}"
            )
    elif (type_raw or "").strip() not in ("SIRET", "TVA", "TAHITI", "RIDET", "FRWF", "IREP", "UE", "HORS-UE"):
        detail.append(f"type {type_raw!r} → {id_type.upper()}")
    if not text:
        return SupplierId(
            f"unknown:{id_type or ''}",
            id_type or "unknown",
            "",
            None,
            None,
            False,
            "bad",
            "missing identifier",
        )
    if id_type in ("siret", "siren") and not compact.isdigit() and re.fullmatch(r"[A-Za-z]{2}\w+", compact):
        detail.append(f"{id_type.upper()} type with a VAT number → TVA")
        id_type = "vat"
    if id_type in ("siret", "siren"):
        if compact != text:
            detail.append("separators removed")
        return _french(compact, id_type, detail)
    if id_type == "vat":
        if compact != text:
            detail.append("separators removed")
        return _vat(compact, detail)
    if id_type in _OVERSEAS_COUNTRY:
        value = compact.upper()
        return SupplierId(
            f"{id_type}:{value}",
            id_type,
            value,
            None,
            _OVERSEAS_COUNTRY[id_type],
            bool(value),
            "corrected" if detail else "ok",
            "; ".join(detail),
        )
    if id_type in ("ue", "hors-ue"):
        value = compact.upper()
        return SupplierId(
            f"{id_type}:{value}",
            id_type,
            value,
            None,
            None,
            True,
            "corrected" if detail else "ok",
            "; ".join(detail),
        )
    return SupplierId(
        f"unknown:{compact.upper()}",
        "unknown",
        compact.upper(),
        None,
        None,
        False,
        "flagged",
        "; ".join([*detail, f"unrecognised identifier type {type_raw!r}"]),
    )


def _french(digits: str, id_type: str, detail: list[str]) -> SupplierId:
    if not digits.isdigit():
        return SupplierId(
            f"unknown:{digits.upper()}",
            id_type,
            digits.upper(),
            None,
            "FR",
            False,
            "flagged",
            "; ".join([*detail, "non-digit characters in a SIRET/SIREN"]),
        )
    if len(digits) == 13 and siret_valid("0" + digits):
        digits = "0" + digits
        detail.append("leading zero restored")
    if len(digits) == 14:
        siren = digits[:9]
        if siret_valid(digits):
            return SupplierId(
                f"siren:{siren}",
                "siret",
                digits,
                siren,
                "FR",
                True,
                "corrected" if detail else "ok",
                "; ".join(detail),
            )
        if siren_valid(siren):
            return SupplierId(
                f"siren:{siren}",
                "siret",
                digits,
                siren,
                "FR",
                True,
                "flagged",
                "; ".join([*detail, "SIRET checksum fails (SIREN valid)"]),
            )
        return SupplierId(
            f"siret:{digits}",
            "siret",
            digits,
            None,
            "FR",
            False,
            "flagged",
            "; ".join([*detail, "SIRET and SIREN checksums fail"]),
        )
    if len(digits) == 9:
        if id_type == "siret":
            detail.append("SIREN given as SIRET")
        if siren_valid(digits):
            return SupplierId(
                f"siren:{digits}",
                "siren",
                digits,
                digits,
                "FR",
                True,
                "corrected" if detail else "ok",
                "; ".join(detail),
            )
        return SupplierId(
            f"siren:{digits}",
            "siren",
            digits,
            None,
            "FR",
            False,
            "flagged",
            "; ".join([*detail, "SIREN checksum fails"]),
        )
    return SupplierId(
        f"siret:{digits}",
        id_type,
        digits,
        None,
        "FR",
        False,
        "flagged",
        "; ".join([*detail, f"{len(digits)} digits (a SIRET has 14, a SIREN 9)"]),
    )


@dataclass(frozen=True, slots=True)
class ParsedDate:
    value: dt.date | None
    status: str
    detail: str = ""


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2}Z?)?$")
_ISO_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_FRENCH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_date(raw: str | None, *, earliest: dt.date, latest: dt.date) -> ParsedDate:
    """A DECP date: ``YYYY-MM-DD`` with an optional time-zone suffix is as published; a time part,
    ``DD/MM/YYYY`` or ``YYYYMMDD`` is corrected; anything else, or a date outside [earliest, latest], is
    bad."""
    text = (raw or "").strip()
    if not text:
        return ParsedDate(None, "bad", "missing")
    status, how = "ok", ""
    if m := _ISO.match(text):
        y, mo, d = m.groups()
    elif m := _ISO_TIME.match(text):
        (y, mo, d), status, how = m.groups(), "corrected", "time part dropped"
    elif m := _FRENCH.match(text):
        d, mo, y = m.groups()
        status, how = "corrected", "DD/MM/YYYY read as a date"
    elif m := _COMPACT.match(text):
        (y, mo, d), status, how = m.groups(), "corrected", "YYYYMMDD read as a date"
    else:
        return ParsedDate(None, "bad", "not a date")
    try:
        value = dt.date(int(y), int(mo), int(d))
    except ValueError:
        return ParsedDate(None, "bad", "no such day")
    if not earliest <= value <= latest:
        return ParsedDate(None, "bad", f"{value} outside {earliest}…{latest}")
    return ParsedDate(value, status, how)
