"""gnt's hbal against Debian's Ganeti 3.0 hbal on richer clusters: the text
dumps Ganeti's hail writes (``-S``) for the generated iallocator requests of
``test_hail_hroller_vs_ganeti`` (several groups, offline and drained nodes,
exclusive storage, forthcoming instances, shared storage, exclusion and
location tags), balanced per group with several option sets; plus saved
dumps that once showed a difference (``data/``): moves of forthcoming
instances, their location-exclusion count, failover-to-any moves of
shared-storage instances next to DRBD ones, a 1-ulp score gain.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.compat.htools.test_hail_hroller_vs_ganeti import REF_HAIL, hail_case

REF_HBAL = "/usr/bin/hbal"
DATA = Path(__file__).parent / "data"

pytestmark = [
    pytest.mark.compat,
    pytest.mark.skipif(not (os.path.exists(REF_HAIL) and os.path.exists(REF_HBAL)),
                       reason="Ganeti htools (Debian ganeti-htools-3.0) not installed"),
]

VARIANTS = [[], ["--evac-mode"], ["-C", "--no-disk-moves"], ["--ignore-soft-errors", "-C"]]


def _run(cmd: list[str]) -> tuple[int, str, str]:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    return res.returncode, res.stdout, res.stderr


def _groups(path: Path) -> list[str]:
    return [line.split("|")[0] for line in path.read_text().split("\n\n")[0].splitlines()]


def _compare(path: Path, group: str, extra: list[str]) -> None:
    args = ["-t", str(path), "-G", group, "-C", *extra]
    ours = _run([sys.executable, "-m", "gnt.htools", "hbal", *args])
    assert ours == _run([REF_HBAL, *args]), (group, extra)


@pytest.mark.parametrize("name,group,extra", [
    ("hbal_forthcoming_moves.txt", "default", []),
    ("hbal_forthcoming_moves.txt", "group1", ["-C", "--no-disk-moves"]),
    ("hbal_forthcoming_exclusion.txt", "default", ["--evac-mode"]),
    ("hbal_forthcoming_exclusion.txt", "default", ["--ignore-soft-errors", "-C"]),
    ("hbal_ulp_gain.txt", "default", ["--ignore-soft-errors", "-C"]),
    ("hbal_shared_storage.txt", "group1", []),
])
def test_saved_dumps(name: str, group: str, extra: list[str]) -> None:
    _compare(DATA / name, group, extra)


@pytest.mark.parametrize("seed", list(range(8000, 8020)))
def test_hail_dumps(tmp_path: Path, seed: int) -> None:
    doc = hail_case(seed)
    if doc is None:
        pytest.skip("no suitable instance for this draw")
    req = tmp_path / "request.json"
    req.write_text(doc)
    _run([REF_HAIL, "-S", str(tmp_path / "state"), str(req)])
    dump = tmp_path / "state.pre-ialloc"
    if not dump.exists():
        pytest.skip("Ganeti's hail saved no state for this request")
    for k, group in enumerate(_groups(dump)):
        _compare(dump, group, VARIANTS[(seed + k) % len(VARIANTS)])
