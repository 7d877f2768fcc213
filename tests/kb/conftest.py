"""A small KB written for the tests (independent of the shipped data), in the shipped files' format."""

from __future__ import annotations

from pathlib import Path

import pytest

SRC = "source: https://example.org/fact, checked: 2026-11-01"

TINY_KB = f"""
entities:
  - id: acme-mail
    name: ACME Mail SAS
    country: FR
    facts: {{{SRC}}}
    owners:
      - {{parent: bigco-de, share: 1.0, control: true, since: 2024-03-01, {SRC}}}
    signatures:
      - {{kind: mx, value: "*.acme-mail.fr", role: mail-gateway, {SRC}}}
  - id: bigco-de
    name: BigCo GmbH
    country: DE
    facts: {{{SRC}}}
    owners:
      - {{parent: usparent, share: 1.0, control: true, since: 2025-12-01, {SRC}}}
  - id: usparent
    name: US Parent Inc.
    country: US
    facts: {{{SRC}}}
  - id: softcorp
    name: Softcorp
    country: US
    facts: {{{SRC}}}
    signatures:
      - {{kind: mx, value: "*.mail.softcorp.example", role: mailbox, {SRC}}}
      - {{kind: spf, value: "spf.softcorp.example", role: mailbox, {SRC}}}
      - {{kind: dkim, value: "*.softcorp-tenant.example", role: mailbox, {SRC}}}
      - {{kind: dkim, value: "*.softcorp-tenant.example", role: identity-suite, {SRC}}}
      - {{kind: autodiscover, value: "autodiscover.softcorp.example", role: mailbox, {SRC}}}
      - {{kind: autodiscover, value: "autodiscover.softcorp.example", role: identity-suite, {SRC}}}
      - {{kind: txt, value: "SC=", role: identity-suite, {SRC}}}
      - {{kind: asn, value: 64000, role: web-hosting, {SRC}}}
      - {{kind: cname, value: "*.softcorpsites.example", role: web-hosting, {SRC}}}
      - {{kind: host, value: "tags.softcorp.example", role: analytics, {SRC}}}
      - {{kind: issuer, value: "Softcorp CA", {SRC}}}
      - {{kind: maildomain, value: "softmail.example", role: mailbox, {SRC}}}
  - id: hostfr
    name: HostFR SAS
    country: FR
    facts: {{{SRC}}}
    signatures:
      - {{kind: asn, value: 64001, {SRC}}}
      - {{kind: mx, value: "*.mail.hostfr.example", role: mailbox, {SRC}}}
      - {{kind: ns, value: "*.dns.hostfr.example", role: dns-hosting, {SRC}}}
  - id: edgeco
    name: EdgeCo Inc.
    country: US
    facts: {{{SRC}}}
    signatures:
      - {{kind: asn, value: 64002, role: cdn, {SRC}}}
      - {{kind: header, value: "x-edge-id", role: cdn, {SRC}}}
  - id: transitco
    name: TransitCo
    country: FR
    facts: {{{SRC}}}
    signatures:
      - {{kind: asn, value: 64003, transit: true, {SRC}}}
laws:
  - {{id: us-cloud-act, name: CLOUD Act, countries: [US], {SRC}}}
"""

PREFIXES = """# prefix\tasn\tas_name\tcomment
192.0.2.0/25\t64000\tSOFTCORP\tcompute
192.0.2.128/26\t64001\tHOSTFR\thosting
198.51.100.0/24\t64002\tEDGE\tcdn
203.0.113.0/24\t64003\tTRANSIT\ttransit
"""


@pytest.fixture()
def tiny_kb_dir(tmp_path: Path) -> Path:
    d = tmp_path / "kb"
    d.mkdir()
    (d / "tiny.yaml").write_text(TINY_KB, encoding="utf-8")
    (tmp_path / "prefixes.tsv").write_text(PREFIXES, encoding="utf-8")
    return d
