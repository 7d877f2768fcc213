"""Open data on the web: the files of :func:`souverain.opendata.export_run`, generated on demand into
``$SOUVERAIN_HOME/opendata/<run>-a<assessment>/`` (kept while that assessment is the run's published one;
with a DECP database ``…-decp-<state>/``, with its tables), then served as they are."""

from __future__ import annotations

import shutil
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


def generate(
    store: Store, run_id: int, folder: Path, kb: KB | None = None, procurement: Path | None = None
) -> list[dict[str, Any]]:
    """Export the run (with the tables of the ``procurement`` DECP database, as ``souverain export``) unless
    already exported; one export at a time."""
    from souverain.opendata import export_run

    with _LOCK:
        if not listing(folder):
            extra = None
            if procurement is not None:
                from souverain.procurement import extra_tables

                extra = extra_tables(procurement)
            export_run(store, run_id, folder, kb=kb, extra_tables=extra)
            for other in (*folder.parent.glob(f"{run_id}-*"), folder.parent / str(run_id)):
                if other != folder and other.is_dir():  # of an earlier assessment or DECP state
                    shutil.rmtree(other, ignore_errors=True)
    return listing(folder)
