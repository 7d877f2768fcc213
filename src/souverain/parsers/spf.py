"""SPF records (RFC 7208): terms, qualifiers, modifiers and the DNS-lookup counting rules.

The include/redirect recursion is done by the mail probe; this module parses one record and says which of
its terms cost a DNS lookup (§4.6.4: include, a, mx, ptr, exists and redirect, at most 10 in total; at most
2 "void" lookups — answers with no record or NXDOMAIN).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LOOKUP_MECHANISMS",
    "MAX_DNS_LOOKUPS",
    "MAX_VOID_LOOKUPS",
    "SpfRecord",
    "SpfTerm",
    "is_spf",
    "parse_spf",
    "select_spf",
]

MAX_DNS_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
_QUALIFIERS = "+-~?"
_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9\-_.]*)=(.*)$", re.S)
_MACRO = re.compile(r"%(?:\{[slodiphcrtvSLODIPHCRTV]\d*r?[.\-+,/_=]*\}|%|_|-)")
_CIDR = re.compile(r"^(.*?)(?:/(\d{1,3}))?(?://(\d{1,3}))?$", re.S)


@dataclass(slots=True)
class SpfTerm:
    """One directive (qualifier + mechanism) or modifier, kept verbatim."""

    raw: str
    kind: str  # "mechanism" | "modifier"
    name: str
    qualifier: str | None = None
    value: str | None = None
    cidr4: int | None = None
    cidr6: int | None = None
    has_macro: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "raw": self.raw}
        for key in ("qualifier", "value", "cidr4", "cidr6"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.has_macro:
            out["has_macro"] = True
        return out


@dataclass(slots=True)
class SpfRecord:
    """A parsed SPF record. ``errors`` are permanent errors (RFC 7208 permerror)."""

    raw: str
    terms: list[SpfTerm] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    redirect: str | None = None
    exp: str | None = None
    unknown_modifiers: list[str] = field(default_factory=list)

    @property
    def mechanisms(self) -> list[SpfTerm]:
        return [t for t in self.terms if t.kind == "mechanism"]

    @property
    def all_qualifier(self) -> str | None:
        """Qualifier of the ``all`` mechanism, if present (``+all`` lets anyone send)."""
        return next((t.qualifier for t in self.mechanisms if t.name == "all"), None)

    @property
    def redirect_used(self) -> bool:
        """``redirect=`` is ignored when the record has an ``all`` mechanism (§6.1)."""
        return self.redirect is not None and self.all_qualifier is None

    @property
    def includes(self) -> list[str]:
        return [t.value for t in self.mechanisms if t.name == "include" and t.value]

    @property
    def lookup_terms(self) -> int:
        """DNS-lookup terms of this record alone (includes counted once, not their contents)."""
        count = sum(1 for t in self.mechanisms if t.name in LOOKUP_MECHANISMS)
        return count + (1 if self.redirect_used else 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "terms": [t.to_dict() for t in self.terms],
            "all": self.all_qualifier,
            "redirect": self.redirect,
            "redirect_used": self.redirect_used,
            "exp": self.exp,
            "lookup_terms": self.lookup_terms,
            "unknown_modifiers": self.unknown_modifiers,
            "errors": self.errors,
        }


def is_spf(txt: str) -> bool:
    """True for a TXT string that is an SPF version 1 record."""
    head = txt[:7].lower()
    return head == "v=spf1" if len(txt) == 6 else head == "v=spf1 "


def select_spf(txts: list[str]) -> tuple[str | None, str | None]:
    """The SPF record among a name's TXT strings: ``(record, error)``; several records is an error."""
    found = [t for t in txts if is_spf(t)]
    if not found:
        return None, None
    if len(found) > 1:
        return found[0], f"{len(found)} SPF records (permerror)"
    return found[0], None


def _check_domain_spec(value: str, term: SpfTerm, errors: list[str]) -> None:
    stripped = _MACRO.sub("", value)
    term.has_macro = stripped != value
    if "%" in stripped:
        errors.append(f"invalid macro in {term.raw!r}")
    if not value or any(c.isspace() for c in value) or (not term.has_macro and "." not in value.strip(".")):
        errors.append(f"invalid domain in {term.raw!r}")


def _parse_mechanism(word: str, errors: list[str]) -> SpfTerm:
    qualifier = "+"
    body = word
    if body[0] in _QUALIFIERS:
        qualifier, body = body[0], body[1:]
    name, sep, arg = body.partition(":")
    lname = name.lower()
    cidr4 = cidr6 = None
    if lname in ("a", "mx") or (not sep and "/" in name):
        name_only, _, _ = name.partition("/")
        if name_only.lower() in ("a", "mx"):
            lname = name_only.lower()
            match = _CIDR.match(body[len(name_only) :] if not sep else arg)
            if match:
                arg_text = match.group(1)
                cidr4 = int(match.group(2)) if match.group(2) else None
                cidr6 = int(match.group(3)) if match.group(3) else None
                arg = arg_text if sep else ""
    term = SpfTerm(raw=word, kind="mechanism", name=lname, qualifier=qualifier)
    if lname not in MECHANISMS:
        errors.append(f"unknown mechanism {word!r}")
        return term
    if (cidr4 is not None and cidr4 > 32) or (cidr6 is not None and cidr6 > 128):
        errors.append(f"invalid CIDR length in {word!r}")
    term.cidr4, term.cidr6 = cidr4, cidr6
    if lname == "all":
        if sep:
            errors.append(f"'all' takes no argument: {word!r}")
    elif lname in ("ip4", "ip6"):
        term.value = arg
        try:
            net = ipaddress.ip_network(arg, strict=False)
            if (lname == "ip4") != (net.version == 4):
                raise ValueError(arg)
        except ValueError:
            errors.append(f"invalid address in {word!r}")
    elif lname in ("include", "exists"):
        term.value = arg
        if not sep:
            errors.append(f"'{lname}' needs a domain: {word!r}")
        else:
            _check_domain_spec(arg, term, errors)
    elif sep:  # a, mx, ptr with a domain
        term.value = arg
        _check_domain_spec(arg, term, errors)
    return term


def parse_spf(text: str) -> SpfRecord:
    """Parse one SPF record. Never raises; problems land in ``errors``."""
    record = SpfRecord(raw=text)
    words = text.split()
    if not words or words[0].lower() != "v=spf1":
        record.errors.append("not an SPF record (must start with 'v=spf1')")
        return record
    for word in words[1:]:
        modifier = _MODIFIER.match(word)
        if modifier and not any(word[: len(m) + 1].lower() == m + ":" for m in MECHANISMS):
            name, value = modifier.group(1).lower(), modifier.group(2)
            term = SpfTerm(raw=word, kind="modifier", name=name, value=value)
            record.terms.append(term)
            if name in ("redirect", "exp"):
                if getattr(record, name) is not None:
                    record.errors.append(f"duplicate '{name}=' modifier")
                    continue
                setattr(record, name, value)
                _check_domain_spec(value, term, record.errors)
            else:
                record.unknown_modifiers.append(name)
            continue
        record.terms.append(_parse_mechanism(word, record.errors))
    return record
