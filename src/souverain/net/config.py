"""Network configuration: the only difference between the lab and the real internet."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

__all__ = ["DEFAULT_DKIM_SELECTORS", "NetConfig", "default_resolver", "default_user_agent"]

DEFAULT_DKIM_SELECTORS: tuple[str, ...] = (
    "selector1", "selector2", "google", "default", "dkim", "mail", "k1", "s1", "s2", "mx",
)  # fmt: skip


def _version() -> str:
    try:
        return metadata.version("souverain")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def default_user_agent() -> str:
    """The descriptive User-Agent sent with every HTTP request."""
    return (
        f"souverain/{_version()} (+https://github.com/souverain-observatoire/souverain; "
        "observatory of digital sovereignty)"
    )


def default_resolver(resolv_conf: str = "/etc/resolv.conf") -> str:
    """First ``nameserver`` of resolv.conf, or 127.0.0.1 when there is none."""
    try:
        for line in Path(resolv_conf).read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                return parts[1]
    except OSError:
        pass
    return "127.0.0.1"


@dataclass(slots=True)
class NetConfig:
    """How souverain talks to the network. Probes never open sockets any other way."""

    resolver: str = field(default_factory=default_resolver)
    ca_file: str | None = None
    user_agent: str = field(default_factory=default_user_agent)
    per_ip_limit: int = 4
    dns_timeout: float = 3.0
    connect_timeout: float = 5.0
    read_timeout: float = 8.0
    max_redirects: int = 10
    max_page_bytes: int = 2_000_000
    max_robots_bytes: int = 500_000
    dkim_selectors: tuple[str, ...] = DEFAULT_DKIM_SELECTORS
    tls_version_probe_cache: bool = True
    global_connection_limit: int = 512
    dns_retries: int = 2
    dns_cache_size: int = 20_000  # answers kept per run (least recently used dropped first)
    dns_max_inflight: int = 512  # questions outstanding at the resolver at once; the rest wait here
    http_port: int = 80  # ports of the web probes; only tests on unprivileged ports change them
    https_port: int = 443
    origin_lookup: bool = False  # ask a Team Cymru style DNS zone for the origin AS of observed addresses
    origin_zone_v4: str = "origin.asn.cymru.com"
    origin_zone_v6: str = "origin6.asn.cymru.com"
    public_only: bool = False  # refuse connections to non-public addresses (on-demand scans, net/addresses)
    tenant_probe: bool = False  # ask Microsoft's identity platform whether the domain has a tenant
    tenant_url: str = "https://login.microsoftonline.com/{domain}/v2.0/.well-known/openid-configuration"

    def resolver_address(self) -> tuple[str, int]:
        """``(ip, port)`` of the recursive resolver; accepts ``IP``, ``IP:port`` and ``[v6]:port``."""
        text = self.resolver.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            return host, int(rest[1:]) if rest.startswith(":") else 53
        if text.count(":") == 1:
            host, port = text.split(":")
            return host, int(port)
        return text, 53
