"""Validators for portfolio fields: SIREN, domain names, territory codes, e-mail addresses."""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources

import idna

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A name of plain LDH labels (no A-label, no hyphens in 3rd and 4th position) is its own A-label form:
# IDNA processing would return it unchanged, so it is not run (it costs ~0.1 ms per name).
_PLAIN_LABEL = r"(?!-)(?![a-z0-9-]{2}--)[a-z0-9-]{1,63}(?<!-)"
_PLAIN_NAME = re.compile(rf"(?:{_PLAIN_LABEL}\.)+{_PLAIN_LABEL}")
_COMMUNE = re.compile(r"(?:\d{5}|2[AB]\d{3})")


def siren_problem(value: str) -> str | None:
    """Return why ``value`` is not a valid SIREN, or None."""
    if not re.fullmatch(r"\d{9}", value):
        return "must be exactly 9 digits"
    if value == "000000000":
        return "all zeros is not a SIREN"
    total = 0
    for index, char in enumerate(reversed(value)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    if total % 10:
        return "checksum (Luhn) fails"
    return None


def normalise_domain(value: str) -> str:
    """Return the A-label form of a domain name; raise ValueError with the reason if malformed."""
    name = value.strip().rstrip(".").lower()
    if not name:
        raise ValueError("empty domain name")
    if "://" in name or "/" in name or "@" in name or " " in name:
        raise ValueError("not a bare domain name (no scheme, path, '@' or space allowed)")
    if _PLAIN_NAME.fullmatch(name):
        ascii_name = name
    else:
        try:
            ascii_name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            for label in name.split("."):
                if label.startswith("xn--") and not _valid_a_label(label):
                    # idna's own message would show the code points a broken punycode decodes to
                    raise ValueError(f"label '{label}' is not a valid A-label (punycode/IDNA)") from None
            raise ValueError(f"invalid internationalised name: {exc}") from None
    if len(ascii_name) > 253:
        raise ValueError("longer than 253 characters")
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValueError("needs at least two labels (e.g. example.fr)")
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError(f"invalid label '{label}'")
    if labels[-1].isdigit():
        raise ValueError("top-level label cannot be numeric")
    return ascii_name


_LOCAL_FORBIDDEN = frozenset(' <>"(),;:\\[]')


def _valid_a_label(label: str) -> bool:
    try:
        idna.decode(label)
    except (idna.IDNAError, UnicodeError):
        return False
    return True


def email_problem(value: str) -> str | None:
    """Return why ``value`` is not an e-mail address souverain accepts (``local@domain``), or None.

    The local part is a dot-atom of printable characters without space or ``<>"(),;:\\[]`` (no quoted
    local parts); the domain passes :func:`normalise_domain`."""
    value = value.strip()
    if value.count("@") != 1:
        return "not an e-mail address (no '@')" if "@" not in value else "more than one '@'"
    local, _, domain = value.partition("@")
    if not local:
        return "nothing before the '@'"
    if not domain:
        return "no domain after the '@'"
    if len(local) > 64:
        return "local part longer than 64 characters"
    bad = sorted({char for char in local if char in _LOCAL_FORBIDDEN or not char.isprintable()})
    if bad:
        shown = ", ".join(repr(char) for char in bad)
        return f"the local part (before '@') cannot contain {shown}"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "the local part (before '@') cannot start or end with '.' or contain '..'"
    try:
        normalise_domain(domain)
    except ValueError as exc:
        return f"bad domain part '{domain}': {exc}"
    return None


@cache
def departements() -> dict[str, tuple[str, str]]:
    """Département code → (name, région code)."""
    text = resources.files("souverain.data").joinpath("departements.csv").read_text(encoding="utf-8")
    return {row["code"]: (row["name"], row["region"]) for row in csv.DictReader(text.splitlines())}


@cache
def regions() -> dict[str, str]:
    text = resources.files("souverain.data").joinpath("regions.csv").read_text(encoding="utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}


def territory_problems(commune: str | None, departement: str | None, region: str | None) -> list[str]:
    problems: list[str] = []
    deps = departements()
    if departement is not None and departement not in deps:
        problems.append(f"departement '{departement}': unknown département code")
    if region is not None and region not in regions():
        problems.append(f"region '{region}': unknown région code")
    if departement in deps and region is not None and deps[departement][1] != region:
        problems.append(
            f"region '{region}': département {departement} belongs to région {deps[departement][1]}"
        )
    if commune is not None:
        if (why := commune_problem(commune)) is not None:
            problems.append(f"commune '{commune}': {why}")
        elif departement in deps and commune_departement(commune) != departement:
            problems.append(f"commune '{commune}': does not belong to département {departement}")
    return problems


def commune_departement(commune: str) -> str:
    """Département prefix of an INSEE commune code: 3 characters overseas (97x), 2 elsewhere."""
    return commune[:3] if commune.startswith("97") else commune[:2]


def commune_problem(commune: str) -> str | None:
    """Return why ``commune`` is not an INSEE commune code of a known département, or None."""
    shape = "5 digits, or 2A/2B and 3 digits in Corsica (e.g. 31555, 2A004)"
    if len(commune) != 5:
        return f"has {len(commune)} characters; an INSEE commune code is {shape}"
    if not _COMMUNE.fullmatch(commune):
        return f"an INSEE commune code is {shape}"
    prefix = commune_departement(commune)
    if prefix not in departements():
        if commune.startswith("20"):
            return "no département '20' since 1976: Corsican communes start with 2A or 2B"
        return f"no département '{prefix}' (the code starts with its département: 01–95, 2A, 2B, 971–976)"
    return None
