"""Identifier types and validation: SIRET/SIREN checksums, VAT prefixes, overseas registries, HORS-UE;
buyer SIRETs, dates and CPV codes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from souverain.kb.countries import EEA
from souverain.procurement.identifiers import (
    bloc_of,
    classify_buyer,
    classify_supplier,
    luhn_ok,
    parse_date,
    siren_valid,
    siret_valid,
)
from souverain.procurement.reference import parse_cpv, shipped_reference

from .conftest import siret

EARLY, LATE = dt.date(1990, 1, 1), dt.date(2027, 12, 31)


def test_luhn_on_known_sirens() -> None:
    assert siren_valid("327733184")  # Microsoft France (brief)
    assert siren_valid("552118465")  # IBM France (brief)
    assert not siren_valid("327733185")
    assert not siren_valid("32773318")
    assert not siren_valid("32773318A")


def test_la_poste_sirets_use_the_digit_sum_rule() -> None:
    # La Poste's establishments do not satisfy Luhn; their digits sum to a multiple of 5.
    candidate = "35600000000048"  # digit sum 3+5+6+4+8 = 26 → not a multiple of 5
    assert not siret_valid(candidate)
    valid = next(f"356000000{n:05d}" for n in range(1, 1000) if sum(map(int, f"356000000{n:05d}")) % 5 == 0)
    assert siret_valid(valid)


@given(st.integers(min_value=10_000_000, max_value=99_999_999), st.integers(min_value=0, max_value=9999))
def test_any_completed_siret_is_valid_and_a_one_digit_change_is_not(prefix: int, nic: int) -> None:
    siren = next(f"{prefix}{d}" for d in "0123456789" if luhn_ok(f"{prefix}{d}"))
    if siren.startswith("356000000"):
        return
    value = siret(siren, f"{nic:04d}")
    assert siret_valid(value) and siren_valid(value[:9])
    changed = value[:5] + str((int(value[5]) + 1) % 10) + value[6:]
    assert not siret_valid(changed)  # Luhn catches every single-digit error


@pytest.mark.parametrize(
    ("type_raw", "id_raw", "expected"),
    [
        ("SIRET", "32773318400045", ("siret", "FR", "327733184", "ok")),
        ("Siret", "32773318400045", ("siret", "FR", "327733184", "corrected")),
        ("", "32773318400045", ("siret", "FR", "327733184", "corrected")),
        ("SIRET", "327 733 184 00045", ("siret", "FR", "327733184", "corrected")),
        ("SIRET", "327733184", ("siren", "FR", "327733184", "corrected")),
        ("TVA", "DE814864138", ("vat", "DE", None, "ok")),
        ("TVA", "EL094014201", ("vat", "GR", None, "ok")),
        ("TVA", "XI123456789", ("vat", "GB", None, "ok")),
        ("TVA", "CHE123456789", ("vat", "CH", None, "ok")),
        ("TVA", "FR18326820065", ("vat", "FR", "326820065", "ok")),
        ("TVA", "FR99326820065", ("vat", "FR", "326820065", "flagged")),
        ("TAHITI", "B12345", ("tahiti", "PF", None, "ok")),
        ("RIDET", "1234567", ("ridet", "NC", None, "ok")),
        ("FRWF", "123", ("frwf", "WF", None, "ok")),
        ("HORS-UE", "US-94-1081436", ("hors-ue", None, None, "ok")),
        ("HORS_UE", "X1", ("hors-ue", None, None, "corrected")),
        ("UE", "SE5560000000", ("ue", None, None, "ok")),
        ("SIRET", "868768687576575", ("siret", "FR", None, "flagged")),
        ("SIRET", "32773318400046", ("siret", "FR", "327733184", "flagged")),
        ("SIRET", "", ("siret", None, None, "bad")),
        ("???", "ABC", ("unknown", None, None, "flagged")),
    ],
)
def test_supplier_identifiers(
    type_raw: str, id_raw: str, expected: tuple[str, str | None, str | None, str]
) -> None:
    found = classify_supplier(type_raw, id_raw)
    assert (found.id_type, found.country, found.siren, found.status) == expected, found


def test_a_lost_leading_zero_is_restored() -> None:
    full = siret(next(f"0{p}" for p in range(10_000_000, 10_001_000) if siren_valid(f"0{p}")))
    found = classify_supplier("SIRET", full[1:])
    assert found.value == full and found.status == "corrected" and "leading zero" in found.detail


def test_same_company_same_key_across_sirets_and_vat() -> None:
    a = classify_supplier("SIRET", siret("326820065", "0008"))
    b = classify_supplier("SIRET", siret("326820065", "0012"))
    c = classify_supplier("TVA", "FR18326820065")
    assert a.key == b.key == c.key == "siren:326820065"


def test_blocs() -> None:
    assert bloc_of("FR", EEA) == "fr" and bloc_of("PF", EEA) == "fr" and bloc_of("RE", EEA) == "fr"
    assert bloc_of("DE", EEA) == "eu" and bloc_of("NO", EEA) == "eu"
    assert (
        bloc_of("CH", EEA) == "non_eu" and bloc_of("GB", EEA) == "non_eu" and bloc_of("US", EEA) == "non_eu"
    )
    assert bloc_of(None, EEA) == "unknown"


@pytest.mark.parametrize(
    ("raw", "status", "siren"),
    [
        ("21750001600019", "ok", "217500016"),
        ("217 500 016 00019", "corrected", "217500016"),
        ("217500016", "corrected", "217500016"),
        ("21750001600018", "flagged", "217500016"),
        ("N/A", "bad", None),
        ("", "bad", None),
        ("123", "bad", None),
    ],
)
def test_buyer_ids(raw: str, status: str, siren: str | None) -> None:
    found = classify_buyer(raw)
    assert (found.status, found.siren) == (status, siren), found


@pytest.mark.parametrize(
    ("raw", "value", "status"),
    [
        ("2024-05-15", dt.date(2024, 5, 15), "ok"),
        ("2019-05-03+02:00", dt.date(2019, 5, 3), "ok"),
        ("2019-05-03T10:00:00Z", dt.date(2019, 5, 3), "corrected"),
        ("03/05/2019", dt.date(2019, 5, 3), "corrected"),
        ("20190503", dt.date(2019, 5, 3), "corrected"),
        ("2019-13-45", None, "bad"),
        ("31/02/2020", None, "bad"),
        ("0219-05-03", None, "bad"),
        ("2099-01-01", None, "bad"),
        ("N/A", None, "bad"),
        ("", None, "bad"),
    ],
)
def test_dates(raw: str, value: dt.date | None, status: str) -> None:
    found = parse_date(raw, earliest=EARLY, latest=LATE)
    assert (found.value, found.status) == (value, status)


@pytest.mark.parametrize(
    ("raw", "code", "status"),
    [
        ("48000000-8", "48000000", "ok"),
        ("48000000", "48000000", "ok"),
        ("48000000-9", "48000000", "corrected"),
        ("3000000", "03000000", "corrected"),
        ("99999999", None, "flagged"),
        ("48A00000", None, "bad"),
        ("", None, "bad"),
    ],
)
def test_cpv_codes(raw: str, code: str | None, status: str) -> None:
    found = parse_cpv(raw, shipped_reference().cpv_codes)
    assert (found.code, found.status) == (code, status), found


def test_digital_families_come_from_the_shared_subset() -> None:
    ref = shipped_reference()
    assert len(ref.cpv_family) == 795
    assert ref.cpv_family["48000000"] == "software"
    assert ref.cpv_family["72000000"] == "it_services"
    assert ref.cpv_family["64200000"] == "telecom_services"
    assert "45000000" not in ref.cpv_family
