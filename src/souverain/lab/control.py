"""Public API of the lab: ``up``, ``down``, ``status``."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode

from souverain.lab import servers
from souverain.lab.build import build, name_server_addresses, trust_anchor
from souverain.lab.dnsdata import build_zones, third_party_ips
from souverain.lab.errors import LabError
from souverain.lab.outputs import write_descriptions
from souverain.lab.providers import RESOLVER
from souverain.lab.sites import write_nginx_conf
from souverain.lab.world import generate


def _code_digest() -> str:
    """Digest of the lab's own source: a changed generator never reuses a world built by an older one."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


FORMAT = _code_digest()
REUSE_MAX_AGE_S = 7 * 86400
SERVICES = ("hostile", "nginx", "unbound", "nsd")
READY_NAME = "banc-dnssec-ok.fr"


@dataclass(slots=True)
class LabInfo:
    """What ``up`` started, as also written to ``lab.json``."""

    lab_dir: Path
    resolver: str
    ca_file: Path
    seed: int
    size: int
    domains: int
    services: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    replaced: str | None = None  # the folder of another lab that was running, stopped (fixed addresses)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["lab_dir"], d["ca_file"] = str(self.lab_dir), str(self.ca_file)
        return d


def _noop(stage: str, done: int, total: int) -> None:
    return None


def _marker(lab: Path) -> str:
    return f"{lab}/"


def _check_free(addr: str, port: int) -> None:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((addr, port))
            except PermissionError as e:
                raise LabError(
                    f"cannot bind {addr}:{port} ({e.strerror}): the lab needs root or CAP_NET_BIND_SERVICE"
                ) from e
            except OSError as e:
                raise LabError(
                    f"{addr}:{port} is already in use (another lab or a system-wide "
                    "unbound/nsd/nginx? stop it first)"
                ) from e


def _stamp(seed: int, size: int | None, domains: int | None) -> dict[str, Any]:
    return {"format": FORMAT, "seed": seed, "size": size, "domains": domains}


def _reusable(lab: Path, stamp: dict[str, Any], now: int) -> bool:
    try:
        old = json.loads((lab / "run" / "world.stamp").read_text())
    except (OSError, ValueError):
        return False
    needed = ["truth.json", "portfolio.yaml", "zones/root.zone", "ca/bundle.pem", "www/_hostile/bomb.gz"]
    return (
        old.get("world") == stamp
        and now - int(old.get("built_at", 0)) < REUSE_MAX_AGE_S
        and all((lab / n).exists() for n in needed)
    )


