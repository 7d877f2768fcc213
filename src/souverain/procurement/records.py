"""Streaming readers for the nested DECP formats (2019 and 2022, JSON and XML) and the step that turns one
published contract into staged rows: its current state (modifications applied in order) × its suppliers.

The JSON reader never loads a whole file: it walks the top-level structure (``{"marches": [...]}`` in 2019,
``{"marches": {"marche": [...], "contrat-concession": [...]}}`` in 2022, a bare array, or JSON Lines) and
decodes one contract at a time. The XML reader is an expat parser that builds one ``<marche>`` or
``<contrat-concession>`` element at a time.
"""

from __future__ import annotations

import json
import xml.parsers.expat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from souverain.errors import InputError

__all__ = ["Record", "iter_json", "iter_xml", "stage_record"]

_CHUNK = 1 << 20
_CONTRACT_TAGS = {"marche": "marche", "contrat-concession": "concession"}


@dataclass(slots=True)
class Record:
    """One published contract as decoded from the file."""

    data: dict[str, Any]
    kind: str
    """marche or concession."""
    number: int
    """1-based position among the file's contracts."""
    line: int


class _Text:
    """A growing window on a text file for incremental JSON decoding, with line accounting."""

    def __init__(self, fh: IO[str], path: Path) -> None:
        self.fh, self.path = fh, path
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line_base = 1
        self.decoder = json.JSONDecoder()

    def fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.fh.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        if self.pos > _CHUNK:
            self.line_base += self.buf.count("\n", 0, self.pos)
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += chunk
        return True

    @property
    def line(self) -> int:
        return self.line_base + self.buf.count("\n", 0, self.pos)

    def peek(self) -> str:
        """Next non-blank character ('' at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n\ufeff":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def expect(self, char: str) -> None:
        found = self.peek()
        if found != char:
            what = repr(found) if found else "the end of the file"
            raise InputError(f"{self.path}:{self.line}: invalid JSON: expected {char!r}, found {what}")
        self.pos += 1

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # Incomplete value at the end of the window: read more (bounded), then retry.
                if len(self.buf) - self.pos < 64 * _CHUNK and self.fill():
                    continue
                line = self.line_base + self.buf.count("\n", 0, exc.pos)
                raise InputError(f"{self.path}:{line}: invalid JSON: {exc.msg}") from None
            self.pos = end
            return value


def _array(text: _Text, kind: Callable[[dict[str, Any]], str], counter: list[int]) -> Iterator[Record]:
    text.expect("[")
    if text.peek() == "]":
        text.pos += 1
        return
    while True:
        line = text.line
        item = text.value()
        counter[0] += 1
        if isinstance(item, dict):
            yield Record(item, kind(item), counter[0], line)
        else:
            yield Record({"__invalid__": type(item).__name__}, "marche", counter[0], line)
        sep = text.peek()
        text.pos += 1
        if sep == "]":
            return
        if sep != ",":
            raise InputError(
                f"{text.path}:{text.line}: invalid JSON: expected ',' or ']' in the list of contracts"
            )


def _kind_2019(item: dict[str, Any]) -> str:
    kind = str(item.get("_type") or "")
    return "concession" if "concession" in kind.lower() or "autoriteConcedante" in item else "marche"


def _constant_kind(kind: str) -> Callable[[dict[str, Any]], str]:
    return lambda _item: kind


def iter_json(path: Path) -> Iterator[Record]:
    """Contracts of a DECP JSON file, one at a time."""
    counter = [0]
    try:
        fh = path.open(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with fh:
        text = _Text(fh, path)
        first = text.peek()
        if first == "[":
            yield from _array(text, _kind_2019, counter)
            return
        if first != "{":
            raise InputError(f"{path}:{text.line}: not DECP JSON (expected an object or an array)")
        start = text.pos
        text.pos += 1
        key = text.value() if text.peek() == '"' else None
        if key != "marches" and key in ("id", "uid", "acheteur", "objet"):
            text.pos = start  # JSON Lines: one contract object per line
            while text.peek():
                line = text.line
                item = text.value()
                counter[0] += 1
                yield Record(
                    item if isinstance(item, dict) else {},
                    _kind_2019(item) if isinstance(item, dict) else "marche",
                    counter[0],
                    line,
                )
            return
        text.pos = start + 1
        found = False
        while text.peek() != "}":
            key = text.value()
            text.expect(":")
            if key == "marches":
                found = True
                if text.peek() == "[":
                    yield from _array(text, _kind_2019, counter)
                else:
                    text.expect("{")
                    while text.peek() != "}":
                        inner = text.value()
                        text.expect(":")
                        if inner in _CONTRACT_TAGS and text.peek() == "[":
                            yield from _array(text, _constant_kind(_CONTRACT_TAGS[inner]), counter)
                        else:
                            text.value()
                        if text.peek() == ",":
                            text.pos += 1
                    text.pos += 1
            else:
                text.value()
            if text.peek() == ",":
                text.pos += 1
        if not found:
            raise InputError(f"{path}: not DECP JSON: no 'marches' key")


class _XmlBuilder:
    """Builds a dict for each child element of the root; repeated tags become lists."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.stack: list[tuple[str, dict[str, Any], list[str]]] = []
        self.done: list[Record] = []
        self.count = 0
        self.start_line = 0
        self.root: str | None = None

    def start(self, tag: str, _attrs: dict[str, str]) -> None:
        if self.root is None:
            self.root = tag
            return
        if not self.stack:
            self.start_line = self.parser.CurrentLineNumber
        self.stack.append((tag, {}, []))

    def end(self, tag: str) -> None:
        if not self.stack:
            return
        name, children, text = self.stack.pop()
        value: Any = children if children else "".join(text).strip()
        if not self.stack:
            self.count += 1
            kind = _CONTRACT_TAGS.get(name, "marche")
            self.done.append(
                Record(value if isinstance(value, dict) else {}, kind, self.count, self.start_line)
            )
            return
        parent = self.stack[-1][1]
        if name in parent:
            if not isinstance(parent[name], list):
                parent[name] = [parent[name]]
            parent[name].append(value)
        else:
            parent[name] = value

    def text(self, data: str) -> None:
        if self.stack:
            self.stack[-1][2].append(data)


