"""A synthetic DECP generator of realistic shape, with the known defects, for tests and benchmarks.

Contracts come from a seeded stream (same seed → same contracts); :mod:`souverain.procurement.writers` puts
them in any published form: the consolidated flat table (CSV or Parquet, one row per contract × version ×
supplier), or the nested 2019 and 2022 formats (JSON or XML). Every injected defect is counted in a
:class:`Manifest` (and keyed by contract when asked), so tests can check that the ingest report names each
one with the right reason.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from souverain.procurement.identifiers import luhn_ok
from souverain.procurement.reference import shipped_reference, territories_csv

__all__ = ["DEFECTS", "Manifest", "SynthContract", "contracts"]

DEFECTS: dict[str, float] = {
    "duplicate_row": 0.01,  # flat: a current row repeated (→ duplicate)
    "date_fixable": 0.01,  # DD/MM/YYYY or a time part (→ bad-date corrected)
    "date_bad": 0.004,  # unreadable notification date, valid publication date (→ bad-date corrected)
    "date_both_bad": 0.002,  # no usable date at all (→ bad-date rejected)
    "buyer_fixable": 0.004,  # separators in the buyer SIRET (→ malformed-buyer-id corrected)
    "buyer_checksum": 0.002,  # buyer SIRET failing its checksum (→ malformed-buyer-id flagged)
    "buyer_garbage": 0.002,  # "N/A" (→ malformed-buyer-id rejected)
    "missing_id": 0.001,  # no contract id (→ missing-field rejected)
    "supplier_type": 0.02,  # "Siret", "", "HORS_UE" (→ malformed-supplier-id corrected)
    "supplier_checksum": 0.003,  # supplier SIRET failing its checksum (→ malformed-supplier-id flagged)
    "cpv_check_digit": 0.01,  # wrong check digit (→ invalid-cpv corrected)
    "cpv_unknown": 0.003,  # not in CPV 2008 (→ invalid-cpv flagged)
    "cpv_missing": 0.005,  # empty (→ invalid-cpv flagged)
    "amount_negative": 0.002,  # (→ negative-amount)
    "amount_zero": 0.004,  # (→ bad-amount)
    "amount_absurd": 0.002,  # 10^11 to 10^13 euros (→ absurd-amount)
    "amount_placeholder": 0.002,  # 999999999 (→ absurd-amount)
    "broken_row": 0.0005,  # CSV only: a line with too many fields (→ unreadable-row)
}
"""Defect → share of contracts affected (at most one defect per contract)."""

_NON_DIGITAL_CPV = (
    "45233140",
    "45000000",
    "77313000",
    "90910000",
    "55523000",
    "60130000",
    "71000000",
    "09310000",
    "34144000",
    "33600000",
    "79341000",
    "39130000",
    "44112000",
    "15800000",
)
_DIGITAL_OBJETS = (
    "Acquisition de licences Microsoft 365 pour les agents",
    "Maintenance des licences Oracle Database",
    "Renouvellement du support VMware vSphere",
    "Abonnement Adobe Creative Cloud",
    "Licences SAP S/4HANA",
    "Solution de messagerie collaborative BlueMind",
    "Logiciel de gestion financière Berger-Levrault",
    "Tierce maintenance applicative du système d'information",
    "Hébergement de données de santé",
    "Fourniture d'ordinateurs portables et de stations de travail",
    "Prestations de développement logiciel",
    "Infogérance du parc informatique",
    "Acquisition de commutateurs Cisco",
    "Abonnement Salesforce CRM",
    "Services cloud Amazon Web Services",
    "Google Workspace pour l'éducation",
    "Licences ArcGIS Esri",
    "Maintenance des serveurs et du stockage",
    "Accès internet et téléphonie fixe",
    "Audit de cybersécurité",
    "Progiciel de gestion des ressources humaines",
    "Hébergement OVHcloud de l'application métier",
)
_OTHER_OBJETS = (
    "Travaux de voirie",
    "Entretien des espaces verts",
    "Nettoyage des locaux",
    "Restauration scolaire",
    "Transport scolaire",
    "Maîtrise d'œuvre pour la rénovation de l'école",
    "Fourniture de mobilier",
    "Assurance dommages aux biens",
    "Fourniture de carburant",
    "Travaux d'éclairage public",
)
_KB_SUPPLIERS = (
    ("327733184", "MICROSOFT FRANCE"),
    ("552118465", "COMPAGNIE IBM FRANCE"),
    ("831001334", "AMAZON WEB SERVICES EMEA SARL"),
    ("443061841", "GOOGLE FRANCE"),
    ("335092318", "ORACLE FRANCE"),
    ("424982650", "SCC FRANCE"),
    ("330703844", "CAPGEMINI"),
    ("323623603", "ATOS SE"),
    ("326820065", "SOPRA STERIA GROUP"),
    ("776056467", "UGAP"),
    ("349166561", "CISCO SYSTEMS FRANCE"),
    ("322306440", "DASSAULT SYSTEMES"),
)
_FOREIGN = (
    ("TVA", "DE814864138", "HELLMAN GMBH"),
    ("TVA", "IE6388047V", "GOOGLE IRELAND LIMITED"),
    ("TVA", "NL810433941B01", "ADYEN"),
    ("HORS-UE", "US-94-1081436", "EXAMPLE INC"),
    ("TVA", "GB123456789", "EXAMPLE LTD"),
    ("TAHITI", "B12345", "PACIFIC SARL"),
)
_CATEGORIES = {
    "commune": "Commune",
    "epci-cc": "Groupement de communes",
    "epci-ca": "Groupement de communes",
    "departement": "Département",
    "region": "Région",
}


def _complete_luhn(prefix: str) -> str:
    for d in "0123456789":
        if luhn_ok(prefix + d):
            return prefix + d
    raise AssertionError("unreachable")


def _siret(rng: random.Random, siren: str | None = None) -> str:
    siren = siren or _complete_luhn(str(rng.randint(30_000_000, 99_999_999)))
    return _complete_luhn(siren + f"{rng.randint(1, 999):04d}")


@dataclass(slots=True)
class SynthContract:
    uid: str
    id: str | None
    buyer_id: str
    buyer_name: str
    buyer_category: str
    buyer_place: tuple[str, str, str]
    objet: str
    cpv: str
    amount: str
    notified: str
    published: str
    suppliers: list[tuple[str, str, str]]
    """(typeIdentifiant, id, name) per supplier."""
    versions: list[tuple[str, str]] = field(default_factory=list)
    """Modifications: (new amount, notification date)."""
    defect: str | None = None


@dataclass(slots=True)
class Manifest:
    contracts: int = 0
    rows: int = 0
    defects: Counter[str] = field(default_factory=Counter)
    keyed: dict[str, str] = field(default_factory=dict)
    """uid → defect, when ``keep_keys``."""


def _pools(
    rng: random.Random,
) -> tuple[list[tuple[str, str, str, tuple[str, str, str]]], list[tuple[str, str, str]]]:
    with territories_csv().open(encoding="utf-8") as fh:
        terr = [r for r in csv.DictReader(fh) if r["kind"] in _CATEGORIES]
    rng.shuffle(terr)
    buyers = [
        (
            _siret(rng, r["siren"]),
            r["name"],
            _CATEGORIES[r["kind"]],
            (r["commune"], r["departement"], r["region"]),
        )
        for r in terr[:3000]
    ]
    buyers += [
        (_siret(rng), f"CENTRE HOSPITALIER {i}", "Établissement hospitalier", ("", "", ""))
        for i in range(200)
    ]
    suppliers = [("SIRET", _siret(rng), f"ENTREPRISE {i:05d} SAS") for i in range(20_000)]
    suppliers += [("SIRET", _siret(rng, siren), name) for siren, name in _KB_SUPPLIERS for _ in range(3)]
    return buyers, suppliers


def contracts(
    n: int,
    *,
    seed: int = 1,
    rates: dict[str, float] | None = None,
    years: tuple[int, int] = (2019, 2025),
    manifest: Manifest | None = None,
    keep_keys: bool = False,
) -> Iterator[SynthContract]:
    """``n`` synthetic contracts; defects drawn with ``rates`` (default :data:`DEFECTS`)."""
    rng = random.Random(seed)
    rates = DEFECTS if rates is None else rates
    ref = shipped_reference()
    digital_cpv = sorted(ref.cpv_family)
    codes = ref.cpv_codes
    buyers, suppliers = _pools(rng)
    cumulative, total = [], 0.0
    for name, rate in rates.items():
        total += rate
        cumulative.append((total, name))
    for i in range(n):
        buyer_id, buyer_name, category, place = rng.choice(buyers)
        digital = rng.random() < 0.45
        theme = rng.choice(_DIGITAL_OBJETS if digital else _OTHER_OBJETS)
        objet = f"{theme} — {buyer_name}, lot {rng.randint(1, 40)}"
        cpv8 = rng.choice(digital_cpv) if digital else rng.choice(_NON_DIGITAL_CPV)
        cpv = codes[cpv8] if rng.random() < 0.5 else cpv8
        year = rng.randint(*years)
        notified = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        published = notified[:8] + f"{min(28, int(notified[8:]) + rng.randint(0, 10)):02d}"
        amount = f"{round(10 ** rng.uniform(3.3, 6.8), 2)}"
        k = 1 if rng.random() < 0.9 else rng.randint(2, 3)
        sups = []
        for _ in range(k):
            r = rng.random()
            sups.append(rng.choice(_FOREIGN) if r < 0.03 else rng.choice(suppliers))
        c = SynthContract(
            f"{buyer_id}{i:010d}",
            f"{i:010d}",
            buyer_id,
            buyer_name,
            category,
            place,
            objet,
            cpv,
            amount,
            notified,
            published,
            sups,
        )
        if rng.random() < 0.08:
            c.versions = [(f"{float(amount) * 1.1:.2f}", f"{year + 1}-01-15")]
        x = rng.random()
        defect = next((name for bound, name in cumulative if x < bound), None)
        if defect:
            _inject(c, defect, rng)
            c.defect = defect
            if manifest is not None:
                manifest.defects[defect] += 1
                if keep_keys:
                    manifest.keyed[c.uid] = defect
        if manifest is not None:
            manifest.contracts += 1
        yield c


def _inject(c: SynthContract, defect: str, rng: random.Random) -> None:
    if defect == "date_fixable":
        y, m, d = c.notified.split("-")
        c.notified = rng.choice((f"{d}/{m}/{y}", f"{c.notified}T00:00:00"))
    elif defect == "date_bad":
        c.notified = rng.choice(("2019-13-45", "0219-05-03", "N/A"))
    elif defect == "date_both_bad":
        c.notified, c.published = "31/02/2020", ""
    elif defect == "buyer_fixable":
        b = c.buyer_id
        c.buyer_id = f"{b[:3]} {b[3:6]} {b[6:9]} {b[9:]}"
    elif defect == "buyer_checksum":
        c.buyer_id = c.buyer_id[:-1] + str((int(c.buyer_id[-1]) + 1) % 10)
    elif defect == "buyer_garbage":
        c.buyer_id = "N/A"
    elif defect == "missing_id":
        c.id = None
        c.uid = ""
    elif defect == "supplier_type":
        t, i, n = c.suppliers[0]
        c.suppliers[0] = ({"SIRET": "Siret", "TVA": "", "HORS-UE": "HORS_UE"}.get(t, ""), i, n)
    elif defect == "supplier_checksum":
        c.suppliers[0] = ("SIRET", _siret(rng)[:-1] + "0", "ENTREPRISE DOUTEUSE")
        if luhn_ok(c.suppliers[0][1]) or luhn_ok(c.suppliers[0][1][:9]):
            c.suppliers[0] = ("SIRET", "12345678900000", "ENTREPRISE DOUTEUSE")
    elif defect == "cpv_check_digit":
        code = shipped_reference().cpv_codes[c.cpv[:8]]
        c.cpv = code[:9] + str((int(code[-1]) + 1) % 10)
    elif defect == "cpv_unknown":
        c.cpv = "99999999"
    elif defect == "cpv_missing":
        c.cpv = ""
    elif defect == "amount_negative":
        c.amount = f"-{c.amount}"
    elif defect == "amount_zero":
        c.amount = "0"
    elif defect == "amount_absurd":
        c.amount = f"{10 ** rng.randint(11, 13):.1f}"
    elif defect == "amount_placeholder":
        c.amount = "999999999"
    if c.versions and defect.startswith("amount"):
        c.versions = []