def up(
    lab_dir: Path,
    *,
    seed: int = 1,
    size: int | None = 200,
    domains: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LabInfo:
    """(Re)build the world in ``lab_dir`` if needed, start every server and wait until they answer."""
    started = time.monotonic()
    report = progress or _noop
    lab = Path(lab_dir).resolve()
    if domains is not None:
        size = None
    bins = {n: servers.binary(n) for n in servers.BINARIES}
    other, replaced = _current_lab(), None
    if other is not None and other != lab:
        if any(servers.alive(other / "run" / f"{name}.pid", _marker(other)) for name in SERVICES):
            replaced = str(other)
        down(other)  # one lab per machine: its addresses are fixed
    down(lab)
    _check_free(RESOLVER, 53)
    for sub in ("run", "logs", "zones", "www", "certs", "ca", "keys"):
        (lab / sub).mkdir(parents=True, exist_ok=True)
    report("world", 0, 1)
    world = generate(seed, size, domains)
    report("world", 1, 1)
    now = int(time.time())
    stamp = _stamp(seed, size, domains)
    if _reusable(lab, stamp, now):
        zones = build_zones(world)
        now = int(json.loads((lab / "run" / "world.stamp").read_text())["built_at"])
    else:
        (lab / "run" / "world.stamp").unlink(missing_ok=True)
        write_descriptions(world, lab)
        zones = build(world, lab, now, report)
        (lab / "run" / "world.stamp").write_text(json.dumps({"world": stamp, "built_at": now}))
    ns_addrs = name_server_addresses(zones)
    run = lab / "run"
    (run / "nsd.conf").write_text(servers.nsd_conf(lab, [z.origin for z in zones], ns_addrs))
    (run / "unbound.conf").write_text(servers.unbound_conf(lab))
    (run / "root.hints").write_text(servers.root_hints())
    (run / "root.key").write_text(trust_anchor(lab, now))
    write_nginx_conf(world, lab, third_party_ips())
    info = LabInfo(
        lab_dir=lab,
        resolver=f"{RESOLVER}:53",
        ca_file=lab / "ca" / "bundle.pem",
        seed=seed,
        size=len(world.orgs),
        domains=len(world.domains),
        replaced=replaced,
    )
    info.services = {
        "resolver": {"address": f"{RESOLVER}:53"},
        "nsd": {"addresses": [f"{a}:53" for a in ns_addrs]},
        "nginx": {"addresses": sorted(_nginx_addresses(run / "nginx.conf"))},
        "hostile": {
            "addresses": sorted(
                a for h in json.loads((lab / "hostile.json").read_text()) for a in h.get("listen", [])
            )
        },
    }
    _write_lab_json(info)
    report("start", 0, 4)
    try:
        CURRENT.write_text(str(lab), encoding="utf-8")
        _start(lab, bins, report)
        _wait_ready(lab, info)
    except BaseException:
        down(lab)
        raise
    info.elapsed_s = round(time.monotonic() - started, 2)
    report("ready", 1, 1)
    return info


def _nginx_addresses(conf: Path) -> set[str]:
    return {
        line.split()[1].rstrip(";")
        for line in conf.read_text().splitlines()
        if line.strip().startswith("listen ")
    }


def _write_lab_json(info: LabInfo) -> None:
    lab = info.lab_dir
    doc = {
        "resolver": info.resolver,
        "ca_file": str(info.ca_file),
        "seed": info.seed,
        "size": info.size,
        "domains": info.domains,
        "prefixes": str(lab / "prefixes.tsv"),
        "portfolio": str(lab / "portfolio.yaml"),
        "truth": str(lab / "truth.json"),
        "hostile": str(lab / "hostile.json"),
        "services": info.services,
    }
    (lab / "lab.json").write_text(json.dumps(doc, indent=1) + "\n")


LOGS = ("nsd.log", "unbound.log", "nginx-error.log", "hostile.log")
"""The servers' logs, which they append to: kept for the current and the previous ``up`` only."""


def rotate_logs(logs: Path) -> None:
    """Move each server's log aside as ``<name>.1`` (replacing the older one) before the servers start.

    nsd writes a line per zone at each start (~10,000 per ``up`` of a 10,000-domain world) and unbound one per
    validation failure (the world's broken zones, at every scan): never rotated, a benchmark directory's logs
    reached ~100 MB in a day."""
    for name in LOGS:
        log = logs / name
        if log.is_file() and log.stat().st_size > 0:
            log.replace(log.with_name(name + ".1"))


def _start(lab: Path, bins: dict[str, str], report: Callable[[str, int, int], None]) -> None:
    run, logs, m = lab / "run", lab / "logs", _marker(lab)
    rotate_logs(logs)
    servers.run_daemon(
        "nsd", [bins["nsd"], "-c", str(run / "nsd.conf")], logs / "nsd.log", run / "nsd.pid", m, wait=120
    )
    report("start", 1, 4)
    servers.run_daemon(
        "unbound",
        [bins["unbound"], "-c", str(run / "unbound.conf")],
        logs / "unbound.log",
        run / "unbound.pid",
        m,
    )
    report("start", 2, 4)
    servers.run_daemon(
        "nginx",
        [bins["nginx"], "-c", str(run / "nginx.conf"), "-p", f"{lab}/"],
        logs / "nginx-error.log",
        run / "nginx.pid",
        m,
        wait=60,
    )
    report("start", 3, 4)
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with (logs / "hostile.log").open("ab") as log:
        rc = subprocess.call(
            [sys.executable, "-m", "souverain.lab.hostile", str(lab / "hostile.json"), "--daemon"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    if rc != 0:
        raise LabError(f"hostile servers failed to start (exit {rc}): {servers.tail(logs / 'hostile.log')}")
    deadline = time.monotonic() + 15
    while servers.alive(run / "hostile.pid", m) is None:
        if time.monotonic() > deadline:
            raise LabError(f"hostile servers did not start: {servers.tail(logs / 'hostile.log')}")
        time.sleep(0.05)
    report("start", 4, 4)


def _wait_ready(lab: Path, info: LabInfo, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            q = dns.message.make_query(READY_NAME, "A", want_dnssec=True)
            r = dns.query.udp(q, RESOLVER, timeout=2)
            if r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD:
                break
            last = f"{dns.rcode.to_text(r.rcode())}, AD={bool(r.flags & dns.flags.AD)}"
        except (OSError, dns.exception.DNSException) as e:
            last = str(e) or type(e).__name__
        time.sleep(0.2)
    else:
        raise LabError(
            f"resolver not ready after {timeout:.0f}s ({READY_NAME} A: {last}): "
            f"{servers.tail(lab / 'logs' / 'unbound.log')} {servers.tail(lab / 'logs' / 'nsd.log')}"
        )
    ip = info.services["nginx"]["addresses"][0].rsplit(":", 1)[0]
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, 80), timeout=2) as s:
                s.sendall(b"HEAD / HTTP/1.0\r\nHost: lab\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise LabError(f"nginx not answering on {ip}:80: {servers.tail(lab / 'logs' / 'nginx-error.log')}")


CURRENT = Path(tempfile.gettempdir()) / "souverain-lab.current"


def _current_lab() -> Path | None:
    """The folder of the lab last started on this machine, if it is recorded."""
    try:
        return Path(CURRENT.read_text(encoding="utf-8").strip())
    except OSError:
        return None


def down(lab_dir: Path) -> None:
    """Stop every process of the lab in ``lab_dir``; idempotent."""
    lab = Path(lab_dir).resolve()
    for name in SERVICES:
        servers.stop(lab / "run" / f"{name}.pid", _marker(lab))
    if _current_lab() == lab:
        CURRENT.unlink(missing_ok=True)


def status(lab_dir: Path) -> dict[str, Any]:
    """Per service: running, pid, addresses; and the world's seed, size and domain count."""
    lab = Path(lab_dir).resolve()
    try:
        doc: dict[str, Any] = json.loads((lab / "lab.json").read_text())
    except (OSError, ValueError):
        doc = {}
    svc_doc = doc.get("services", {})
    out_services: dict[str, Any] = {}
    for name in ("nsd", "unbound", "nginx", "hostile"):
        pid = servers.alive(lab / "run" / f"{name}.pid", _marker(lab))
        addr = svc_doc.get("resolver" if name == "unbound" else name, {})
        out_services[name] = {
            "running": pid is not None,
            "pid": pid,
            "address": addr.get("address") or addr.get("addresses"),
        }
    return {
        "lab_dir": str(lab),
        "seed": doc.get("seed"),
        "size": doc.get("size"),
        "domains": doc.get("domains"),
        "resolver": doc.get("resolver"),
        "services": out_services,
        "running": all(s["running"] for s in out_services.values()),
    }
