"""Files describing the world for the scanner and the report: portfolio, truth, prefixes, hostile targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from souverain.lab.kbfiles import write_kb_files, write_tenant_files
from souverain.lab.model import World
from souverain.lab.providers import HOSTILE_IPS, PROVIDERS, prefixes_tsv

HEADER = (
    "# souverain lab world (seed {seed}): a FICTIONAL world for tests and demos.\n"
    "# Names of real territories are used; every hosting fact below is simulated.\n"
)


def portfolio_yaml(world: World) -> str:
    orgs: list[dict[str, Any]] = []
    for o in world.orgs:
        entry: dict[str, Any] = {"siren": o.siren, "name": o.name, "kind": o.kind}
        territory = {
            k: v
            for k, v in (("commune", o.commune), ("departement", o.departement), ("region", o.region))
            if v
        }
        if territory:
            entry["territory"] = territory
        entry["domains"] = [{"name": name, "roles": roles} for name, roles in o.domains]
        if o.contacts:
            entry["contacts"] = o.contacts
        if o.services:
            entry["services"] = o.services
        orgs.append(entry)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump({"organisations": orgs}, Dumper=dumper, sort_keys=False, allow_unicode=True, width=200)
    return HEADER.format(seed=world.seed) + body


def truth_json(world: World) -> str:
    used = {"self", "lab-hostile"}
    for d in world.domains.values():
        t = d.truth
        used.update(
            v
            for k in (
                "web_hosting",
                "web_network",
                "cdn",
                "dns_hosting",
                "mailbox",
                "mailbox_infra",
                "mail_gateway",
                "identity",
                "ca",
            )
            if isinstance(v := t.get(k), str)
        )
    providers = {
        k: {
            "name": p.name,
            "asn": p.asn,
            "country": p.country,
            "prefix": p.prefix,
            "lab_fictional": p.lab_fictional,
        }
        for k, p in PROVIDERS.items()
        if k in used
    }
    doc = {
        "seed": world.seed,
        "size": world.size,
        "domains": {n: d.truth for n, d in world.domains.items()},
        "providers": providers,
        "services": world.service_truth,
    }
    return json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def hostile_json(world: World, lab: Path) -> str:
    listen = {"silence": [80, 443], "huge-page": [80, 443], "tls-garbage": [443], "dns-timeout": [53]}
    out = []
    for h in world.hostile:
        entry = dict(h)
        if h["kind"] in listen:
            ip = HOSTILE_IPS[h["kind"]]
            entry["listen"] = [f"{ip}:{p}" for p in listen[h["kind"]]]
        if h["kind"] == "huge-page":
            entry["cert"] = str(lab / "certs" / f"{h['domain']}.pem")
            entry["key"] = str(lab / "certs" / "leaf.key")
        out.append(entry)
    return json.dumps(out, indent=1, ensure_ascii=False) + "\n"


def write_descriptions(world: World, lab: Path) -> None:
    (lab / "portfolio.yaml").write_text(portfolio_yaml(world))
    (lab / "truth.json").write_text(truth_json(world))
    (lab / "prefixes.tsv").write_text(prefixes_tsv())
    (lab / "hostile.json").write_text(hostile_json(world, lab))
    write_kb_files(lab)
    write_tenant_files({n: d.truth for n, d in world.domains.items()}, lab)
