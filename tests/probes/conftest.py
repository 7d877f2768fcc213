"""Fixtures for probe tests: one test CA per session; each test builds its own loopback world."""

from __future__ import annotations

import pytest

from probes.world import TestCA


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("pki"))
