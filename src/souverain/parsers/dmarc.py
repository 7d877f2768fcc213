"""DMARC records (RFC 7489): tags p, sp, pct, rua, ruf, adkim, aspf, fo, ri and their validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from souverain.parsers.tags import parse_tag_list

__all__ = ["DmarcRecord", "is_dmarc", "parse_dmarc", "select_dmarc"]

_URI_SCHEMES = ("mailto:", "https:", "http:")
_POLICIES = frozenset({"none", "quarantine", "reject"})
_KNOWN = frozenset({"v", "p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "ri", "rf", "np", "psd", "t"})


@dataclass(slots=True)
class DmarcRecord:
    """A parsed DMARC record; ``errors`` make it invalid, ``warnings`` do not."""

    raw: str
    tags: dict[str, str] = field(default_factory=dict)
    p: str | None = None
    sp: str | None = None
    pct: int | None = None
    rua: list[str] = field(default_factory=list)
    ruf: list[str] = field(default_factory=list)
    adkim: str = "r"
    aspf: str = "r"
    fo: list[str] = field(default_factory=list)
    ri: int | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def effective_policy(self) -> str | None:
        """RFC 7489 §6.6.3: a record without a valid ``p`` but with a valid ``rua`` acts as ``p=none``."""
        if self.p in _POLICIES:
            return self.p
        valid_rua = any(u.lower().startswith(_URI_SCHEMES) for u in self.rua)
        return "none" if valid_rua and self.tags.get("v", "").upper() == "DMARC1" else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "p": self.p,
            "sp": self.sp,
            "pct": self.pct,
            "rua": self.rua,
            "ruf": self.ruf,
            "adkim": self.adkim,
            "aspf": self.aspf,
            "fo": self.fo,
            "ri": self.ri,
            "effective_policy": self.effective_policy,
            "valid": self.valid,
            "errors": self.errors,
            "warnings": self.warnings,
        }


def is_dmarc(txt: str) -> bool:
    """True for a TXT string that claims to be DMARC (``v=DMARC1`` first)."""
    return txt.lstrip().lower().replace(" ", "").startswith("v=dmarc1")


def select_dmarc(txts: list[str]) -> tuple[str | None, str | None]:
    """The DMARC record among TXT strings: ``(record, error)``; several records means no policy."""
    found = [t for t in txts if is_dmarc(t)]
    if not found:
        return None, None
    if len(found) > 1:
        return found[0], f"{len(found)} DMARC records (ignored by receivers)"
    return found[0], None


def _uris(value: str, tag: str, record: DmarcRecord) -> list[str]:
    uris = [u.strip() for u in value.split(",") if u.strip()]
    for uri in uris:
        if not uri.lower().startswith(_URI_SCHEMES):
            record.errors.append(f"{tag}: invalid URI {uri[:80]!r}")
    return uris


def _choice(value: str, tag: str, allowed: frozenset[str], record: DmarcRecord) -> str | None:
    lowered = value.lower()
    if lowered not in allowed:
        record.errors.append(f"{tag}: invalid value {value[:40]!r}")
        return None
    return lowered


def parse_dmarc(text: str) -> DmarcRecord:
    """Parse one DMARC record. Never raises."""
    record = DmarcRecord(raw=text)
    pairs, record.errors = parse_tag_list(text)
    if not pairs or pairs[0][0] != "v" or pairs[0][1].upper() != "DMARC1":
        record.errors.append("record must start with 'v=DMARC1'")
    elif pairs[0][1] != "DMARC1":
        record.warnings.append("version should be written 'DMARC1'")
    for name, value in pairs:
        if name in record.tags:
            record.errors.append(f"duplicate tag {name!r}")
            continue
        record.tags[name] = value
        if name not in _KNOWN:
            record.warnings.append(f"unknown tag {name!r}")
    tags = record.tags
    if "p" not in tags:
        record.errors.append("missing required tag 'p'")
    else:
        record.p = _choice(tags["p"], "p", _POLICIES, record)
    if "sp" in tags:
        record.sp = _choice(tags["sp"], "sp", _POLICIES, record)
    if "pct" in tags:
        try:
            record.pct = int(tags["pct"])
            if not 0 <= record.pct <= 100:
                raise ValueError
        except ValueError:
            record.errors.append(f"pct: must be an integer 0-100, got {tags['pct'][:20]!r}")
            record.pct = None
    record.rua = _uris(tags.get("rua", ""), "rua", record)
    record.ruf = _uris(tags.get("ruf", ""), "ruf", record)
    for align in ("adkim", "aspf"):
        if align in tags:
            setattr(record, align, _choice(tags[align], align, frozenset({"r", "s"}), record) or "r")
    if "fo" in tags:
        record.fo = [f.strip() for f in tags["fo"].split(":")]
        if any(f not in ("0", "1", "d", "s") for f in record.fo):
            record.errors.append(f"fo: invalid value {tags['fo'][:40]!r}")
    if "ri" in tags:
        try:
            record.ri = int(tags["ri"])
        except ValueError:
            record.errors.append(f"ri: must be an integer, got {tags['ri'][:20]!r}")
    return record
