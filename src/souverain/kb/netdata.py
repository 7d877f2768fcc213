"""Network tables on disk: a directory with ``manifest.json`` naming each table, its format, source and date.

``souverain kb update`` writes such a directory (``$SOUVERAIN_HOME/kb/networks``); the lab writes one for its
world. Lookup order: providers' published ranges (entity and service known) → ASN prefix tables (lab
``prefixes.tsv``) → iptoasn ranges.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from souverain.errors import InputError
from souverain.kb.networks import (
    CLOUD_FORMATS,
    NetworkHit,
    PrefixTable,
    RangeTable,
    parse_cloud_ranges,
    parse_iptoasn,
    parse_prefix_tsv,
)

__all__ = ["MANIFEST", "TABLE_FORMATS", "NetworkData"]

MANIFEST = "manifest.json"
TABLE_FORMATS = ("iptoasn", "prefix-tsv", *CLOUD_FORMATS)


@dataclass(slots=True)
class NetworkData:
    ranges: PrefixTable = field(default_factory=PrefixTable)
    asn_prefixes: PrefixTable = field(default_factory=PrefixTable)
    asn_ranges: list[RangeTable] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    """What was loaded: name, format, url, fetched, rows."""

    def lookup(self, address: str) -> NetworkHit | None:
        hit = self.ranges.lookup(address)
        if hit is not None:
            return hit
        hit = self.asn_prefixes.lookup(address)
        if hit is not None:
            return hit
        for table in self.asn_ranges:
            hit = table.lookup(address)
            if hit is not None:
                return hit
        return None

    def add_table(self, name: str, fmt: str, path: Path, meta: dict[str, Any] | None = None) -> int:
        """Load one table file; returns its row count. Raises InputError naming the file on bad input."""
        rows = 0
        try:
            if fmt == "iptoasn":
                table = RangeTable(parse_iptoasn(path))
                self.asn_ranges.append(table)
                rows = table.size
            elif fmt == "prefix-tsv":
                for prefix, asn, as_name in parse_prefix_tsv(path):
                    self.asn_prefixes.add(prefix, NetworkHit(prefix, name, asn, as_name=as_name))
                    rows += 1
            elif fmt in CLOUD_FORMATS:
                for prefix, entity, service, _role in parse_cloud_ranges(fmt, path):
                    self.ranges.add(
                        prefix, NetworkHit(prefix, f"ranges:{name}", entity=entity, service=service)
                    )
                    rows += 1
            else:
                raise InputError(f"{path}: unknown table format {fmt!r} (known: {', '.join(TABLE_FORMATS)})")
        except FileNotFoundError:
            raise InputError(f"{path}: network table not found") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: bad {fmt} table: {exc}") from None
        self.tables.append({"name": name, "format": fmt, "file": str(path), "rows": rows, **(meta or {})})
        return rows

    @classmethod
    def load(cls, dirs: Sequence[Path] = (), prefix_tsvs: Sequence[Path] = ()) -> NetworkData:
        """Tables from each directory's manifest (missing directories are skipped) plus prefix TSV files."""
        data = cls()
        for d in dirs:
            manifest = d / MANIFEST
            if not manifest.is_file():
                continue
            try:
                doc = json.loads(manifest.read_text(encoding="utf-8"))
                entries = doc["tables"]
            except (OSError, ValueError, KeyError) as exc:
                raise InputError(f"{manifest}: unreadable network-table manifest ({exc})") from None
            for entry in entries:
                meta = {k: entry.get(k) for k in ("url", "fetched", "sha256") if entry.get(k)}
                data.add_table(entry["name"], entry["format"], d / entry["file"], meta)
        for tsv in prefix_tsvs:
            data.add_table(tsv.stem, "prefix-tsv", tsv)
        return data
