"""French (default) and English texts of the web interface, from the catalogue ``messages.yaml``.

The language travels in the URL (``/en/...``), never in a cookie: anonymous visitors get no cookie at all.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["LANGS", "Translator", "catalogue", "prefix"]

LANGS = ("fr", "en")


@lru_cache(maxsize=2)
def catalogue(package: str = "souverain.web") -> dict[str, Any]:
    """The ``messages.yaml`` of ``package``: the web interface's, or the report's (souverain.report.texts)."""
    text = resources.files(package).joinpath("messages.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


# The assessment writes the "why" of a level in English (souverain.assessment.levels); these are its forms,
# in French. A form not listed here is shown as written.
_WHY_FR: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^no operator shown by the evidence$", "aucun opérateur visible dans les observations"),
        (r"^operator reached by (.+)$", r"opérateur soumis à \1"),
        (r"^infrastructure reached by (.+)$", r"infrastructure soumise à \1"),
        (r"^operator controlled from (.+)$", r"opérateur contrôlé depuis \1"),
        (r"^infrastructure controlled from (.+)$", r"infrastructure contrôlée depuis \1"),
        (
            r"^technology licensed from (.+) \(outside the European area\)$",
            r"technologie sous licence de \1 (hors de l'espace européen)",
        ),
        (
            r"^declared on (.+), whose offer (.+) is qualified$",
            r"déclaré chez \1, dont l'offre \2 est qualifiée",
        ),
        (r"^run by the organisation itself on (.+)$", r"exploité par l'organisme lui-même sur \1"),
        (r"^run by the organisation itself$", "exploité par l'organisme lui-même"),
        (r"^controlled from the European area$", "contrôlé depuis l'espace européen"),
        (
            r"^the service's role or domain is not declared$",
            "le rôle ou le domaine du service n'est pas déclaré",
        ),
        (r"^no observed dependency for the service$", "aucune dépendance observée pour ce service"),
    )
)


@lru_cache(maxsize=1)
def _law_ids() -> re.Pattern[str]:
    """The law ids the catalogue names (``us-cloud-act``…), as whole words: not inside an entity id."""
    ids = sorted(catalogue()["labels"]["law"], key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, ids)) + r")(?![\w-])")


def prefix(lang: str) -> str:
    """URL prefix of a language: '' for French, '/en' for English."""
    return "" if lang == "fr" else f"/{lang}"


class Translator:
    """``t(key, **values)`` for messages, ``label(group, code)`` for stored codes (levels, roles…)."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGS:
            raise ValueError(f"language '{lang}': expected one of {', '.join(LANGS)}")
        self.lang = lang
        self._messages = catalogue()
        self._labels: dict[str, dict[str, dict[str, str]]] = self._messages["labels"]

    def __call__(self, key: str, **values: Any) -> str:
        entry = self._messages.get(key)
        if not isinstance(entry, dict) or self.lang not in entry:
            return key
        text = str(entry[self.lang])
        return text.format(**values) if values else text

    def why(self, text: str | None) -> str:
        """The reason of a level (stored in English by the assessment, with law ids) in the page's language,
        laws by their names."""
        if not text:
            return "—"
        if self.lang == "fr":
            for pattern, french in _WHY_FR:
                if pattern.match(text):
                    text = pattern.sub(french, text)
                    break
        return _law_ids().sub(lambda m: self.label("law", m[0]), text)

    def change_value(self, value: Any) -> str:
        """One side of a history change: a level (named in the page's language), a score or a value."""
        if isinstance(value, dict):
            value = value.get("level", value.get("operator"))
        if value is None:
            return "—"
        if isinstance(value, str) and value in self._labels.get("level", {}):
            return self.label("level", value)
        return str(value)

    def label(self, group: str, code: str | None) -> str:
        if code is None:
            return "—"
        entry = self._labels.get(group, {}).get(code)
        return str(entry[self.lang]) if entry else code

    def text(self, value: Any) -> str:
        """A stored ``{fr, en}`` text in the current language (the other one as a fallback)."""
        if isinstance(value, dict):
            return str(value.get(self.lang) or value.get("fr") or value.get("en") or "")
        return "" if value is None else str(value)
