"""Lab certificate authorities (named like real issuers, '(lab)' in every CN) and site certificates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from souverain.lab.providers import CAS

PEM = serialization.Encoding.PEM


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "US" if org != "Certinomis" else "FR")] if org else []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        return _load_key(path)
    key = ec.generate_private_key(ec.SECP256R1())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_key_pem(key))
    path.chmod(0o600)
    return key


class Pki:
    """The lab CAs in ``ca_dir`` (created once, reused) and a single leaf key shared by all sites."""

    def __init__(self, ca_dir: Path) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.cas: dict[str, tuple[x509.Certificate, ec.EllipticCurvePrivateKey, bytes]] = {}
        ca_dir.mkdir(parents=True, exist_ok=True)
        roots: list[bytes] = []
        for key, (org, inter_cn, _) in CAS.items():
            root_k = load_or_create_key(ca_dir / f"{key}-root.key")
            inter_k = load_or_create_key(ca_dir / f"{key}-int.key")
            root_p, inter_p = ca_dir / f"{key}-root-v2.pem", ca_dir / f"{key}-int-v2.pem"
            if not (root_p.exists() and inter_p.exists()):
                root_name = _name(f"{org} Root (lab)", org)
                root = self._cert(root_name, root_name, root_k.public_key(), root_k, ca=True, days=3650)
                inter = self._cert(
                    _name(inter_cn, org), root_name, inter_k.public_key(), root_k, ca=True, days=1825
                )
                root_p.write_bytes(root.public_bytes(PEM))
                inter_p.write_bytes(inter.public_bytes(PEM))
            inter_pem = inter_p.read_bytes()
            self.cas[key] = (x509.load_pem_x509_certificate(inter_pem), inter_k, inter_pem)
            roots.append(root_p.read_bytes())
        (ca_dir / "bundle.pem").write_bytes(b"".join(roots))
        self.leaf_key = load_or_create_key(ca_dir.parent / "certs" / "leaf.key")
        self.serial = 1000

    def _cert(
        self,
        subject: x509.Name,
        issuer: x509.Name,
        pub: ec.EllipticCurvePublicKey,
        signer: ec.EllipticCurvePrivateKey,
        *,
        ca: bool = False,
        days: int = 90,
        names: list[str] | None = None,
        start: dt.datetime | None = None,
    ) -> x509.Certificate:
        self.serial = getattr(self, "serial", 0) + 1
        begin = start or self.now - dt.timedelta(days=1)
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(pub)
            .serial_number(self.serial)
            .not_valid_before(begin)
            .not_valid_after(begin + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
            )
        )
        if not ca:
            b = b.add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
            )
        if ca:
            b = b.add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), True
            )
        if names:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return b.sign(signer, hashes.SHA256())

    def leaf(self, names: list[str], ca: str | None, mode: str = "valid") -> bytes:
        """PEM chain (leaf + intermediate) for ``names``; mode: valid, expired, self-signed, wrong-host."""
        if mode == "wrong-host":
            names = ["cluster021.hosting.ovh.net"]
        subject = _name(names[0])
        pub = self.leaf_key.public_key()
        if mode == "self-signed" or ca is None:
            cert = self._cert(subject, subject, pub, self.leaf_key, names=names, days=3650)
            return cert.public_bytes(PEM)
        inter, inter_key, inter_pem = self.cas[ca]
        start = self.now - dt.timedelta(days=120) if mode == "expired" else None
        cert = self._cert(subject, inter.subject, pub, inter_key, names=names, start=start)
        return cert.public_bytes(PEM) + inter_pem
