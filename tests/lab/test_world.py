"""Pure tests of the world generator, zone data and signer (no servers)."""

from __future__ import annotations

import gzip
import re
import time
import zlib
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.zone
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from souverain.lab import geo
from souverain.lab.bench import CATALOGUE
from souverain.lab.dnsdata import Zone, build_zones
from souverain.lab.outputs import portfolio_yaml, truth_json
from souverain.lab.signer import Signer, zone_text
from souverain.lab.sites import gzip_bomb
from souverain.lab.world import generate, luhn_ok


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return generate(seed=5, size=150)


@pytest.fixture(scope="module")
def zones(world) -> list[Zone]:  # type: ignore[no-untyped-def]
    return build_zones(world)


def test_same_seed_gives_identical_outputs() -> None:
    a, b = generate(seed=11, size=60), generate(seed=11, size=60)
    assert portfolio_yaml(a) == portfolio_yaml(b)
    assert truth_json(a) == truth_json(b)
    assert truth_json(generate(seed=12, size=60)) != truth_json(a)


def test_domains_mode_reaches_the_exact_count() -> None:
    assert len(generate(seed=2, size=None, domains=300).domains) == 300


def test_luhn() -> None:
    assert luhn_ok("213105554")
    assert not luhn_ok("213105555")


def test_sirens_valid_and_unique(world) -> None:  # type: ignore[no-untyped-def]
    sirens = [o.siren for o in world.orgs]
    assert len(set(sirens)) == len(sirens)
    assert all(len(s) == 9 and s.isdigit() and luhn_ok(s) for s in sirens)


def test_territories_consistent(world) -> None:  # type: ignore[no-untyped-def]
    kinds = set()
    for o in world.orgs:
        kinds.add(o.kind)
        if o.departement:
            assert o.departement in geo.DEPARTEMENTS
            assert o.region == geo.DEPARTEMENTS[o.departement][1]
        if o.region:
            assert o.region in geo.REGIONS
        if o.commune:
            assert o.commune.startswith(o.departement or "?")
            assert len(o.commune) == 5
    assert {"commune", "epci", "hopital"} <= kinds


def test_portfolio_is_valid_yaml_with_idn_as_unicode(world) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(portfolio_yaml(world))
    names = [d["name"] for o in doc["organisations"] for d in o["domains"]]
    assert len(doc["organisations"]) == len(world.orgs)
    for o in world.orgs:
        for display, _ in o.domains:
            if not display.isascii():
                assert any(n.startswith("xn--") for n in world.domains)
    assert all(n for n in names)


def test_every_hostile_kind_present(world) -> None:  # type: ignore[no-untyped-def]
    kinds = {h["kind"] for h in world.hostile}
    assert kinds == set(CATALOGUE)
    for h in world.hostile:
        assert world.domains[h["domain"]].truth["hostile"] == h["kind"]
    small = generate(seed=9, size=3)
    assert {h["kind"] for h in small.hostile} == set(CATALOGUE)


def _names(zones: list[Zone]) -> tuple[set[str], set[str]]:
    exact: set[str] = set()
    wild: set[str] = set()
    for z in zones:
        origin = "" if z.origin == "." else z.origin
        for owner, _, _, _ in z.records:
            name = (
                owner.rstrip(".") if owner.endswith(".") else origin if owner == "@" else f"{owner}.{origin}"
            )
            name = name.rstrip(".")
            (wild if name.startswith("*.") else exact).add(name[2:] if name.startswith("*.") else name)
    return exact, wild


def _exists(name: str, exact: set[str], wild: set[str]) -> bool:
    name = name.rstrip(".")
    if name in exact:
        return True
    labels = name.split(".")
    return any(".".join(labels[i:]) in wild for i in range(1, len(labels)))


