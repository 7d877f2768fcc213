"""``tenant`` probe (off unless ``NetConfig.tenant_probe``): does the domain belong to a Microsoft Entra
tenant? Asks the identity platform's public OpenID configuration document for the domain
(``https://login.microsoftonline.com/<domain>/v2.0/.well-known/openid-configuration``): an answer naming a
tenant GUID proves an identity/collaboration tenant — not where the mailboxes are. Certificates are validated.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from souverain.evidence import Evidence, Status
from souverain.probes.base import ProbeContext, register
from souverain.probes.common import classify_error
from souverain.probes.fetch import read_body

SCHEMA_VERSION = 1
MAX_BYTES = 64_000
_GUID = re.compile(r"/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/", re.I)


@register("tenant", version="1", roles=frozenset({"*"}), budget_s=15.0, schema_version=SCHEMA_VERSION)
async def probe_tenant(ctx: ProbeContext) -> list[Evidence]:
    net = ctx.net
    if not net.config.tenant_probe:
        return []
    url = net.config.tenant_url.format(domain=ctx.domain)
    data: dict[str, Any] = {"url": url, "provider_host": urlsplit(url).hostname}
    try:
        async with net.http.get(url, allow_redirects=False, ssl=net.tls_validating) as resp:
            data["http_status"] = resp.status
            body = await read_body(resp, MAX_BYTES, net.config.read_timeout)
    except Exception as exc:
        status, reason = classify_error(exc)
        if status is Status.BUG:
            raise
        return [Evidence("tenant", ctx.domain, status, data, error=reason, schema_version=SCHEMA_VERSION)]
    if resp.status != 200:
        return [Evidence("tenant", ctx.domain, Status.NOT_FOUND, data, error=f"HTTP {resp.status}",
                         schema_version=SCHEMA_VERSION)]  # fmt: skip
    try:
        doc = json.loads(body.content)
        issuer = str(doc.get("issuer", ""))
    except (ValueError, AttributeError):
        return [Evidence("tenant", ctx.domain, Status.ERROR, data, error="not a JSON document",
                         schema_version=SCHEMA_VERSION)]  # fmt: skip
    match = _GUID.search(issuer + "/")
    if match is None:
        return [Evidence("tenant", ctx.domain, Status.NOT_FOUND, data, error="no tenant in the issuer",
                         schema_version=SCHEMA_VERSION)]  # fmt: skip
    data.update(tenant_id=match.group(1).lower(), issuer=issuer[:200],
                region_scope=str(doc.get("tenant_region_scope", ""))[:20] or None)  # fmt: skip
    return [Evidence("tenant", ctx.domain, Status.OK, data, schema_version=SCHEMA_VERSION)]
