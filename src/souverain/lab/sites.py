"""Web content (pages, robots.txt, MTA-STS policies, gzip bomb) and the nginx configuration."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from souverain.lab.dnsdata import data_host_ips
from souverain.lab.model import World
from souverain.lab.providers import HOSTILE_IPS, TLS10_IP

GIB = 1 << 30
PROFILE_HEADERS = {
    "hsts": (1, "Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    "sec": (2, "X-Frame-Options", "SAMEORIGIN"),
    "sec2": (2, "X-Content-Type-Options", "nosniff"),
    "sec3": (2, "Referrer-Policy", "strict-origin-when-cross-origin"),
    "sec4": (2, "Content-Security-Policy", "frame-ancestors 'self'"),
    "cookie": (4, "Set-Cookie", "PHPSESSID=lab0123456789; path=/"),
}
PROVIDER_HEADERS: dict[str, list[tuple[str, str]]] = {
    "cloudflare": [("cf-ray", "$lab_ray-CDG"), ("cf-cache-status", "DYNAMIC")],
    "cloudfront": [
        ("x-amz-cf-id", "$lab_ray"),
        ("x-amz-cf-pop", "CDG50-C1"),
        ("x-cache", "Miss from cloudfront"),
        ("via", "1.1 $lab_ray.cloudfront.net (CloudFront)"),
    ],
    "fastly": [("x-served-by", "cache-par-lfpg1960072-PAR"), ("x-cache", "MISS"), ("via", "1.1 varnish")],
    "akamai": [("akamai-grn", "0.$lab_ray")],
    "azure": [("x-powered-by", "ASP.NET")],
}


def cert_key(host: str) -> str:
    """The certificate file stem nginx picks for an SNI name (mirrors the $lab_cert map)."""
    if host.endswith(".matomo.cloud"):
        return "matomo.cloud"
    for prefix in ("www.", "mta-sts.", "stats."):
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host


def ip_provider(ip: str) -> str | None:
    o = ip.split(".")
    return {"21": "cloudflare", "22": "akamai", "23": "fastly"}.get(o[1]) or (
        "cloudfront" if o[1] == "18" and o[2] == "4" else "azure" if o[1] == "19" and o[2] == "1" else None
    )


def gzip_bomb(path: Path, size: int = GIB, chunk: int = 16 << 20) -> None:
    """A gzip member of ``size`` zero bytes, built from one repeated byte-aligned deflate block."""
    if path.exists():
        return
    zeros = bytes(chunk)
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    body = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    tail = co.flush(zlib.Z_FINISH)[:-8]
    crc = 0
    for _ in range(size // chunk):
        crc = zlib.crc32(zeros, crc)
    trailer = crc.to_bytes(4, "little") + (size % (1 << 32)).to_bytes(4, "little")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(head + body * (size // chunk - 1) + tail + trailer)
    tmp.replace(path)


def write_content(world: World, www: Path) -> None:
    (www / "_mta-sts").mkdir(parents=True, exist_ok=True)
    (www / "_hostile").mkdir(exist_ok=True)
    for d in world.domains.values():
        if d.mta_sts_policy:
            (www / "_mta-sts" / f"mta-sts.{d.name}.txt").write_text(d.mta_sts_policy)
        if not d.site:
            continue
        site = www / d.name
        site.mkdir(exist_ok=True)
        (site / "index.html").write_bytes(d.site.html)
        if d.site.robots_disallow:
            (site / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
        elif len(d.name) % 2:
            (site / "robots.txt").write_text("User-agent: *\nAllow: /\nSitemap: /sitemap.xml\n")
    gzip_bomb(www / "_hostile" / "bomb.gz")


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nginx_conf(world: World, lab: Path, third_party: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The nginx configuration: (nginx.conf, {include file name under ``run/nginx-sites``: text}).

    One server block per address carries the behaviour shared by its sites (maps keyed by host) and
    serves port 80 and any unlisted TLS name with the certificate picked by ``$lab_cert``. Each HTTPS
    site also gets its own port-443 block naming its certificate literally, with the same behaviour
    (an include file per address): nginx 1.22 re-reads and re-parses a certificate given by a variable
    on every handshake, which made it the lab's largest CPU cost; literal ones are loaded once, at
    start (about 40 KB and 2 ms each).

    No TLS session cache and no TLS 1.2 session tickets: the scanner never resumes a session, and
    storing each one cost nginx ~0.1 ms per handshake (3,000 handshakes + GET, three rounds: 0.79–0.81
    against 0.66–0.71 ms of nginx CPU each). nginx 1.22 still sends TLS 1.3 its two tickets."""
    run, logs, www, certs = lab / "run", lab / "logs", lab / "www", lab / "certs"
    ips: dict[str, bool] = {}
    literal: dict[str, list[str]] = {}
    profile: list[str] = []
    redirect: list[str] = []
    for d in world.domains.values():
        s = d.site
        if not s or s.special in ("silence", "huge-page"):
            continue
        ips[s.ip] = ips.get(s.ip, False) or (s.https and s.special != "tls-garbage")
        if s.https and s.tls and not s.special:
            literal.setdefault(s.ip, []).append(d.name)
        bits = (1 if s.hsts else 0) | (2 if s.security_headers else 0) | (4 if s.cookie else 0)
        if bits:
            profile.append(f"    {d.name} {bits};")
        if s.redirect:
            target = f"https://www.{d.name}" if s.redirect == "https-www" else None
            for host in (d.name, f"www.{d.name}"):
                redirect.append(f'    "http://{host}" "{target or "https://" + host}";')
            if target:
                redirect.append(f'    "https://{d.name}" "{target}";')
    for d in world.domains.values():
        if d.mta_sts_policy and d.site is None:
            ips.setdefault("127.16.1.1", True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    out = [
        f"""{user}worker_processes 1;
daemon on;
pid {run}/nginx.pid;
error_log {logs}/nginx-error.log warn;
worker_rlimit_nofile 16384;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  server_tokens off;
  client_body_temp_path {run}/body; proxy_temp_path {run}/proxy; fastcgi_temp_path {run}/fastcgi;
  uwsgi_temp_path {run}/uwsgi; scgi_temp_path {run}/scgi;
  types {{ text/html html; text/plain txt; text/css css; application/javascript js; image/png png; }}
  default_type application/octet-stream;
  sendfile on;
  keepalive_timeout 15;
  map_hash_max_size 262144;
  map_hash_bucket_size 128;
  server_names_hash_max_size 262144;
  server_names_hash_bucket_size 128;
  ssl_session_cache off; ssl_session_tickets off;
  map $host $lab_site {{ ~^(?:www\\.)?(?<s>.+)$ $s; }}
  map $ssl_server_name $lab_cert {{
    ~\\.matomo\\.cloud$ matomo.cloud;
    ~^(?:www\\.|mta-sts\\.|stats\\.)?(?<c>.+)$ $c;
  }}
  map $request_id $lab_ray {{ "~^(?<r>.{{16}})" $r; }}
  map $lab_site $lab_profile {{
    default 0;"""
    ]
    out += [*profile, "  }", '  map "$scheme://$host" $lab_redirect {', '    default "";', *redirect, "  }"]
    for name, (bit, _, value) in PROFILE_HEADERS.items():
        values = " ".join(f"{p} {_q(value)};" for p in range(8) if p & bit)
        out.append(f'  map $lab_profile $lab_h_{name} {{ default ""; {values} }}')
    common = [f"add_header {h} $lab_h_{n} always;" for n, (_, h, _) in PROFILE_HEADERS.items()]
    mta = (
        f"location = /.well-known/mta-sts.txt {{ root {www}/_mta-sts; default_type text/plain; "
        "try_files /$host.txt =404; }"
    )
    includes: dict[str, str] = {}
    for ip in sorted(ips, key=lambda a: tuple(int(x) for x in a.split("."))):
        https = ips[ip]
        tls = (
            "ssl_protocols TLSv1; ssl_ciphers DEFAULT:@SECLEVEL=0;"
            if ip == TLS10_IP
            else "ssl_protocols TLSv1.2 TLSv1.3;"
        )
        body = [f"root {www}/$lab_site;"]
        if ip == HOSTILE_IPS["redirect-loop"]:
            body += ["location = / { return 302 /boucle; }", "location / { return 302 /; }"]
        elif ip == HOSTILE_IPS["gzip-bomb"]:
            body += [
                f"location / {{ root {www}/_hostile; types {{ }} default_type text/html; "
                "add_header Content-Encoding gzip always; try_files /bomb.gz =404; }"
            ]
        else:
            body += ["if ($lab_redirect) { return 301 $lab_redirect$request_uri; }", *common]
            prov = ip_provider(ip)
            body += [f"add_header {h} {_q(v)} always;" for h, v in PROVIDER_HEADERS.get(prov or "", [])]
            body += [mta, "location / { try_files $uri $uri/ =404; }"]
        include = run / "nginx-sites" / f"{ip}.conf"
        includes[include.name] = "\n".join(body) + "\n"
        lines = ["  server {", f"    listen {ip}:80;"]
        if https:
            lines += [
                f"    listen {ip}:443 ssl;",
                f"    ssl_certificate {certs}/$lab_cert.pem;",
                f"    ssl_certificate_key {certs}/leaf.key;",
                f"    {tls}",
            ]
        lines += [f"    include {include};", "  }"]
        out += lines
        if https and ip != TLS10_IP:
            for name in literal.get(ip, ()):
                out.append(
                    f"  server {{ listen {ip}:443 ssl; server_name {name} www.{name} mta-sts.{name} "
                    f"stats.{name}; ssl_certificate {certs}/{name}.pem; "
                    f"ssl_certificate_key {certs}/leaf.key; {tls} include {include}; }}"
                )
    for ip in sorted(set(third_party.values())):
        out += [
            "  server {",
            f"    listen {ip}:80;",
            f"    listen {ip}:443 ssl;",
            f"    ssl_certificate {certs}/$lab_cert.pem;",
            f"    ssl_certificate_key {certs}/leaf.key;",
            '    location / { default_type application/javascript; return 200 "/* lab third party */\\n"; }',
            "  }",
        ]
    for host, ip in sorted(data_host_ips().items()):
        out += [
            "  server {",
            f"    listen {ip}:443 ssl;",
            f"    server_name {host};",
            f"    ssl_certificate {certs}/{host}.pem;",
            f"    ssl_certificate_key {certs}/leaf.key;",
            f"    root {www}/_data/{host};",
            "    default_type application/octet-stream;",
            "    location / { try_files $uri =404; }",
            "  }",
        ]
    out.append("}")
    return "\n".join(out) + "\n", includes


def write_nginx_conf(world: World, lab: Path, third_party: dict[str, str]) -> Path:
    """Write ``run/nginx.conf`` and its per-address include files; return the configuration's path."""
    run = lab / "run"
    main, includes = nginx_conf(world, lab, third_party)
    folder = run / "nginx-sites"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.conf"):
        if stale.name not in includes:
            stale.unlink()
    for name, text in includes.items():
        (folder / name).write_text(text)
    (run / "nginx.conf").write_text(main)
    return run / "nginx.conf"
