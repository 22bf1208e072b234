"""hspace's output and allocation rules (Ganeti 3.0.2's, checked against the
real binary in tests/compat/htools; here without it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gnt.htools import metrics
from gnt.htools.fmt import hs_fixed
from gnt.htools.state import ClusterState
from gnt.htools.text import parse_text
from tests.unit.htools.htools_fixtures import SMALL

pytestmark = pytest.mark.unit

#: Two groups: g1's single node cannot be evacuated (no other node in its
#: group), g2's two nodes can.
TWO_GROUPS = """g1|u1|preferred||
g2|u2|preferred||

n1|16384|512|12288|102400|80000|8|N|u1|1
n2|16384|512|16384|102400|102400|8|N|u2|1
n3|16384|512|16384|102400|102400|8|N|u2|1

i1|2048|10240|1|running|Y|n1||sharedfile||1


"""


def hspace(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess:
    data = tmp_path / "c.txt"
    data.write_text(text)
    return subprocess.run([sys.executable, "-m", "gnt.htools", "hspace", "-t", str(data),
                           *args], capture_output=True, text=True, check=False)


def keys(out: str) -> list[str]:
    return [ln.split("=", 1)[0] for ln in out.splitlines() if "=" in ln]


def test_machine_readable_key_order(tmp_path: Path) -> None:
    res = hspace(tmp_path, SMALL, "--machine-readable", "--disk-template", "drbd",
                 "--tiered-alloc", "10240,1024,1", "--standard-alloc", "1024,128,1")
    assert res.returncode == 0, res.stderr
    ks = keys(res.stdout)
    km = [f"HTS_KM_{w}_{r}" for w in ("USED", "POOL", "UNAV")
          for r in ("CPU", "NPU", "MEM", "DSK", "SPN")]
    at = ks.index("HTS_TSPEC")
    assert ks[at + 1:at + 16] == km
    assert ks[ks.index("HTS_ALLOC_USAGE") + 1] == "HTS_ALLOC_INSTANCES"
    assert ks[-1] == "HTS_OK"
    vals = dict(ln.split("=", 1) for ln in res.stdout.splitlines())
    fin, ini = int(vals["HTS_FIN_INST_CNT"]), int(vals["HTS_INI_INST_CNT"])
    assert vals["HTS_ALLOC_USAGE"] == hs_fixed(ini / fin, 8)


def test_no_candidate_pair_is_an_error(tmp_path: Path) -> None:
    one = SMALL.replace("node2|4096|512|3500|102400|100000|8|N|",
                        "node2|4096|512|3500|102400|100000|8|Y|").replace(
        "node3|4096|512|1000|102400|50000|8|M|", "node3|4096|512|1000|102400|50000|8|Y|")
    res = hspace(tmp_path, one, "--machine-readable", "--disk-template", "drbd")
    assert res.returncode == 1
    assert res.stderr.endswith("Error: failure during allocation: Not enough online nodes\n")
    assert "HTS_INI_SCORE=" in res.stdout and "HTS_OK" not in res.stdout


def test_independent_groups_skip_groups_not_redundant(tmp_path: Path) -> None:
    args = ("--machine-readable", "--disk-template", "sharedfile",
            "--tiered-alloc", "10240,4096,1", "--standard-alloc", "10240,4096,1")
    plain = dict(ln.split("=", 1) for ln in hspace(tmp_path, TWO_GROUPS, *args)
                 .stdout.splitlines())
    indep = dict(ln.split("=", 1) for ln in hspace(tmp_path, TWO_GROUPS, *args,
                                                   "--independent-groups")
                 .stdout.splitlines())
    # n1 can never be evacuated, so every capacity check fails...
    assert plain["HTS_ALLOC_INSTANCES"] == "0"
    assert plain["HTS_ALLOC_FAIL_REASON"] == "FAILN1"
    # ...unless its group is left out and ignored by the checks
    assert int(indep["HTS_ALLOC_INSTANCES"]) > 0


def test_print_nodes_tables_on_stderr(tmp_path: Path) -> None:
    res = hspace(tmp_path, SMALL, "-pname,fmem", "--disk-template", "drbd",
                 "--tiered-alloc", "10240,1024,1")
    assert res.returncode == 0
    titles = [ln for ln in res.stderr.splitlines() if ln.endswith("status:")]
    assert titles == ["Initial cluster status:", "Tiered allocation status:",
                      "Standard allocation status:"]
    assert " Name  f_mem" in res.stderr


def test_no_online_node_has_no_statistics() -> None:
    st = ClusterState(parse_text(SMALL.replace("|8|N|", "|8|Y|").replace("|8|M|", "|8|Y|")))
    assert metrics.component_values(st, np.arange(3)) == []
    assert metrics.score(st, np.arange(3)) == 0.0
