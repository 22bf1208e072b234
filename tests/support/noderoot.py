"""A node root for unit tests of file storage: ``GNT_ROOT`` pointed at a
temporary directory whose ``etc/ganeti/file-storage-paths`` (the
directories file storage may use) holds the given text."""

from __future__ import annotations

from pathlib import Path

import pytest


def file_storage_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      allowed_paths: str) -> Path:
    """``tmp_path`` as this process's node root, with ``allowed_paths`` as
    the content of its ``file-storage-paths``; returns ``tmp_path``."""
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    conf = tmp_path / "etc/ganeti"
    conf.mkdir(parents=True)
    (conf / "file-storage-paths").write_text(allowed_paths)
    return tmp_path