def test_every_referenced_hostname_exists(world, zones) -> None:  # type: ignore[no-untyped-def]
    exact, wild = _names(zones)
    missing = set()
    for z in zones:
        for _, _, rtype, rdata in z.records:
            targets: list[str] = []
            if rtype in ("CNAME", "NS"):
                targets = [rdata]
            elif rtype == "MX" and rdata != "0 .":
                targets = [rdata.split()[1]]
            elif rtype == "TXT" and "v=spf1" in rdata:
                terms = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', rdata)).split()
                targets = [t.split(":", 1)[1] for t in terms if t.startswith("include:")]
                targets += [t.split("=", 1)[1] for t in terms if t.startswith("redirect=")]
            missing.update(t for t in targets if not _exists(t, exact, wild))
        missing.update(h for h in z.ns if not _exists(h, exact, wild))
    for d in world.domains.values():
        missing.update(h for h in d.truth["third_parties"] if not _exists(h, exact, wild))
        missing.update(h for h in d.truth["mx"] if not _exists(h, exact, wild))
    assert not missing


def test_ds_in_parents_match_child_keys_and_signatures_validate(world, zones) -> None:  # type: ignore[no-untyped-def]
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = Signer(key, int(time.time()))
    by_origin = {z.origin: z for z in zones}
    parent = dns.zone.from_text(zone_text(by_origin["fr"], signer), origin="fr.", relativize=False)
    checked = 0
    for name in ("banc-dnssec-ok.fr", "banc-dnssec-casse.fr", "banc-non-signe.fr"):
        child = dns.zone.from_text(zone_text(by_origin[name], signer), origin=f"{name}.", relativize=False)
        ds = parent.get_rdataset(f"{name}.", "DS")
        if name == "banc-non-signe.fr":
            assert ds is None and child.get_rdataset(f"{name}.", "DNSKEY") is None
            continue
        dnskey_set = child.get_rdataset(f"{name}.", "DNSKEY")
        assert ds is not None and dnskey_set is not None
        assert dns.dnssec.make_ds(name + ".", dnskey_set[0], "SHA256") == ds[0]
        keys = {dns.name.from_text(f"{name}."): dnskey_set}
        a = child.get_rrset(f"{name}.", "A")
        sig = child.get_rrset(f"{name}.", "RRSIG", covers=dns.rdatatype.A)
        assert a is not None and sig is not None
        if name == "banc-dnssec-ok.fr":
            dns.dnssec.validate(a, sig, keys)
        else:
            with pytest.raises(dns.dnssec.ValidationFailure):
                dns.dnssec.validate(a, sig, keys)
        checked += 1
    assert checked == 2


def test_gzip_bomb_expands(tmp_path: Path) -> None:
    path = tmp_path / "b.gz"
    gzip_bomb(path, size=64 << 20, chunk=4 << 20)
    raw = path.read_bytes()
    assert len(raw) < (1 << 20)
    d = zlib.decompressobj(31)
    total = 0
    for i in range(0, len(raw), 65536):
        total += len(d.decompress(raw[i : i + 65536]))
    assert total == 64 << 20 and d.eof
    assert gzip.decompress(raw)[:4] == b"\0\0\0\0"


def test_server_logs_are_rotated_at_each_start(tmp_path: Path) -> None:
    """Each ``lab up`` keeps the servers' logs of the previous one as ``.1`` and drops older ones."""
    from souverain.lab.control import rotate_logs

    logs = tmp_path
    (logs / "nsd.log").write_text("this up\n")
    (logs / "nsd.log.1").write_text("the up before\n")
    (logs / "unbound.log").write_text("")  # nothing logged: nothing to keep
    (logs / "signer-0.log").write_text("not a server's log\n")
    rotate_logs(logs)
    assert not (logs / "nsd.log").exists()
    assert (logs / "nsd.log.1").read_text() == "this up\n"
    assert (logs / "unbound.log").read_text() == "" and not (logs / "unbound.log.1").exists()
    assert (logs / "signer-0.log").read_text() == "not a server's log\n"
    rotate_logs(logs)  # nothing new since: the kept logs stay
    assert (logs / "nsd.log.1").read_text() == "this up\n"
