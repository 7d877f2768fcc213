"""SPF evaluation tree: include/redirect recursion (loop-safe, bounded) and RFC 7208 §4.6.4 counting."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from souverain.evidence import Status
from souverain.net import Net
from souverain.parsers.spf import MAX_DNS_LOOKUPS, MAX_VOID_LOOKUPS, parse_spf, select_spf

__all__ = ["effective_all", "spf_evidence"]

MAX_NODES = 40
MAX_DEPTH = 10


class _Walk:
    """Counters shared by the whole tree of one domain's SPF record."""

    def __init__(self, net: Net) -> None:
        self.net = net
        self.lookups = 0
        self.voids = 0
        self.nodes = 0
        self.problems: list[str] = []

    def _known_void(self, name: str, mechanism: str) -> bool | None:
        """:meth:`_void_check` from answers already cached, without side effects; ``None`` if unknown."""
        if mechanism == "mx":
            return None  # counts a problem too: always the full check
        if mechanism == "exists":
            answer = self.net.dns.peek(name, "A")
            return None if answer is None else answer.status is Status.NOT_FOUND or answer.nodata
        known = self.net.cached_addresses(name)
        return None if known is None else not known

    async def _void_check(self, name: str, mechanism: str) -> bool:
        """Whether the lookup made by an ``a``/``mx``/``exists`` term is void (NXDOMAIN or no data)."""
        if mechanism == "mx":
            answer = await self.net.dns.query(name, "MX")
            if len(answer.rrs) > 10:
                self.problems.append(f"mx:{name} has more than 10 MX records")
            return answer.status is Status.NOT_FOUND or answer.nodata
        if mechanism == "exists":
            answer = await self.net.dns.query(name, "A")
            return answer.status is Status.NOT_FOUND or answer.nodata
        return not await self.net.addresses(name)

    async def node(self, domain: str, via: str, path: tuple[str, ...]) -> dict[str, Any]:
        self.nodes += 1
        node: dict[str, Any] = {"domain": domain, "via": via}
        answer = await self.net.dns.query(domain, "TXT")
        node["dns_status"] = str(answer.status)
        if via != "root" and (answer.status is Status.NOT_FOUND or answer.nodata):
            self.voids += 1
        raw, multiple = select_spf(answer.rrs) if answer.status is Status.OK else (None, None)
        if raw is None:
            node["error"] = answer.error or "no SPF record"
            if via != "root":
                self.problems.append(f"{via}:{domain}: {node['error']}")
            return node
        record = parse_spf(raw)
        self.lookups += record.lookup_terms
        node["record"] = raw
        node["all"] = record.all_qualifier
        node["lookup_terms"] = record.lookup_terms
        errors = list(record.errors) + ([multiple] if multiple else [])
        if errors:
            node["errors"] = errors
            self.problems.extend(f"{domain}: {e}" for e in errors)
        checks = [
            (t.value or domain, t.name)
            for t in record.mechanisms
            if t.name in ("a", "mx", "exists") and not t.has_macro and (t.value or t.name != "exists")
        ]
        if checks:
            voids = [self._known_void(n, m) for n, m in checks]  # mostly answered already (cache)
            if None in voids:
                voids = list(await asyncio.gather(*(self._void_check(n, m) for n, m in checks)))
            self.voids += sum(bool(v) for v in voids)
        if any(t.name == "ptr" for t in record.mechanisms):
            node["uses_ptr"] = True
        children = [("include", t.value) for t in record.mechanisms if t.name == "include" and t.value]
        if record.redirect_used and record.redirect:
            children.append(("redirect", record.redirect))
        tasks: list[Coroutine[Any, Any, dict[str, Any]]] = []
        for kind, target in children:
            target = target.rstrip(".").lower()
            if "%" in target:
                node.setdefault("not_followed", []).append({"via": kind, "domain": target, "why": "macro"})
            elif target in path or target == domain:
                self.problems.append(f"{kind} loop: {' -> '.join((*path, domain, target))}")
                node.setdefault("not_followed", []).append({"via": kind, "domain": target, "why": "loop"})
            elif len(path) >= MAX_DEPTH or self.nodes + len(tasks) >= MAX_NODES:
                node.setdefault("not_followed", []).append({"via": kind, "domain": target, "why": "limit"})
            else:
                tasks.append(self.node(target, kind, (*path, domain)))
        if tasks:
            node["children"] = list(await asyncio.gather(*tasks))
        return node


def effective_all(tree: dict[str, Any]) -> tuple[str | None, str | None]:
    """The ``all`` qualifier that ends the evaluation of a record: its own, or — with a used ``redirect=`` and
    no ``all`` — the one of the record it redirects to (RFC 7208 §6.1), followed down the tree; with the
    domain that carries it when a redirect led there."""
    node: dict[str, Any] | None = tree
    qualifier, via = tree.get("all"), None
    while qualifier is None and node is not None:
        node = next((n for n in node.get("children") or [] if n.get("via") == "redirect"), None)
        if node is not None:
            qualifier, via = node.get("all"), node.get("domain")
    return qualifier, via


async def spf_evidence(net: Net, domain: str) -> tuple[Status, dict[str, Any], str | None]:
    """(status, data, error) of the ``spf`` evidence for ``domain``."""
    walk = _Walk(net)
    tree = await walk.node(domain, "root", ())
    if "record" not in tree:
        status = Status(tree["dns_status"])
        if status is Status.OK:
            status = Status.NOT_FOUND
        return status, {"record": None, "tree": tree}, tree.get("error")
    effective, via = effective_all(tree)
    data = {
        "record": tree["record"],
        "all": tree.get("all"),
        "all_effective": effective,
        "all_from": via,
        "dns_lookups": walk.lookups,
        "void_lookups": walk.voids,
        "lookups_exceeded": walk.lookups > MAX_DNS_LOOKUPS,
        "void_lookups_exceeded": walk.voids > MAX_VOID_LOOKUPS,
        "permerror": walk.lookups > MAX_DNS_LOOKUPS or walk.voids > MAX_VOID_LOOKUPS or bool(walk.problems),
        "problems": walk.problems,
        "tree": tree,
    }
    return Status.OK, data, None
