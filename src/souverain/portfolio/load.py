"""Load a portfolio from YAML or CSV, collecting every problem with file, line and field."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from souverain.errors import PortfolioError
from souverain.portfolio.model import (
    DATA_CLASSES,
    KIND_ALIASES,
    KINDS,
    ROLES,
    SERVICE_ROLES,
    DeclaredService,
    Domain,
    Organisation,
    Territory,
)
from souverain.portfolio.validate import email_problem, normalise_domain, siren_problem, territory_problems
from souverain.yamlio import LINE, YamlProblem, read_yaml

__all__ = ["load_portfolio"]


def load_portfolio(path: Path) -> list[Organisation]:
    """Read and validate a portfolio file (``.yaml``/``.yml`` or ``.csv``)."""
    if not path.exists():
        raise PortfolioError([f"{path}: file not found"])
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        rows = _yaml_rows(path)
    elif suffix == ".csv":
        rows = _csv_rows(path)
    else:
        raise PortfolioError([f"{path}: unknown portfolio format '{suffix}' (use .yaml, .yml or .csv)"])
    builder = _Builder(path)
    orgs = [org for line, raw in rows if (org := builder.organisation(line, raw)) is not None]
    if builder.problems:
        raise PortfolioError(builder.problems)
    if not orgs:
        raise PortfolioError([f"{path}: no organisation found"])
    return orgs


def _yaml_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        doc = read_yaml(path)
    except YamlProblem as exc:
        raise PortfolioError([str(exc)]) from None
    if isinstance(doc, dict) and isinstance(doc.get("organisations"), list):
        items = doc["organisations"]
    elif isinstance(doc, list):
        items = doc
    else:
        raise PortfolioError([f"{path}: expected a mapping with an 'organisations' list"])
    rows: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise PortfolioError([f"{path}: organisations[{index}]: expected a mapping"])
        rows.append((int(item.get(LINE, 0)), item))
    return rows


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PortfolioError([f"{path}: not UTF-8 text"]) from None
    reader = csv.DictReader(text.splitlines())
    required = {"siren", "name", "kind", "domains"}
    missing = required - set(reader.fieldnames or [])
    if missing:
        raise PortfolioError([f"{path}:1: missing column(s): {', '.join(sorted(missing))}"])
    rows: list[tuple[int, dict[str, Any]]] = []
    for line, row in enumerate(reader, start=2):
        domains = []
        for item in filter(None, (part.strip() for part in (row.get("domains") or "").split(";"))):
            name, _, roles = item.partition(":")
            domains.append({"name": name, "roles": roles.split("+") if roles else ["web", "mail"]})
        contacts = [c.strip() for c in (row.get("contacts") or "").split(";") if c.strip()]
        rows.append(
            (
                line,
                {
                    "siren": row.get("siren"),
                    "name": row.get("name"),
                    "kind": row.get("kind"),
                    "territory": {k: row.get(k) or None for k in ("commune", "departement", "region")},
                    "domains": domains,
                    "contacts": contacts,
                },
            )
        )
    return rows


class _Builder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []
        self.sirens: dict[str, int] = {}

    def fail(self, line: int, field: str, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {field}: {message}")

    def organisation(self, line: int, raw: dict[str, Any]) -> Organisation | None:
        before = len(self.problems)
        siren = str(raw.get("siren") or "").strip()
        if (why := siren_problem(siren)) is not None:
            self.fail(line, "siren", f"'{siren}': {why}")
        elif siren in self.sirens:
            self.fail(line, "siren", f"'{siren}': duplicate of line {self.sirens[siren]}")
        else:
            self.sirens[siren] = line
        name = str(raw.get("name") or "").strip()
        if not name:
            self.fail(line, "name", "missing")
        kind = str(raw.get("kind") or "").strip().lower()
        kind = KIND_ALIASES.get(kind, kind)
        if kind not in KINDS:
            self.fail(line, "kind", f"'{raw.get('kind')}': unknown kind (expected one of {', '.join(KINDS)})")
        territory = self._territory(line, raw.get("territory") or {})
        domains = self._domains(line, raw.get("domains") or [])
        contacts = self._contacts(line, raw.get("contacts") or [])
        services = self._services(line, raw.get("services") or [])
        if len(self.problems) > before:
            return None
        return Organisation(siren, name, kind, territory, domains, contacts, services)

    def _territory(self, line: int, raw: Any) -> Territory:
        if not isinstance(raw, dict):
            self.fail(line, "territory", "expected a mapping with commune, departement, region")
            return Territory()
        values = {
            k: (str(raw[k]).strip().upper() if raw.get(k) not in (None, "") else None)
            for k in ("commune", "departement", "region")
        }
        for problem in territory_problems(values["commune"], values["departement"], values["region"]):
            self.problems.append(f"{self.path}:{line}: territory.{problem}")
        return Territory(values["commune"], values["departement"], values["region"])

    def _domains(self, line: int, raw: Any) -> tuple[Domain, ...]:
        if not isinstance(raw, list) or not raw:
            self.fail(line, "domains", "at least one domain is required")
            return ()
        seen: dict[str, Domain] = {}
        for item in raw:
            item_line = item.get(LINE, line) if isinstance(item, dict) else line
            name_raw = item.get("name") if isinstance(item, dict) else item
            roles_raw = item.get("roles", ["web", "mail"]) if isinstance(item, dict) else ["web", "mail"]
            try:
                name = normalise_domain(str(name_raw or ""))
            except ValueError as exc:
                self.fail(item_line, "domains", f"'{name_raw}': {exc}")
                continue
            roles = [str(r).strip().lower() for r in (roles_raw or [])]
            bad = [r for r in roles if r not in ROLES]
            if bad or not roles:
                self.fail(
                    item_line,
                    "domains",
                    f"'{name}': unknown role(s) {bad or roles} (expected {', '.join(ROLES)})",
                )
                continue
            if name in seen:
                self.fail(item_line, "domains", f"'{name}': listed twice for this organisation")
                continue
            seen[name] = Domain(name, frozenset(roles))
        return tuple(seen.values())

    def _contacts(self, line: int, raw: Any) -> tuple[str, ...]:
        if not isinstance(raw, list):
            self.fail(line, "contacts", "expected a list of e-mail addresses")
            return ()
        out: list[str] = []
        for address in raw:
            text = str(address).strip().lower()
            if (why := email_problem(text)) is not None:
                self.fail(line, "contacts", f"'{address}': {why}")
            else:
                local, _, domain = text.rpartition("@")
                out.append(f"{local}@{normalise_domain(domain)}")
        return tuple(out)

    def _services(self, line: int, raw: Any) -> tuple[DeclaredService, ...]:
        if not isinstance(raw, list):
            self.fail(line, "services", "expected a list")
            return ()
        out: list[DeclaredService] = []
        for item in raw:
            item_line = item.get(LINE, line) if isinstance(item, dict) else line
            if not isinstance(item, dict) or not str(item.get("name") or "").strip():
                self.fail(item_line, "services", "each service needs a name")
                continue
            classes = [str(c).strip().lower() for c in item.get("data_classes") or []]
            bad = [c for c in classes if c not in DATA_CLASSES]
            if bad:
                self.fail(
                    item_line,
                    "services.data_classes",
                    f"unknown data class(es) {bad} (expected {', '.join(DATA_CLASSES)})",
                )
                continue
            hosting = item.get("claimed_hosting")
            role = item.get("role")
            if role is not None and role not in SERVICE_ROLES:
                expected = ", ".join(SERVICE_ROLES)
                self.fail(item_line, "services.role", f"unknown role {role!r} (expected {expected})")
                continue
            domain = item.get("domain")
            if domain is not None:
                try:
                    domain = normalise_domain(str(domain))
                except ValueError as exc:
                    self.fail(item_line, "services.domain", str(exc))
                    continue
            out.append(
                DeclaredService(
                    str(item["name"]).strip(),
                    tuple(classes),
                    str(hosting).strip() if hosting else None,
                    role,
                    domain,
                )
            )
        return tuple(out)
