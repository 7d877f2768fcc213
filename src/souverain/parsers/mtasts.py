"""MTA-STS (RFC 8461) TXT record and policy file; SMTP TLS reporting (RFC 8460) record."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from souverain.parsers.tags import parse_tag_list

__all__ = ["StsPolicy", "parse_sts_policy", "parse_sts_txt", "parse_tlsrpt"]

_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_MODES = frozenset({"enforce", "testing", "none"})
MAX_AGE_LIMIT = 31_557_600


def parse_sts_txt(text: str) -> dict[str, Any]:
    """``v=STSv1; id=…`` → ``{"v", "id", "valid", "errors"}``."""
    pairs, errors = parse_tag_list(text)
    tags = dict(pairs)
    if not pairs or pairs[0] != ("v", "STSv1"):
        errors.append("record must start with 'v=STSv1'")
    policy_id = tags.get("id")
    if policy_id is None:
        errors.append("missing 'id'")
    elif not _ID.match(policy_id):
        errors.append(f"invalid id {policy_id[:40]!r} (1-32 letters or digits)")
    return {"v": tags.get("v"), "id": policy_id, "valid": not errors, "errors": errors}


def parse_tlsrpt(text: str) -> dict[str, Any]:
    """``v=TLSRPTv1; rua=…`` → ``{"v", "rua", "valid", "errors"}``."""
    pairs, errors = parse_tag_list(text)
    tags = dict(pairs)
    if not pairs or pairs[0] != ("v", "TLSRPTv1"):
        errors.append("record must start with 'v=TLSRPTv1'")
    rua = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
    if not rua:
        errors.append("missing 'rua'")
    for uri in rua:
        if not uri.lower().startswith(("mailto:", "https:")):
            errors.append(f"invalid rua URI {uri[:80]!r}")
    return {"v": tags.get("v"), "rua": rua, "valid": not errors, "errors": errors}


@dataclass(slots=True)
class StsPolicy:
    """The policy file served at ``https://mta-sts.<domain>/.well-known/mta-sts.txt``."""

    version: str | None = None
    mode: str | None = None
    mx: list[str] = field(default_factory=list)
    max_age: int | None = None
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "mode": self.mode,
            "mx": self.mx,
            "max_age": self.max_age,
            "valid": not self.errors,
            "errors": self.errors,
        }

    def mx_matches(self, host: str) -> bool:
        """Whether an MX host name matches one of the policy's patterns (``*.`` covers one label)."""
        host = host.rstrip(".").lower()
        for pattern in self.mx:
            pattern = pattern.rstrip(".").lower()
            if pattern.startswith("*."):
                head, _, rest = host.partition(".")
                if head and rest == pattern[2:]:
                    return True
            elif host == pattern:
                return True
        return False


def parse_sts_policy(text: str) -> StsPolicy:
    """Parse the policy file (``key: value`` lines, CRLF or LF). Never raises."""
    policy = StsPolicy()
    seen: set[str] = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            policy.errors.append(f"malformed line {line[:80]!r}")
            continue
        if key != "mx" and key in seen:
            policy.errors.append(f"duplicate key {key!r}")
            continue
        seen.add(key)
        if key == "version":
            policy.version = value
        elif key == "mode":
            policy.mode = value
        elif key == "mx":
            policy.mx.append(value)
        elif key == "max_age":
            if value.isdigit() and len(value) <= 10:
                policy.max_age = int(value)
            else:
                policy.errors.append(f"invalid max_age {value[:20]!r}")
    if policy.version != "STSv1":
        policy.errors.append("version must be 'STSv1'")
    if policy.mode not in _MODES:
        policy.errors.append(f"invalid mode {policy.mode!r}")
    if policy.max_age is None:
        if "max_age" not in seen:
            policy.errors.append("missing max_age")
    elif policy.max_age > MAX_AGE_LIMIT:
        policy.errors.append(f"max_age above {MAX_AGE_LIMIT}")
    if policy.mode in ("enforce", "testing") and not policy.mx:
        policy.errors.append("no mx pattern")
    return policy
