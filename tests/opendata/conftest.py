"""Fixtures of the open-data tests: the shipped KB, and a small assessed run exported once per module."""

from __future__ import annotations

import pytest
from opendata_checks import Exported, make_store

from souverain.kb.load import KB, load_kb
from souverain.opendata import export_run


@pytest.fixture(scope="session")
def kb() -> KB:
    return load_kb()


@pytest.fixture(scope="module")
def exported(kb: KB, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    base = tmp_path_factory.mktemp("opendata")
    store, run_id = make_store(base / "s.db", kb)
    out = base / "export"
    result = export_run(store, run_id, out, kb=kb)
    return Exported(store, base / "s.db", run_id, out, result, kb)
