"""The one network layer: DNS client, per-destination-IP caps, HTTP session, TLS contexts."""

from souverain.net.config import DEFAULT_DKIM_SELECTORS, NetConfig, default_resolver, default_user_agent
from souverain.net.core import Net
from souverain.net.dns import DnsAnswer, DnsClient

__all__ = [
    "DEFAULT_DKIM_SELECTORS",
    "DnsAnswer",
    "DnsClient",
    "Net",
    "NetConfig",
    "default_resolver",
    "default_user_agent",
]
