"""Shared fixtures: a real cluster under a temporary root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import TestCluster


@pytest.fixture
def cluster_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("gntroot")


@pytest.fixture
def fake_cluster(cluster_root: Path) -> Iterator[TestCluster]:
    """An initialised one-node cluster with the fake hypervisor enabled (first) and kvm."""
    c = TestCluster(cluster_root)
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
               "file,diskless")
        yield c
    finally:
        c.destroy()
