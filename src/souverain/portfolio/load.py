"""Load a portfolio from YAML or CSV, collecting every problem with file, line and field."""

from __future__ import annotations

import csv
import difflib
import io
import re
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

__all__ = ["CSV_COLUMNS", "ORGANISATION_KEYS", "SERVICE_KEYS", "load_portfolio"]

ORGANISATION_KEYS = ("siren", "name", "kind", "territory", "domains", "contacts", "services")
TERRITORY_KEYS = ("commune", "departement", "region")
DOMAIN_KEYS = ("name", "roles")
SERVICE_KEYS = ("name", "data_classes", "claimed_hosting", "role", "domain")
CSV_COLUMNS = ("siren", "name", "kind", "commune", "departement", "region", "domains", "contacts")
_CSV_REQUIRED = ("siren", "name", "kind", "domains")
_DEFAULT_ROLES = ("web", "mail")
_CELL_ITEMS = re.compile(r"[;,]")  # items of a domains or contacts cell
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # line breaks, tabs and other controls


def load_portfolio(path: Path) -> list[Organisation]:
    """Read and validate a portfolio file (``.yaml``/``.yml`` or ``.csv``)."""
    if not path.exists():
        raise PortfolioError([f"{path}: file not found"])
    if path.is_dir():
        raise PortfolioError([f"{path}: a folder, not a portfolio file (.yaml, .yml or .csv)"])
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        rows, first = _yaml_rows(path)
    elif suffix == ".csv":
        rows, first = _csv_rows(path)
    else:
        raise PortfolioError([f"{path}: unknown portfolio format '{suffix}' (use .yaml, .yml or .csv)"])
    builder = _Builder(path)
    builder.problems.extend(first)  # the file's own (an unknown key or column): the rows are checked too
    orgs = [org for line, raw in rows if (org := builder.organisation(line, raw)) is not None]
    if builder.problems:
        raise PortfolioError(builder.problems)
    if not orgs:
        raise PortfolioError([f"{path}: no organisation found"])
    return orgs


def _unknown_name(name: str, known: tuple[str, ...], what: str) -> str:
    """``unknown key (did you mean 'x'? known keys: …)``: the closest known name, then all of them."""
    close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown {what} ({hint}known {what}s: {', '.join(known)})"


def _quoted(text: str) -> str:
    """``'text'``, escaped when it holds a line break or another control character (one-line messages)."""
    return repr(text) if _CONTROL.search(text) else f"'{text}'"


def _shown(value: Any) -> str:
    """A value as the user wrote it, for a message (never a Python repr of a list or mapping)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return _quoted(str(value))


def _yaml_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """The organisations' mappings with their lines, and the problems of the document around them."""
    try:
        doc = read_yaml(path, text=True)  # every portfolio field is text: 01 stays '01', no stays 'no'
    except YamlProblem as exc:
        raise PortfolioError([str(exc)]) from None
    problems: list[str] = []
    if isinstance(doc, dict):
        problems += [
            f"{path}:{doc[LINE]}: {key}: {_unknown_name(str(key), ('organisations',), 'key')}"
            for key in doc
            if key != LINE and key != "organisations"
        ]
        items = doc.get("organisations")
    else:
        items = doc
    if not isinstance(items, list):
        raise PortfolioError(problems or [f"{path}: expected a mapping with an 'organisations' list"])
    rows: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            rows.append((int(item.get(LINE, 0)), item))
        else:
            problems.append(f"{path}: organisations[{index}]: expected a mapping, found {_shown(item)}")
    return rows, problems