def iter_xml(path: Path) -> Iterator[Record]:
    """Contracts of a DECP XML file (``<marches><marche>…</marche>…</marches>``), one at a time."""
    parser = xml.parsers.expat.ParserCreate()
    builder = _XmlBuilder(parser)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.text
    parser.buffer_text = True
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with fh:
        while True:
            chunk = fh.read(_CHUNK)
            try:
                parser.Parse(chunk, not chunk)
            except xml.parsers.expat.ExpatError as exc:
                raise InputError(
                    f"{path}:{exc.lineno}: invalid XML: {xml.parsers.expat.ErrorString(exc.code)}"
                ) from None
            yield from builder.done
            builder.done.clear()
            if not chunk:
                break
    if builder.root != "marches":
        raise InputError(f"{path}: not DECP XML: the root element is <{builder.root}>, expected <marches>")


# -- one contract → staged rows ---------------------------------------------------------------------------
def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value).strip()


def _items(value: Any, wrapper: str) -> list[Any]:
    """A list published as ``[x, …]``, ``{"wrapper": x}``, ``{"wrapper": [x, …]}`` or
    ``[{"wrapper": x}, …]``."""
    if isinstance(value, dict) and set(value) <= {wrapper}:
        value = value.get(wrapper)
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        value = [value]
    return [v[wrapper] if isinstance(v, dict) and set(v) == {wrapper} else v for v in value]


def _joined(value: Any, wrapper: str) -> str | None:
    parts = [t for v in _items(value, wrapper) if (t := _text(v))]
    return ";".join(parts) if parts else _text(value)


