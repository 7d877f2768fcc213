"""The running lab: real nsd, unbound, nginx and hostile servers on 127.0.0.0/8."""

from __future__ import annotations

import json
import socket
import ssl
import warnings
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import psutil
import pytest

from cli_runner import run_cli as souverain
from souverain.lab import LabInfo, down, status

pytestmark = pytest.mark.lab
RESOLVER = "127.53.0.53"


def _query(name: str, rtype: str = "A", *, tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, rtype, want_dnssec=True)
    return dns.query.tcp(q, RESOLVER, timeout=10) if tcp else dns.query.udp(q, RESOLVER, timeout=10)


def _truth(lab: LabInfo) -> dict:  # type: ignore[type-arg]
    return json.loads((lab.lab_dir / "truth.json").read_text())  # type: ignore[no-any-return]


def test_lab_json_contract(lab: LabInfo) -> None:
    doc = json.loads((lab.lab_dir / "lab.json").read_text())
    assert doc["resolver"] == "127.53.0.53:53"
    for key in ("ca_file", "prefixes", "portfolio", "truth"):
        assert (lab.lab_dir / doc[key]).exists()
    assert doc["domains"] == len(_truth(lab)["domains"])
    assert status(lab.lab_dir)["running"]


def test_dnssec_signed_broken_unsigned(lab: LabInfo) -> None:
    ok = _query("banc-dnssec-ok.fr")
    assert ok.rcode() == dns.rcode.NOERROR and ok.flags & dns.flags.AD
    for name in ("banc-dnssec-casse.fr", "banc-dnssec-expire.fr"):
        assert _query(name).rcode() == dns.rcode.SERVFAIL
    unsigned = _query("banc-non-signe.fr")
    assert unsigned.rcode() == dns.rcode.NOERROR and not unsigned.flags & dns.flags.AD
    assert unsigned.answer


def test_cname_loop_and_big_txt(lab: LabInfo) -> None:
    assert _query("banc-cname-boucle.fr").rcode() == dns.rcode.SERVFAIL
    r = _query("banc-gros-txt.fr", "TXT", tcp=True)
    assert r.rcode() == dns.rcode.NOERROR
    assert len(r.to_wire()) > 60000


def test_world_domains_resolve_as_the_truth_says(lab: LabInfo) -> None:
    truth = _truth(lab)["domains"]
    checked = 0
    for name, t in truth.items():
        if t["hostile"] or not t["addresses"]["A"]:
            continue
        r = _query(name)
        if t["dnssec"] == "broken":
            assert r.rcode() == dns.rcode.SERVFAIL, name
            continue
        got = sorted(rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset)
        assert got == t["addresses"]["A"], name
        assert bool(r.flags & dns.flags.AD) == (t["dnssec"] == "signed"), name
        checked += 1
    assert checked > 5


def _tls(ip: str, host: str, ctx: ssl.SSLContext) -> tuple[str, bytes]:
    with (
        socket.create_connection((ip, 443), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as s,
    ):
        s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return s.version() or "", s.recv(4096)


def test_https_valid_site_with_lab_ca(lab: LabInfo) -> None:
    truth = _truth(lab)["domains"]
    name, t = next((n, t) for n, t in truth.items() if t["tls"] == "valid" and not t["hostile"])
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    version, head = _tls(t["addresses"]["A"][0], name, ctx)
    assert head.startswith(b"HTTP/1.1 ")
    assert version in ("TLSv1.2", "TLSv1.3")


def test_tls10_only_server(lab: LabInfo) -> None:
    ip = _truth(lab)["domains"]["banc-tls10.fr"]["addresses"]["A"][0]
    with pytest.raises(ssl.SSLError):
        _tls(ip, "banc-tls10.fr", ssl.create_default_context(cafile=str(lab.ca_file)))
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    version, _ = _tls(ip, "banc-tls10.fr", old)
    assert version == "TLSv1"


def test_expired_certificate_is_rejected(lab: LabInfo) -> None:
    ip = _truth(lab)["domains"]["banc-expire.fr"]["addresses"]["A"][0]
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        _tls(ip, "banc-expire.fr", ssl.create_default_context(cafile=str(lab.ca_file)))


def test_silent_server_times_out(lab: LabInfo) -> None:
    ip = _truth(lab)["domains"]["banc-silence.fr"]["addresses"]["A"][0]
    with socket.create_connection((ip, 80), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: banc-silence.fr\r\n\r\n")
        s.settimeout(1.0)
        with pytest.raises(TimeoutError):
            s.recv(1)


def test_lab_status_command_summarises(lab: LabInfo, tmp_path: Path) -> None:
    """It printed ~300 lines of JSON (every address); now a line and a table, the JSON with --json."""
    shown = souverain("lab", "status", "--dir", str(lab.lab_dir), home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"lab {lab.lab_dir}: ") and lines[0].endswith(
        "resolver 127.53.0.53:53: running"
    )
    rows = {line.split()[1]: line.split()[3] for line in lines if line.startswith("│")}
    assert rows == {"nsd": "running", "unbound": "running", "nginx": "running", "hostile": "running"}
    assert len(lines) < 15
    full = souverain("lab", "status", "--dir", str(lab.lab_dir), "--json", home=tmp_path)
    assert json.loads(full.stdout) == json.loads(json.dumps(status(lab.lab_dir), default=str))


def test_zz_down_stops_every_process(lab: LabInfo, tmp_path: Path) -> None:
    pids = [s["pid"] for s in status(lab.lab_dir)["services"].values()]
    assert all(pids)
    down(lab.lab_dir)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)
    assert not any(s["running"] for s in status(lab.lab_dir)["services"].values())
    stopped = souverain("lab", "status", "--dir", str(lab.lab_dir), home=tmp_path)
    assert stopped.returncode == 1 and "not running" in stopped.stdout.splitlines()[0]
    down(lab.lab_dir)
