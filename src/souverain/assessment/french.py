"""The facts of a finding in French.

A stored finding keeps its facts as the assessment wrote them: codes (roles, levels) and short English texts
(hygiene details, reasons, the "why" of a level). :func:`render_finding` formats the French explanation with
these facts put in French; a text of a form not listed here stays as written (a raw record, a header value).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["french_facts"]

_TEXTS: tuple[tuple[str, str], ...] = (
    # who
    (r"the organisation itself", "l'organisme lui-même"),
    (
        r"the organisation's own service, run on (.+),",
        r"le service de l'organisme lui-même, exploité sur \1,",
    ),
    (r"the organisation's own servers on (.+)", r"les propres serveurs de l'organisme chez \1"),
    (r"undetermined", "indéterminé"),
    # hygiene details (souverain.assessment.hygiene)
    (r"no address for the web host", "pas d'adresse pour l'hôte web"),
    (r"no TLS endpoint", "aucun point d'accès TLS"),
    (r"TLS or HTTP evidence missing", "observations TLS ou HTTP manquantes"),
    (r"no TLS answer \((.+)\)", r"pas de réponse TLS (\1)"),
    (r"HTTPS answers \((.+)\)", r"HTTPS répond (\1)"),
    (r"accepts neither TLS 1\.2 nor TLS 1\.3", "n'accepte ni TLS 1.2 ni TLS 1.3"),
    (r"accepts (.+) only", r"n'accepte que \1"),
    (r"accepts (.+)", r"accepte \1"),
    (r"chain valid against the trust store", "chaîne valide pour le magasin de confiance"),
    (r"chain not valid", "chaîne non valide"),
    (r"the certificate covers the name", "le certificat couvre le nom"),
    (r"the certificate does not cover the name", "le certificat ne couvre pas le nom"),
    (r"HTTP evidence missing", "observations HTTP manquantes"),
    (r"HTTP failed \((.+)\)", r"échec HTTP (\1)"),
    (r"http:// redirects to https://", "http:// redirige vers https://"),
    (r"redirects to HTTPS on another name", "redirige vers HTTPS sur un autre nom"),
    (r"http:// does not redirect to https://", "http:// ne redirige pas vers https://"),
    (r"max-age=(\d+) is under (\d+)", r"max-age=\1 est inférieur à \2"),
    (r"no valid Strict-Transport-Security", "pas d'en-tête Strict-Transport-Security valable"),
    (
        r"Strict-Transport-Security sent over http:// only",
        "Strict-Transport-Security envoyé en http:// seulement",
    ),
    (r"the https:// page was not read", "la page https:// n'a pas été lue"),
    (
        r"Strict-Transport-Security seen over http:// only",
        "Strict-Transport-Security vu en http:// seulement",
    ),
    (r"set", "présent"),
    (r"absent", "absent"),
    (r"DNS evidence missing", "observations DNS manquantes"),
    (r"DNS failed \((.+)\)", r"échec DNS (\1)"),
    (r"validated \(AD flag\)", "validé (drapeau AD)"),
    (r"not validated \(no AD flag\)", "non validé (pas de drapeau AD)"),
    (r"(\d+) record\(s\)", r"\1 enregistrement(s)"),
    (
        r"the domain receives no mail \(no MX or null MX\)",
        "le domaine ne reçoit pas de courriel (pas de MX ou MX nul)",
    ),
    (r"SPF evidence missing", "observations SPF manquantes"),
    (r"no SPF record", "pas d'enregistrement SPF"),
    (r"SPF (error|timeout|refused)", r"SPF : ⟨status:\1⟩"),
    (r"all qualifier absent", "qualificatif « all » absent"),
    (r"all qualifier (.)", r"qualificatif « \1all »"),
    (r"all qualifier absent \(redirect=(.+)\)", r"qualificatif « all » absent (redirect=\1)"),
    (r"all qualifier (.) \(redirect=(.+)\)", r"qualificatif « \1all » (redirect=\2)"),
    (r"(\S+) lookups, (\S+) void", r"\1 requêtes DNS, \2 vides"),
    (r"DMARC evidence missing", "observations DMARC manquantes"),
    (r"no valid DMARC record", "pas d'enregistrement DMARC valable"),
    (r"no DMARC policy", "pas de politique DMARC"),
    (r"p=(\S+) on pct=(\S+) only", r"p=\1 sur pct=\2 seulement"),
    (r"evidence missing", "observations manquantes"),
    (
        r"(\d+) key\(s\) found among the common selectors",
        r"\1 clé(s) trouvée(s) parmi les sélecteurs courants",
    ),
    (r"DKIM lookups failed \((.+)\)", r"échec des requêtes DKIM (⟨status:\1⟩)"),
    # the negotiated suite and the certificate key (hygiene._cipher, hygiene._key)
    (r"(\S+) is forbidden by the baseline", r"\1 est interdite par le référentiel"),
    (r"(\S+) is recommended", r"\1 est recommandée"),
    (r"(\S+) is acceptable, not recommended", r"\1 est acceptable, non recommandée"),
    (r"(\S+) is not in the baseline", r"\1 n'est pas dans le référentiel"),
    (r"cipher not recorded", "suite non relevée"),
    (r"no certificate", "pas de certificat"),
    (r"unknown key (\d+) bits", r"clé inconnue de \1 bits"),
    # the key exchange (hygiene._key_exchange; "DHE 2048 bits (minimum 2048)" reads the same in French)
    (r"key exchange not recorded", "échange de clés non relevé"),
    (
        r"static RSA key exchange: no forward secrecy",
        "échange de clés RSA statique : pas de confidentialité persistante",
    ),
    (r"(.+): hybrid post-quantum key exchange", r"\1 : échange de clés hybride post-quantique"),
    (r"(\S+) (.+) is outside the baseline", r"\1 \2 hors du référentiel"),
    (r"(\d+) key\(s\) found, none usable", r"\1 clé(s) publiée(s), aucune utilisable"),
    (r"mode (\S+)", r"mode \1"),
    (r"no policy", "pas de politique"),
    (r"valid record", "enregistrement valable"),
    (r"absent or invalid", "absent ou non valable"),
    # reasons of an unverifiable declaration (souverain.assessment.assess)
    (r"the service's role is not declared", "le rôle du service n'est pas déclaré"),
    (r"the organisation has no domain", "l'organisme n'a pas de domaine"),
    (
        r"the declared provider is not in the knowledge base",
        "le fournisseur déclaré n'est pas dans la base de connaissances",
    ),
)


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(f"^{pattern}$"), text) for pattern, text in _TEXTS)


@lru_cache(maxsize=1)
def _translator() -> Any:
    from souverain.web.i18n import Translator  # the interface's catalogue: role and level names

    return Translator("fr")


@lru_cache(maxsize=8192)  # few distinct texts (details, reasons, labels) across many findings
def _text(value: str) -> str:
    t = _translator()
    undetermined = re.match(r"^the (\S+) of (\S+) is undetermined$", value)
    if undetermined:
        role = t.label("role", undetermined.group(1))
        return f"{role[:1].lower()}{role[1:]} de {undetermined.group(2)} : indéterminé(e)"
    for pattern, french in _patterns():
        if pattern.match(value):  # a status code in the text (⟨status:error⟩) by its name
            return _STATUS.sub(lambda m: str(t.label("target_status", m[1])), pattern.sub(french, value))
    return value


_STATUS = re.compile(r"⟨status:([a-z-]+)⟩")


@lru_cache(maxsize=8192)
def _said(key: str, value: str) -> str:
    t = _translator()
    if key in ("role", "level"):
        return str(t.label(key, value))
    if key == "why":
        return str(t.why(value))
    return _text(value)


_SAID = frozenset({"role", "level", "why", "operator", "claimed", "observed", "detail", "reason"})


def french_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """The facts with their codes named and their texts said in French (unknown forms kept)."""
    return {k: _said(k, v) if k in _SAID and isinstance(v, str) else v for k, v in facts.items()}
