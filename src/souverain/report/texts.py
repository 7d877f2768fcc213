"""The report's texts in French (the default) or English: its own catalogue (``messages.yaml``) for its
sentences, the web interface's for the names of stored codes (roles, levels, kinds, statuses…), so that the
report and the dashboard name things alike."""

from __future__ import annotations

from souverain.report.summary import ENGLISH
from souverain.web.i18n import LANGS, Translator, catalogue

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


class ReportText(Translator):
    """The web interface's translator with the report's sentences laid over its own: ``t(key, **values)``
    (the report's catalogue, then the web interface's), ``t.label(group, code)`` for the names of stored codes
    as the dashboard has them, ``t.pick(group, code)`` for the codes the report names itself; a missing
    entry shows the key or the code."""

    def __init__(self, lang: str) -> None:
        super().__init__(lang)  # refuses an unknown language
        self._messages = self._messages | catalogue("souverain.report")

    def pick(self, group: str, code: str | None) -> str:
        if code is None:
            return "—"
        entry = self._messages.get(group, {}).get(code)
        return str(entry[self.lang]) if isinstance(entry, dict) else code

    def status(self, code: str | None) -> str:
        """A probe's or a target's status (``ok``, ``timeout``…) by its name in the report's language."""
        return self.label("target_status", code)

    def phrases(self) -> dict[str, str]:
        return FRENCH_PHRASES if self.lang == "fr" else ENGLISH