def _csv_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """The rows with their physical lines, and the header's problems that leave the rows readable (an
    unknown column: its cells are ignored); a missing or repeated column stops here."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PortfolioError([f"{path}: not UTF-8 text"]) from None
    except OSError as exc:
        raise PortfolioError([f"{path}: cannot read ({exc.strerror or exc})"]) from None
    header_text = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=header_text.count)  # ',' unless the header uses ';' or tabs
    # strict: a quote never closed is an error, not a cell that swallows the rest of the file
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []  # (physical line where the record starts, cells)
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise PortfolioError(
                [f'{path}:{start}: invalid CSV: a quote (") opened in this record is never closed']
            ) from None
        raise PortfolioError([f"{path}:{reader.line_num}: invalid CSV: {exc}"]) from None
    if not records:
        raise PortfolioError([f"{path}: no organisation found (empty file)"])
    header_line, header = records[0]
    columns = [name.strip().lower() for name in header]
    problems: list[str] = []
    fatal: list[str] = []
    first_at: dict[str, int] = {}
    for position, name in enumerate(columns, start=1):
        if not name:
            continue
        if name not in CSV_COLUMNS:
            problems.append(
                f"{path}:{header_line}: column {_quoted(header[position - 1].strip())}: "
                + _unknown_name(name, CSV_COLUMNS, "column")
            )
        elif name in first_at:
            fatal.append(
                f"{path}:{header_line}: column '{name}': appears twice "
                f"(columns {first_at[name]} and {position})"
            )
        else:
            first_at[name] = position
    missing = [name for name in _CSV_REQUIRED if name not in first_at]
    if missing:
        fatal.append(f"{path}:{header_line}: missing column(s): {', '.join(sorted(missing))}")
    if fatal:  # which cell is which is not known: the rows cannot be read
        raise PortfolioError(problems + fatal)
    index = {name: position - 1 for name, position in first_at.items()}
    rows: list[tuple[int, dict[str, Any]]] = []
    for line, cells in records[1:]:
        stray = [
            f"{path}:{line}: column {position}: value {_quoted(cell.strip())} in a column without a header"
            for position, cell in enumerate(cells, start=1)
            if cell.strip() and (position > len(columns) or not columns[position - 1])
        ]
        if stray:
            problems.extend(stray)
            continue
        values = {name: cells[position].strip() for name, position in index.items() if position < len(cells)}
        domains = []
        for item in filter(None, (part.strip() for part in _CELL_ITEMS.split(values.get("domains", "")))):
            if "/" in item:  # a URL (https://…/path): the whole item is the (bad) name, not name:roles
                name, roles = item, ""
            else:
                name, _, roles = item.partition(":")
            role_list = [role.strip() for role in roles.split("+")] if roles.strip() else None
            domains.append({"name": name.strip(), "roles": role_list})
        contacts = [c.strip() for c in _CELL_ITEMS.split(values.get("contacts", "")) if c.strip()]
        rows.append(
            (
                line,
                {
                    "siren": values.get("siren"),
                    "name": values.get("name"),
                    "kind": values.get("kind"),
                    "territory": {k: values.get(k) for k in TERRITORY_KEYS},
                    "domains": domains,
                    "contacts": contacts,
                },
            )
        )
    return rows, problems


class _Builder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []
        self.sirens: dict[str, int] = {}
        self.domain_names: set[str] = set()  # every well-formed name of the current organisation

    def fail(self, line: int, field: str, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {field}: {message}")

    def unknown_keys(self, line: int, raw: dict[Any, Any], known: tuple[str, ...], prefix: str = "") -> None:
        for key in raw:
            if key not in known and key != LINE:
                self.fail(line, f"{prefix}{key}", _unknown_name(str(key), known, "key"))

    def text(self, line: int, field: str, value: Any) -> str | None:
        """A text field, stripped ('' when absent or empty); None when a list or a mapping (reported)."""
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            self.fail(line, field, f"expected a single value, found {_shown(value)}")
            return None
        text = str(value).strip()
        if _CONTROL.search(text):
            self.fail(
                line, field, f"{_quoted(text)}: contains a line break, a tab or another control character"
            )
            return None
        return text

    def items(self, line: int, field: str, value: Any, what: str) -> list[Any] | None:
        """A list field ([] when absent); None when it is something else (reported).

        A single value is not taken as a one-item list: one item is written ``[web]`` or ``- web``."""
        if value is None:
            return []
        if isinstance(value, list):
            return value
        single = "the single value " if not isinstance(value, dict) else ""
        self.fail(line, field, f"expected a list of {what}, found {single}{_shown(value)}")
        return None

    def organisation(self, line: int, raw: dict[str, Any]) -> Organisation | None:
        before = len(self.problems)
        self.unknown_keys(line, raw, ORGANISATION_KEYS)
        siren = self.text(line, "siren", raw.get("siren"))
        if siren is not None:
            if (why := siren_problem(siren)) is not None:
                self.fail(line, "siren", f"'{siren}': {why}" if siren else "missing")
            elif siren in self.sirens:
                self.fail(line, "siren", f"'{siren}': duplicate of line {self.sirens[siren]}")
            else:
                self.sirens[siren] = line
        name = self.text(line, "name", raw.get("name"))
        if name == "":
            self.fail(line, "name", "missing")
        kind_text = self.text(line, "kind", raw.get("kind"))
        kind = KIND_ALIASES.get((kind_text or "").lower(), (kind_text or "").lower())
        if kind_text is not None and kind not in KINDS:
            what = f"'{kind_text}': unknown kind" if kind_text else "missing"
            self.fail(line, "kind", f"{what} (expected one of {', '.join(KINDS)})")
        territory = self._territory(line, raw.get("territory"))
        domains = self._domains(line, raw.get("domains"))
        contacts = self._contacts(line, raw.get("contacts"))
        services = self._services(line, raw.get("services"), domains)
        if len(self.problems) > before or siren is None or name is None:
            return None
        return Organisation(siren, name, kind, territory, domains, contacts, services)

    def _territory(self, line: int, raw: Any) -> Territory:
        if raw is None:
            return Territory()
        if not isinstance(raw, dict):
            expected = f"expected a mapping with {', '.join(TERRITORY_KEYS)}"
            self.fail(line, "territory", f"{expected}, found {_shown(raw)}")
            return Territory()
        self.unknown_keys(line, raw, TERRITORY_KEYS, "territory.")
        codes: list[str | None] = []
        for key in TERRITORY_KEYS:
            code = self.text(line, f"territory.{key}", raw.get(key))
            if code is None:
                return Territory()
            codes.append(code.upper() or None)
        commune, departement, region = codes
        for problem in territory_problems(commune, departement, region):
            self.problems.append(f"{self.path}:{line}: territory.{problem}")
        return Territory(commune, departement, region)

    def _domains(self, line: int, raw: Any) -> tuple[Domain, ...]:
        items = self.items(line, "domains", raw, "domains")
        if items is None:
            return ()
        if not items:
            self.fail(line, "domains", "at least one domain is required")
            return ()
        seen: dict[str, Domain] = {}
        self.domain_names = set()
        for item in items:
            if isinstance(item, dict):
                item_line = int(item.get(LINE, line))
                self.unknown_keys(item_line, item, DOMAIN_KEYS, "domains.")
                name_raw = self.text(item_line, "domains.name", item.get("name"))
                roles_raw = item.get("roles")
            elif isinstance(item, list):
                self.fail(
                    line, "domains", "expected a domain name or a mapping with name and roles, found a list"
                )
                continue
            else:
                item_line, name_raw, roles_raw = line, self.text(line, "domains", item), None
            if name_raw is None:
                continue
            try:
                name = normalise_domain(name_raw)
            except ValueError as exc:
                self.fail(item_line, "domains", f"'{name_raw}': {exc}")
                continue
            self.domain_names.add(name)
            role_items = self.items(item_line, "domains.roles", roles_raw, f"roles ({', '.join(ROLES)})")
            if role_items is None:
                continue
            role_texts = [
                self.text(item_line, "domains.roles", role)
                for role in (role_items if roles_raw is not None else _DEFAULT_ROLES)
            ]
            if None in role_texts:
                continue
            roles = [role.lower() for role in role_texts if role is not None]
            bad = [role for role in roles if role not in ROLES]
            if bad or not roles:
                unknown = ", ".join(f"'{role}'" for role in bad)
                what = f"unknown role(s) {unknown}" if bad else "empty role list"
                self.fail(item_line, "domains", f"'{name}': {what} (expected {', '.join(ROLES)})")
                continue
            if name in seen:
                self.fail(item_line, "domains", f"'{name}': listed twice for this organisation")
                continue
            seen[name] = Domain(name, frozenset(roles))
        return tuple(seen.values())

    def _contacts(self, line: int, raw: Any) -> tuple[str, ...]:
        items = self.items(line, "contacts", raw, "e-mail addresses")
        out: list[str] = []
        for address in items or ():
            text = self.text(line, "contacts", address)
            if not text:
                continue
            if (why := email_problem(text)) is not None:
                self.fail(line, "contacts", f"'{text}': {why}")
            else:
                local, _, domain = text.lower().partition("@")
                out.append(f"{local}@{normalise_domain(domain)}")
        return tuple(out)

    def _services(self, line: int, raw: Any, domains: tuple[Domain, ...]) -> tuple[DeclaredService, ...]:
        items = self.items(line, "services", raw, "services")
        out: list[DeclaredService] = []
        for item in items or ():
            if not isinstance(item, dict):
                self.fail(line, "services", f"expected a mapping with a name, found {_shown(item)}")
                continue
            item_line = int(item.get(LINE, line))
            before = len(self.problems)
            self.unknown_keys(item_line, item, SERVICE_KEYS, "services.")
            name = self.text(item_line, "services.name", item.get("name"))
            if name == "":
                self.fail(item_line, "services.name", "missing (each service needs a name)")
            label = f"service '{name}'" if name else "service"
            class_items = self.items(
                item_line, "services.data_classes", item.get("data_classes"), "data classes"
            )
            class_texts = [self.text(item_line, "services.data_classes", c) for c in class_items or ()]
            classes = [c.lower() for c in class_texts if c]
            bad = [c for c in classes if c not in DATA_CLASSES]
            if bad:
                unknown = ", ".join(f"'{c}'" for c in bad)
                expected = ", ".join(DATA_CLASSES)
                self.fail(
                    item_line,
                    "services.data_classes",
                    f"{label}: unknown data class(es) {unknown} (expected {expected})",
                )
            hosting = self.text(item_line, "services.claimed_hosting", item.get("claimed_hosting"))
            role = self.text(item_line, "services.role", item.get("role"))
            if role and role.lower() not in SERVICE_ROLES:
                expected = ", ".join(SERVICE_ROLES)
                self.fail(item_line, "services.role", f"{label}: unknown role '{role}' (expected {expected})")
            domain_text = self.text(item_line, "services.domain", item.get("domain"))
            domain = None
            if domain_text:
                try:
                    domain = normalise_domain(domain_text)
                except ValueError as exc:
                    self.fail(item_line, "services.domain", f"{label}: '{domain_text}': {exc}")
                else:
                    listed = [d.name for d in domains]
                    if self.domain_names and domain not in self.domain_names:
                        self.fail(
                            item_line,
                            "services.domain",
                            f"{label}: '{domain_text}' is not one of this organisation's domains "
                            f"({', '.join(listed)})",
                        )
            if len(self.problems) > before or name is None:
                continue
            out.append(
                DeclaredService(name, tuple(classes), hosting or None, role.lower() if role else None, domain)
            )
        return tuple(out)
