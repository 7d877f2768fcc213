"""`souverain kb check|show|import-table`, `import-evidence` and `reassess` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import run_cli as souverain
from souverain.kb.check import consistency_problems
from souverain.kb.load import load_kb
from souverain.kb.model import ROLES
from souverain.store import Store


def test_shipped_kb_is_consistent_and_covers_the_field() -> None:
    kb = load_kb()
    assert consistency_problems(kb) == []
    assert len(kb.entities) >= 200
    required = {
        "ovhcloud", "scaleway", "outscale", "cloud-temple", "clever-cloud", "gandi", "infomaniak", "ionos",
        "hetzner", "orange", "bouygues-telecom", "sfr", "iliad", "aws", "microsoft", "google", "cloudflare",
        "akamai", "fastly", "proofpoint", "mimecast", "cisco", "salesforce", "oracle", "bleu", "s3ns",
        "tarteaucitron", "innocraft", "plausible-insights", "vade", "hornetsecurity", "mailinblack",
        "bluemind",
    }  # fmt: skip
    assert required <= set(kb.entities), required - set(kb.entities)
    for what, src in kb.facts():
        assert src.url and src.checked, what
    public = [e for e in kb.entities.values() if e.kind in ("public-body", "public-operator")]
    assert len(public) >= 15
    roles = {s.role for s in kb.signatures}
    assert {"mailbox", "mail-gateway", "web-hosting", "cdn", "dns-hosting", "analytics", "fonts", "video",
            "captcha", "forms", "chat", "maps", "payment", "consent", "identity-suite"} <= roles  # fmt: skip
    assert roles - {None} <= set(ROLES)


def test_trusted_clouds_are_entities_of_their_own() -> None:
    kb = load_kb()
    bleu, s3ns = kb.entities["bleu"], kb.entities["s3ns"]
    assert {t for t, _ in bleu.technology_from} == {"microsoft"}
    assert {t for t, _ in s3ns.technology_from} == {"google"}
    assert {o.parent for o in bleu.owners} >= {"orange", "capgemini"}
    assert bleu.country == s3ns.country == "FR"


def test_kb_check_passes(tmp_path: Path) -> None:
    result = souverain("kb", "check", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "entities" in result.stderr and "unverified" in result.stderr


def test_kb_check_reports_a_broken_overlay(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("entities:\n  - {id: x1, name: X, country: FR, facts: {source: s, checked: 2026-01-01},\n"
                   "     owners: [{parent: nobody, source: s, checked: 2026-01-01}]}\n")  # fmt: skip
    result = souverain("kb", "check", "--kb-extra", str(bad), home=tmp_path)
    assert result.returncode == 1
    assert "parent 'nobody' is not an entity" in result.stderr


def test_kb_show_explains_the_headline_case(tmp_path: Path) -> None:
    now = souverain("kb", "show", "vade", "--as-of", "2026-06-01", home=tmp_path)
    assert now.returncode == 0, now.stderr
    assert "Hornetsecurity" in now.stdout and "CLOUD Act" in now.stdout and "checked 2026-11-24" in now.stdout
    before = souverain("kb", "show", "vade", "--as-of", "2023-06-01", "--json", home=tmp_path)
    doc = json.loads(before.stdout)
    assert doc["exposures"] == []
    after = json.loads(
        souverain("kb", "show", "vade", "--as-of", "2026-06-01", "--json", home=tmp_path).stdout
    )
    cloud_act = [e for e in after["exposures"] if e["law"] == "us-cloud-act"]
    assert (
        cloud_act
        and cloud_act[0]["via"][:2] == ["vade", "hornetsecurity"]
        and cloud_act[0]["country"] == "US"
    )


def test_kb_show_lists_french_registrations(tmp_path: Path) -> None:
    shown = souverain("kb", "show", "microsoft", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "SIREN 327733184 Microsoft France (subsidiary)" in shown.stdout
    doc = json.loads(souverain("kb", "show", "microsoft", "--json", home=tmp_path).stdout)
    assert {"siren": "327733184", "kind": "subsidiary"}.items() <= doc["sirens"][0].items()
    assert any(not r["verified"] for r in doc["sirens"])  # unverified registrations stay marked


@pytest.mark.parametrize(("args", "message"), [
    (["kb", "show", "no-such-entity-anywhere"], "not in the KB"),
    (["kb", "show", "vade", "--as-of", "yesterday"], "--as-of 'yesterday'"),
    (["kb", "import-table", "nonsense", "x.json"], "FORMAT 'nonsense'"),
    (["kb", "import-table", "aws", "missing.json"], "file not found"),
    (["reassess", "9"], "run 9"),
])  # fmt: skip
def test_kb_commands_bad_input(args: list[str], message: str, tmp_path: Path) -> None:
    Store(tmp_path / "souverain.db").close()  # an empty store: `reassess 9` is then about the run
    result = souverain(*args, home=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_import_table_then_lookup(tmp_path: Path) -> None:
    ranges = tmp_path / "ip-ranges.json"
    prefixes = [
        {"ip_prefix": "3.5.0.0/16", "service": "AMAZON"},
        {"ip_prefix": "3.5.140.0/22", "service": "CLOUDFRONT"},
    ]
    ranges.write_text(json.dumps({"prefixes": prefixes}))
    out = tmp_path / "nets"
    result = souverain("kb", "import-table", "aws", str(ranges), "--out", str(out), home=tmp_path)
    assert result.returncode == 0, result.stderr
    from souverain.kb.netdata import NetworkData

    nets = NetworkData.load([out])
    hit = nets.lookup("3.5.141.1")
    assert hit is not None and hit.service == "CLOUDFRONT" and hit.entity == "aws"
    assert nets.lookup("3.5.1.1").service == "AMAZON"  # type: ignore[union-attr]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    bad = souverain("kb", "import-table", "aws", str(broken), "--out", str(out), home=tmp_path)
    assert bad.returncode == 2 and "not JSON" in bad.stderr
    assert NetworkData.load([out]).lookup("3.5.141.1") is not None  # the previous table is kept


OBSERVATIONS = [
    {"domain": "mairie-exemple.fr", "siren": "217500016", "name": "Commune exemple", "kind": "commune",
     "mx": [{"host": "mairie-exemple-fr.mail.protection.outlook.com", "addresses": []}],
     "dkim": [{"selector": "selector1", "target": "selector1-mairie-fr._domainkey.x.onmicrosoft.com"}],
     "ns": ["dns10.ovh.net", "ns10.ovh.net"], "third_party": {"www.googletagmanager.com": ["script"]}},
    {"domain": "Hôpital-Exemple.fr", "siren": "217500016", "name": "Commune exemple",
     "mx": ["mx1-fr.vadesecure.com"]},
]  # fmt: skip


def test_import_evidence_attributes_offline(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text("\n".join(json.dumps(o) for o in OBSERVATIONS) + "\n")
    store = tmp_path / "s.db"
    result = souverain("import-evidence", str(path), "--store", str(store), home=tmp_path)
    assert result.returncode == 0, result.stderr
    from souverain.store import Store

    db = Store(store)
    run_id = int(result.stdout.split()[-1])
    attribution = db.latest_attribution(run_id)
    assert attribution is not None
    got = {(d["domain"], d["role"], d["operator"]) for d in db.dependencies_of(attribution["id"])}
    assert {
        ("mairie-exemple.fr", "mailbox", "microsoft"),
        ("mairie-exemple.fr", "dns-hosting", "ovhcloud"),
        ("mairie-exemple.fr", "analytics", "google"),
        ("xn--hpital-exemple-0ob.fr", "mail-gateway", "vade"),
        ("xn--hpital-exemple-0ob.fr", "mailbox", None),
    } <= got


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "obs.jsonl:1: not JSON"),
    ('{"domain": "a..fr", "siren": "217500016", "name": "x"}', "obs.jsonl:1"),
    ('{"domain": "a.fr", "mx": [1], "siren": "217500016", "name": "x"}', "obs.jsonl:1: mx"),
    ('{"domain": "a.fr", "siren": "123456789", "name": "x"}', "obs.jsonl:1: siren"),
])  # fmt: skip
def test_import_evidence_bad_lines(line: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text(line + "\n")
    result = souverain("import-evidence", str(path), "--store", str(tmp_path / "s.db"), home=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
