"""French (default) and English texts of the web interface, from the catalogue ``messages.yaml``.

The language travels in the URL (``/en/...``), never in a cookie: anonymous visitors get no cookie at all.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["LANGS", "Translator", "catalogue", "prefix"]

LANGS = ("fr", "en")


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Any]:
    text = resources.files("souverain.web").joinpath("messages.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


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
