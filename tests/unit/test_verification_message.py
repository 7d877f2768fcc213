"""Chain validation errors shown in reports carry no Python repr."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from souverain.probes.certs import verification_message


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def test_an_expired_certificate_is_named_by_its_subject() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder().subject_name(_name("Lab CA")).issuer_name(_name("Lab CA"))
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(days=10)).not_valid_after(now + dt.timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder().subject_name(_name("banc-expire.fr")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(2)
        .not_valid_before(now - dt.timedelta(days=10)).not_valid_after(now - dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("banc-expire.fr")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    verifier = PolicyBuilder().store(Store([ca])).time(now.replace(tzinfo=None))
    with pytest.raises(VerificationError) as caught:
        verifier.build_server_verifier(x509.DNSName("banc-expire.fr")).verify(leaf, [])
    assert "<Certificate(" in str(caught.value)  # the premise: cryptography's own message embeds a repr
    message = verification_message(caught.value)
    assert (
        message == "validation failed: cert is not valid at validation time (certificate CN=banc-expire.fr)"
    )
