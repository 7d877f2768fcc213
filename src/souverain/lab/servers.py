"""nsd and unbound configuration, and starting/stopping the lab daemons through pid files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil

from souverain.lab.errors import LabError
from souverain.lab.providers import RESOLVER, ROOT_NS

BINARIES = {"nsd": "nsd", "unbound": "unbound", "nginx": "nginx"}
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])


def binary(name: str) -> str:
    path = shutil.which(name, path=SEARCH_PATH)
    if path is None:
        raise LabError(
            f"'{name}' not found: install the Debian package '{BINARIES.get(name, name)}' "
            "(see scripts/lab-deps.txt)"
        )
    return path


def nsd_conf(lab: Path, zones: list[str], addresses: list[str]) -> str:
    lines = [
        "server:",
        *(f"    ip-address: {a}" for a in addresses),
        "    port: 53",
        '    username: ""',
        '    chroot: ""',
        '    database: ""',
        f'    zonesdir: "{lab}/zones"',
        f'    pidfile: "{lab}/run/nsd.pid"',
        f'    logfile: "{lab}/logs/nsd.log"',
        f'    xfrdfile: "{lab}/run/xfrd.state"',
        f'    zonelistfile: "{lab}/run/zone.list"',
        "    server-count: 1",
        "    tcp-count: 1000",
        "    verbosity: 1",
        "    hide-version: yes",
        "    zonefiles-check: no",
        "    zonefiles-write: 0",
        "    round-robin: no",
        "    do-ip6: no",
        "    rrl-ratelimit: 0",  # response rate limiting off: every lab client is 127.0.0.1
        "    rrl-whitelist-ratelimit: 0",
        "remote-control:",
        "    control-enable: no",
        "",
    ]
    from souverain.lab.signer import zone_filename

    for z in zones:
        lines += ["zone:", f'    name: "{z}"', f'    zonefile: "{zone_filename(z)}"']
    return "\n".join(lines) + "\n"


def unbound_conf(lab: Path) -> str:
    """One thread: the lab's resolver needs ~40 % of a core at ~100 scanned domains/s, and a second thread
    cost ~10 % more CPU in all (lock contention on the shared caches; 3,000-domain scans, cold caches,
    3.5–3.8 against 4.0 ms of unbound CPU per domain, two alternating pairs)."""
    return f"""server:
    interface: {RESOLVER}
    port: 53
    do-ip6: no
    do-daemonize: yes
    username: ""
    chroot: ""
    directory: "{lab}"
    pidfile: "{lab}/run/unbound.pid"
    logfile: "{lab}/logs/unbound.log"
    use-syslog: no
    verbosity: 1
    val-log-level: 2
    log-servfail: yes
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "validator iterator"
    root-hints: "{lab}/run/root.hints"
    trust-anchor-file: "{lab}/run/root.key"
    aggressive-nsec: yes
    qname-minimisation: no
    harden-referral-path: no
    target-fetch-policy: "0 0 0 0 0"
    num-threads: 1
    outgoing-range: 8192
    num-queries-per-thread: 4096
    so-rcvbuf: 4m
    so-sndbuf: 4m
    msg-cache-size: 64m
    rrset-cache-size: 128m
    key-cache-size: 16m
    neg-cache-size: 8m
    ratelimit: 0
    ip-ratelimit: 0
    unwanted-reply-threshold: 0
    cache-max-ttl: 3600
    cache-max-negative-ttl: 60
    val-bogus-ttl: 5
    infra-host-ttl: 30
    serve-expired: no
    minimal-responses: yes
    hide-version: yes
    max-udp-size: 1232
    edns-buffer-size: 1232
    tcp-idle-timeout: 30000
    incoming-num-tcp: 256
    outgoing-num-tcp: 64
remote-control:
    control-enable: no
"""


def root_hints() -> str:
    name, ip = ROOT_NS
    return f".\t3600000\tNS\t{name}.\n{name}.\t3600000\tA\t{ip}\n"


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pidfile: Path, marker: str) -> int | None:
    """The pid in ``pidfile`` if that process runs and its command line mentions ``marker``."""
    pid = read_pid(pidfile)
    if pid is None:
        return None
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        return pid if marker in " ".join(p.cmdline()) else None
    except (psutil.Error, OSError):
        return None


def _gone(procs: list[psutil.Process]) -> bool:
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.Error:
            continue
    return True


def stop(pidfile: Path, marker: str, timeout: float = 10.0) -> None:
    """SIGTERM the daemon of ``pidfile`` (if it is ours), wait for it and its children, then SIGKILL."""
    pid = alive(pidfile, marker)
    if pid is not None:
        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
            os.kill(pid, signal.SIGTERM)
        except (psutil.Error, ProcessLookupError):
            procs = []
        deadline = time.monotonic() + timeout
        while not _gone(procs) and time.monotonic() < deadline:
            time.sleep(0.02)
        for p in procs:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    p.kill()
            except psutil.Error:
                pass
    pidfile.unlink(missing_ok=True)


def tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"


def run_daemon(name: str, argv: list[str], log: Path, pidfile: Path, marker: str, wait: float = 30.0) -> int:
    """Run a self-daemonising server; return its pid once the pid file names a live process."""
    start_log = log.with_suffix(".start.log")
    with start_log.open("wb") as out:
        rc = subprocess.call(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    if rc != 0:
        raise LabError(f"{name} failed to start (exit {rc}): {tail(start_log)} {tail(log)}")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        pid = alive(pidfile, marker)
        if pid is not None:
            return pid
        time.sleep(0.05)
    raise LabError(f"{name} did not start within {wait:.0f}s: {tail(start_log)} {tail(log)}")