def _suppliers(value: Any, wrapper: str) -> list[tuple[str | None, str | None, str | None]]:
    out = []
    for item in _items(value, wrapper):
        if isinstance(item, dict):
            out.append(
                (
                    _text(item.get("typeIdentifiant")),
                    _text(item.get("id")),
                    _text(item.get("denominationSociale")),
                )
            )
    return out


Issue = tuple[str, str, str, str | None, str]
"""(reason, action, field, value, detail) for the staging report."""


def stage_record(rec: Record) -> tuple[list[tuple[Any, ...]], list[Issue]]:
    """Staged rows (without file_id, record_no, location) and the problems found in the record."""
    d = rec.data
    issues: list[Issue] = []
    concession = rec.kind == "concession"
    buyer = d.get("autoriteConcedante" if concession else "acheteur") or d.get("acheteur") or {}
    if not isinstance(buyer, dict):
        buyer = {"id": buyer}
    wrapper = "concessionnaire" if concession else "titulaire"
    suppliers = _suppliers(d.get("concessionnaires" if concession else "titulaires"), wrapper)
    amount = _text(d.get("valeurGlobale" if concession else "montant"))
    duration = _text(d.get("dureeMois"))
    notified = _text(d.get("dateSignature" if concession else "dateNotification"))
    mods = []
    for i, m in enumerate(_items(d.get("modifications"), "modification")):
        if isinstance(m, dict):
            mods.append((i, m))

    def order(item: tuple[int, dict[str, Any]]) -> tuple[int, str, int]:
        i, m = item
        num = _text(m.get("id"))
        date = _text(m.get("dateSignatureModification" if concession else "dateNotificationModification"))
        return (int(num) if num and num.isdigit() else 10**9, date or "", i)

    applied = 0
    for i, m in sorted(mods, key=order):
        field = f"modifications[{i}]"
        date_key = "dateSignatureModification" if concession else "dateNotificationModification"
        date = _text(m.get(date_key))
        if not date:
            issues.append(
                (
                    "bad-date",
                    "flagged",
                    f"{field}.{date_key}",
                    None,
                    "modification without a date (applied in order)",
                )
            )
        elif notified and date[:10] < notified[:10]:
            issues.append(
                (
                    "bad-date",
                    "flagged",
                    f"{field}.{date_key}",
                    date,
                    f"modification notified before the contract ({notified[:10]}); applied in order",
                )
            )
        new_amount = _text(m.get("valeurGlobale" if concession else "montant"))
        if new_amount:
            amount = new_amount
        if new_duration := _text(m.get("dureeMois")):
            duration = new_duration
        new_suppliers = _suppliers(m.get("titulaires"), "titulaire")
        if new_suppliers:
            suppliers = new_suppliers
        applied += 1
    if "__invalid__" in d:
        issues.append(
            (
                "missing-field",
                "rejected",
                "record",
                None,
                f"a {d['__invalid__']} instead of a contract object",
            )
        )
        return [], issues
    common = (
        rec.kind,
        _text(d.get("uid")) or _text(d.get("id")),
        _text(d.get("id")),
        _text(buyer.get("id")),
        _text(buyer.get("nom")),
        None,
        None,
        None,
        None,
        _text(d.get("nature")),
        _text(d.get("objet")),
        _text(d.get("codeCPV")),
        _text(d.get("procedure")),
        _joined(d.get("techniques"), "technique"),
        _text(d.get("idAccordCadre")),
        amount,
        duration,
        notified,
        _text(d.get("datePublicationDonnees")),
    )
    if not suppliers:
        suppliers = [(None, None, None)]
        issues.append(("malformed-supplier-id", "flagged", "titulaires", None, "no supplier published"))
    n = len(suppliers)
    rows = [(*common, pos, n, t, i, name, applied) for pos, (t, i, name) in enumerate(suppliers, 1)]
    return rows, issues
