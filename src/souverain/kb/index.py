"""Fast lookups over the KB's signatures: host patterns by label suffix, ASNs, prefixes, headers, issuers."""

from __future__ import annotations

from collections import defaultdict

from souverain.kb.load import KB
from souverain.kb.model import HOST_KINDS, Signature
from souverain.kb.networks import NetworkHit, PrefixTable

__all__ = ["SignatureIndex"]


class SignatureIndex:
    """Built once per KB; every lookup is a few dict probes."""

    def __init__(self, kb: KB) -> None:
        self.kb = kb
        self._exact: dict[str, dict[str, list[Signature]]] = {k: defaultdict(list) for k in HOST_KINDS}
        self._suffix: dict[str, dict[str, list[Signature]]] = {k: defaultdict(list) for k in HOST_KINDS}
        self.asn: dict[int, Signature] = {}
        self.prefixes = PrefixTable()
        self._prefix_sig: dict[str, Signature] = {}
        self.headers: dict[str, list[tuple[str, Signature]]] = defaultdict(list)
        self.issuers: dict[str, Signature] = {}
        self.txt: list[tuple[str, Signature]] = []
        for s in kb.signatures:
            if s.kind in HOST_KINDS:
                if s.value.startswith("*."):
                    self._suffix[s.kind][s.value[2:]].append(s)
                else:
                    self._exact[s.kind][s.value].append(s)
            elif s.kind == "asn":
                self.asn.setdefault(int(s.value), s)
            elif s.kind == "prefix":
                self.prefixes.add(s.value, NetworkHit(s.value, "kb", entity=s.entity))
                self._prefix_sig[s.value] = s
            elif s.kind == "header":
                name, _, prefix = s.value.partition(":")
                self.headers[name].append((prefix, s))
            elif s.kind == "issuer":
                self.issuers.setdefault(s.value.casefold(), s)
            elif s.kind == "txt":
                self.txt.append((s.value, s))
        self._host_cache: dict[tuple[str, str], tuple[Signature, ...]] = {}

    def host(self, kind: str, name: str) -> tuple[Signature, ...]:
        """Signatures of ``kind`` matching host ``name`` (exact first, then the longest ``*.suffix``)."""
        key = (kind, name)
        cached = self._host_cache.get(key)
        if cached is not None:
            return cached
        name = name.lower().rstrip(".")
        found: tuple[Signature, ...] = tuple(self._exact[kind].get(name, ()))
        if not found:
            suffixes = self._suffix[kind]
            rest = name
            while "." in rest:
                rest = rest.split(".", 1)[1]
                sigs = suffixes.get(rest)
                if sigs:
                    found = tuple(sigs)
                    break
        if len(self._host_cache) > 200_000:
            self._host_cache.clear()
        self._host_cache[key] = found
        return found

    def prefix_signature(self, prefix: str) -> Signature | None:
        return self._prefix_sig.get(prefix)

    def header(self, name: str, value: str) -> Signature | None:
        for prefix, sig in self.headers.get(name.lower(), ()):
            if not prefix or value.lower().startswith(prefix):
                return sig
        return None

    def issuer(self, organisation: str) -> Signature | None:
        return self.issuers.get(organisation.casefold())

    def txt_token(self, record: str) -> Signature | None:
        for prefix, sig in self.txt:
            if record.startswith(prefix):
                return sig
        return None
