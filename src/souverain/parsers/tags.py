"""``tag=value; tag=value`` lists shared by DMARC, MTA-STS TXT and TLS-RPT records."""

from __future__ import annotations

__all__ = ["parse_tag_list"]


def parse_tag_list(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Split a tag list into ``(name lowercased, value)`` pairs; returns (pairs, errors)."""
    pairs: list[tuple[str, str]] = []
    errors: list[str] = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name or any(c.isspace() for c in name):
            errors.append(f"malformed tag {part[:80]!r}")
            continue
        pairs.append((name.lower(), value.strip()))
    return pairs, errors
