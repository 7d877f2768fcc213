"""Open data on the web: the files of :func:`souverain.opendata.export_run`, generated on demand into
``$SOUVERAIN_HOME/opendata/<run>/`` (kept: a run's evidence never changes), then served as they are."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from souverain.kb.load import KB
from souverain.store import Store

__all__ = ["generate", "listing"]

_LOCK = threading.Lock()


def listing(folder: Path) -> list[dict[str, Any]]:
    """Files of a generated export (relative names, sizes), datapackage.json first; [] when not generated."""
    if not (folder / "datapackage.json").is_file():
        return []
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    out = [{"name": p.relative_to(folder).as_posix(), "size": p.stat().st_size} for p in files]
    return sorted(out, key=lambda f: (f["name"] != "datapackage.json", f["name"]))


def generate(store: Store, run_id: int, folder: Path, kb: KB | None = None) -> list[dict[str, Any]]:
    """Export the run unless already exported; one export at a time."""
    from souverain.opendata import export_run

    with _LOCK:
        if not listing(folder):
            export_run(store, run_id, folder, kb=kb)
    return listing(folder)
