"""Materialise a world on disk: zone files (signed in parallel), certificates, web content, configs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from souverain.lab import sites
from souverain.lab.dnsdata import Zone, build_zones, data_host_ips, third_party_ips
from souverain.lab.errors import LabError
from souverain.lab.model import World
from souverain.lab.pki import Pki, load_or_create_key
from souverain.lab.providers import HOSTILE_IPS
from souverain.lab.servers import tail
from souverain.lab.signer import Signer, write_zones

Progress = Callable[[str, int, int], None]
PARALLEL_THRESHOLD = 600


def _key_pem(lab: Path) -> bytes:
    load_or_create_key(lab / "keys" / "lab-csk.pem")
    return (lab / "keys" / "lab-csk.pem").read_bytes()


def write_zone_files(zones: list[Zone], lab: Path, now: int, progress: Progress) -> None:
    """Write every zone file; large worlds are signed by one worker process per CPU."""
    zone_dir = lab / "zones"
    zone_dir.mkdir(parents=True, exist_ok=True)
    key = _key_pem(lab)
    total = len(zones)
    if total < PARALLEL_THRESHOLD:
        write_zones(zones, str(zone_dir), key, now)
        progress("zones", total, total)
        return
    workers = max(2, os.cpu_count() or 2)
    batches: list[list[Zone]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for z in sorted(zones, key=lambda z: -len(z.records)):
        i = loads.index(min(loads))
        batches[i].append(z)
        loads[i] += len(z.records) + 4
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    procs = []
    for i, batch in enumerate(batches):
        job = lab / "run" / f"zones-{i}.pickle"
        job.write_bytes(pickle.dumps((batch, str(zone_dir), key, now)))
        log = (lab / "logs" / f"signer-{i}.log").open("wb")
        procs.append(
            (
                subprocess.Popen(
                    [sys.executable, "-m", "souverain.lab.signer", str(job)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                ),
                job,
                log,
                len(batch),
            )
        )
    done = 0
    for proc, job, log, n in procs:
        rc = proc.wait()
        log.close()
        job.unlink(missing_ok=True)
        if rc != 0:
            raise LabError(f"zone signing worker failed (exit {rc}): {tail(Path(log.name))}")
        done += n
        progress("zones", done, total)


def trust_anchor(lab: Path, now: int) -> str:
    return f". 3600 IN DNSKEY {Signer(_key_pem(lab), now).dnskey.to_text()}\n"


def name_server_addresses(zones: list[Zone]) -> list[str]:
    """Every address nsd must serve on: the addresses of every name server named in the lab."""
    hosts: dict[str, set[str]] = {}
    ns_names: set[str] = set()
    for z in zones:
        origin = "" if z.origin == "." else z.origin
        ns_names.update(h.rstrip(".") for h in z.ns)
        for h, a in z.glue.items():
            hosts.setdefault(h, set()).add(a)
        for owner, _, rtype, rdata in z.records:
            absolute = (
                owner.rstrip(".")
                if owner.endswith(".")
                else origin
                if owner == "@"
                else f"{owner}.{origin}".rstrip(".")
            )
            if rtype == "A":
                hosts.setdefault(absolute, set()).add(rdata)
            elif rtype == "NS":
                ns_names.add(rdata.rstrip("."))
    addrs = {a for n in ns_names for a in hosts.get(n, ())}
    addrs.discard(HOSTILE_IPS["dns-timeout"])
    return sorted(addrs, key=lambda a: tuple(int(x) for x in a.split(".")))


def write_certificates(world: World, lab: Path, progress: Progress) -> None:
    certs = lab / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    pki = Pki(lab / "ca")
    wanted = [d for d in world.domains.values() if (d.site and d.site.tls) or d.mta_sts_policy]
    for i, d in enumerate(wanted):
        mode = d.site.tls if d.site and d.site.tls else "valid"
        ca = d.site.ca if d.site else "letsencrypt"
        names = [d.name, f"www.{d.name}", f"mta-sts.{d.name}", f"stats.{d.name}"]
        pem = pki.leaf(names, ca, "valid" if mode == "tls10-only" else mode)
        (certs / f"{d.name}.pem").write_bytes(pem)
        if i % 500 == 0:
            progress("certificates", i, len(wanted))
    for host in third_party_ips():
        key = sites.cert_key(host)
        names = ["*.matomo.cloud", "matomo.cloud"] if key == "matomo.cloud" else [key, f"www.{key}"]
        ca = "gts" if "goog" in host or "youtube" in host else "letsencrypt"
        (certs / f"{key}.pem").write_bytes(pki.leaf(names, ca))
    for host in data_host_ips():
        (certs / f"{host}.pem").write_bytes(pki.leaf([host], "letsencrypt"))
    progress("certificates", len(wanted), len(wanted))


def build(world: World, lab: Path, now: int, progress: Progress) -> list[Zone]:
    """Write zones, certificates and content; return the zones (for the nsd configuration)."""
    zones = build_zones(world)
    progress("zones", 0, len(zones))
    write_zone_files(zones, lab, now, progress)
    write_certificates(world, lab, progress)
    progress("sites", 0, len(world.domains))
    sites.write_content(world, lab / "www")
    progress("sites", len(world.domains), len(world.domains))
    return zones
