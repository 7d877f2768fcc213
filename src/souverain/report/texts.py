"""The report's texts in French (the default) or English: its own catalogue (``messages.yaml``) for its
sentences, the web interface's for the names of stored codes (roles, levels, kinds, statuses…), so that the
report and the dashboard name things alike."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from souverain.report.summary import ENGLISH
from souverain.web.i18n import LANGS, Translator

__all__ = ["FRENCH_PHRASES", "LANGS", "ReportText"]

# The fixed phrases of a domain's summary in French (English, as in the JSON files: summary.ENGLISH).
FRENCH_PHRASES: dict[str, str] = {
    "dnssec_validated": "validé (AD)",
    "dnssec_not_validated": "non validé",
    "chain_valid": "chaîne valide",
    "chain_invalid": "chaîne INVALIDE ({error})",
    "hostname_mismatch": "nom d'hôte non conforme",
    "accepts": "accepte {versions}",
    "to_https": "http→https",
    "no_to_https": "pas de redirection http→https",
    "lookups": "{dns} DNS, {void} vides",
    "state": "{status} : {error}",
}


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, Any]:
    text = resources.files("souverain.report").joinpath("messages.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


class ReportText:
    """``t(key, **values)`` for a sentence (the report's catalogue, then the web interface's),
    ``t.pick(group, code)`` for a code the report names itself, ``t.label(group, code)`` for one the web
    interface names; a missing entry shows the key or the code."""

    def __init__(self, lang: str) -> None:
        self.ui = Translator(lang)  # refuses an unknown language
        self.lang = lang
        self._messages = _catalogue()

    def __call__(self, key: str, **values: Any) -> str:
        entry = self._messages.get(key)
        if not isinstance(entry, dict) or self.lang not in entry:
            return self.ui(key, **values)  # the web interface's sentence, or the key
        text = str(entry[self.lang])
        return text.format(**values) if values else text

    def pick(self, group: str, code: str | None) -> str:
        if code is None:
            return "—"
        entry = self._messages.get(group, {}).get(code)
        return str(entry[self.lang]) if isinstance(entry, dict) else code

    def label(self, group: str, code: str | None) -> str:
        return self.ui.label(group, code)

    def status(self, code: str | None) -> str:
        """A probe's or a target's status (``ok``, ``timeout``…) by its name in the report's language."""
        return self.ui.label("target_status", code)

    def why(self, text: str | None) -> str:
        return self.ui.why(text)

    def text(self, value: Any) -> str:
        return self.ui.text(value)

    def phrases(self) -> dict[str, str]:
        return FRENCH_PHRASES if self.lang == "fr" else ENGLISH
