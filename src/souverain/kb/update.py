"""``souverain kb update``: fetch the published network tables (online), validate them, and keep them with
their source URL, fetch date and digest in ``$SOUVERAIN_HOME/kb/networks``.

Each table is fetched through souverain's network layer (the configured resolver and trust store, so the lab
serves copies at the same URLs), parsed before it replaces the previous copy, and written atomically: a
failed or malformed download keeps the old table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from souverain.errors import InputError, require_file
from souverain.kb.netdata import MANIFEST, NetworkData
from souverain.net import Net, NetConfig
from souverain.probes.fetch import read_body

__all__ = ["SOURCES", "TableSource", "UpdateOutcome", "import_table", "update_tables"]

MAX_BYTES = 200_000_000


@dataclass(frozen=True, slots=True)
class TableSource:
    name: str
    format: str
    url: str
    file: str


SOURCES: tuple[TableSource, ...] = (
    TableSource("iptoasn", "iptoasn", "https://iptoasn.com/data/ip2asn-combined.tsv.gz", "iptoasn.tsv.gz"),
    TableSource("aws", "aws", "https://ip-ranges.amazonaws.com/ip-ranges.json", "aws.json"),
    TableSource(
        "google-cloud", "google-cloud", "https://www.gstatic.com/ipranges/cloud.json", "google-cloud.json"
    ),
    TableSource("cloudflare", "cloudflare", "https://www.cloudflare.com/ips-v4", "cloudflare.txt"),
    TableSource("fastly", "fastly", "https://api.fastly.com/public-ip-list", "fastly.json"),
    TableSource(
        "oracle", "oracle", "https://docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json", "oracle.json"
    ),
)
"""Tables with a stable public URL. Azure's Service Tags file changes URL weekly: import it with
``souverain kb import-table azure FILE``."""


@dataclass(slots=True)
class UpdateOutcome:
    name: str
    ok: bool
    detail: str
    rows: int = 0


def _manifest(out_dir: Path) -> dict[str, Any]:
    path = out_dir / MANIFEST
    if path.is_file():
        try:
            doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return doc
        except ValueError:
            pass
    return {"tables": []}


_TABLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _install(
    out_dir: Path, name: str, fmt: str, file: str, content: bytes, meta: dict[str, Any], label: str
) -> int:
    """Validate ``content`` as a ``fmt`` table, then swap it in and record it in the manifest. ``label``
    names the content in messages (the user's file, the URL), not the temporary file it is checked in."""
    if not _TABLE_NAME.fullmatch(name):
        raise InputError(f"--name '{name}': a table name is letters, digits, '.', '_' and '-' (at most 64)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"--out '{out_dir}': a file, not a folder") from None
    tmp = out_dir / f".new-{file}"  # keeps the suffix (.gz) the parser goes by
    tmp.write_bytes(content)
    try:
        rows = NetworkData().add_table(name, fmt, tmp)
    except InputError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{label}: {str(exc).replace(f'{tmp}: ', '').replace(str(tmp), label)}") from None
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:  # valid JSON, wrong shape
        tmp.unlink(missing_ok=True)
        raise InputError(f"{label}: not a {fmt} table ({type(exc).__name__}: {exc})"[:300]) from None
    if rows == 0:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{label}: no rows in this {fmt} table")
    os.replace(tmp, out_dir / file)
    manifest = _manifest(out_dir)
    tables = [t for t in manifest["tables"] if t.get("name") != name]
    tables.append({"name": name, "format": fmt, "file": file, "rows": rows,
                   "sha256": hashlib.sha256(content).hexdigest(), **meta})  # fmt: skip
    manifest["tables"] = sorted(tables, key=lambda t: t["name"])
    tmp_manifest = out_dir / f".{MANIFEST}.new"
    tmp_manifest.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp_manifest, out_dir / MANIFEST)
    return rows


def import_table(out_dir: Path, name: str, fmt: str, path: Path, source: str | None = None) -> int:
    """Install a table from a local file (offline), recording where it came from."""
    require_file(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".gz") else path.suffix
    today = dt.date.today().isoformat()
    return _install(out_dir, name, fmt, f"{name}{suffix or '.txt'}", path.read_bytes(),
                    {"url": source or f"file://{path.resolve()}", "fetched": today}, str(path))  # fmt: skip


async def _fetch(net: Net, source: TableSource) -> bytes:
    async with net.http.get(source.url, allow_redirects=True, max_redirects=5) as resp:
        if resp.status != 200:
            raise InputError(f"{source.url}: HTTP {resp.status}")
        body = await read_body(resp, MAX_BYTES, 300.0)
        if body.truncated:
            raise InputError(f"{source.url}: download cut short ({body.truncated} limit)")
        return body.content


async def _update(
    config: NetConfig, out_dir: Path, sources: Sequence[TableSource], report: Callable[[UpdateOutcome], None]
) -> list[UpdateOutcome]:
    outcomes = []
    async with Net(config) as net:
        # validate certificates: these tables decide attributions
        net._http = None
        from souverain.net.session import make_session

        net._http = make_session(config, net.dns, net.tls_validating)
        for source in sources:
            try:
                content = await _fetch(net, source)
                rows = _install(out_dir, source.name, source.format, source.file, content,
                                {"url": source.url, "fetched": dt.date.today().isoformat()},
                                source.url)  # fmt: skip
                outcome = UpdateOutcome(source.name, True, f"{rows} rows from {source.url}", rows)
            except InputError as exc:
                outcome = UpdateOutcome(source.name, False, str(exc))
            except Exception as exc:  # network failure of one table: report it, keep the old copy
                outcome = UpdateOutcome(
                    source.name, False, f"{source.url}: {type(exc).__name__}: {exc}"[:300]
                )
            outcomes.append(outcome)
            report(outcome)
    return outcomes


def update_tables(
    config: NetConfig,
    out_dir: Path,
    *,
    only: Sequence[str] = (),
    report: Callable[[UpdateOutcome], None] = lambda _o: None,
) -> list[UpdateOutcome]:
    """Fetch every table of :data:`SOURCES` (or ``only`` those names) into ``out_dir``."""
    known = {s.name for s in SOURCES}
    if unknown := set(only) - known:
        raise InputError(
            f"--only: unknown table(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})"
        )
    sources = [s for s in SOURCES if not only or s.name in only]
    return asyncio.run(_update(config, out_dir, sources, report))
