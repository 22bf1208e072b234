"""Text backend: parsing, defaults, '?' nodes, errors naming file and line, round trip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gnt.htools.errors import DataError
from gnt.htools.text import load_file, parse_text, serialize_cluster
from gnt.htools.types import DiskTemplate, InstanceStatus
from tests.unit.htools.htools_fixtures import SMALL

pytestmark = pytest.mark.unit


def test_parse_small_cluster_and_defaults() -> None:
    cd = parse_text(SMALL, "small.txt")
    assert [n.name for n in cd.nodes] == ["node1", "node2", "node3"]
    n3 = cd.nodes[2]
    assert n3.master and not n3.offline and n3.spindles == 1
    assert n3.n_cpu == 1 and n3.cpu_speed == 1.0 and n3.tags == [] and not n3.excl_storage
    i3 = cd.instances[2]
    assert i3.status == InstanceStatus.ADMIN_DOWN and i3.template == DiskTemplate.DRBD
    assert (i3.pnode, i3.snode) == (2, 1) and i3.spindles is None and not i3.forthcoming
    assert cd.instances[3].snode == -1


def test_question_mark_node_is_offline_with_zero_resources() -> None:
    text = SMALL.replace("node2|4096|512|3500", "node2|?|512|3500")
    node = parse_text(text).nodes[1]
    assert node.offline and node.t_mem == 0 and node.f_dsk == 0


def test_round_trip_is_stable() -> None:
    once = serialize_cluster(parse_text(SMALL))
    assert serialize_cluster(parse_text(once)) == once
    assert "node1|4096|512|3000|102400|80000|8|N|fake-uuid-01|1||N|0|1|1.0" in once
    assert "inst1|512|10240|2|running|Y|node1|node2|drbd||1|-|N" in once
    assert once.endswith("|4.0|32.0\n")


@pytest.mark.parametrize("bad, line, words", [
    (("node1|4096|512|3000|102400|80000|8|N|fake-uuid-01|1", "node1|4096|512"), 3,
     ["Invalid/incomplete node data"]),
    (("node2|4096|512|3500", "node2|4096|512|lots"), 4, ["free memory", "lots"]),
    (("inst1|512|10240|2|running|Y|node1|node2", "inst1|512|10240|2|running|Y|node9|node2"),
     7, ["Unknown node 'node9'", "inst1"]),
    (("inst2|1024", "inst1|1024"), 8, ["Duplicate instance name 'inst1'", "line 7"]),
    (("fake-uuid-01|1\nnode2", "fake-uuid-01|1\nnode1"), 4, ["Duplicate node name"]),
    (("|drbd||1\ninst2", "|dbrd||1\ninst2"), 7, ["disk template 'dbrd'"]),
])
def test_bad_input_names_file_and_line(bad, line, words) -> None:
    text = SMALL.replace(*bad, 1)
    with pytest.raises(DataError) as exc:
        parse_text(text, "cluster.txt")
    msg = str(exc.value)
    assert msg.startswith(f"cluster.txt:{line}: "), msg
    for w in words:
        assert w in msg


def test_wrong_section_count() -> None:
    with pytest.raises(DataError, match="3 sections instead of 4 or 5"):
        parse_text("g|u|preferred|\n\nn\n\n")


def test_cli_bad_file_exits_nonzero_without_result(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text(SMALL.replace("node2|4096|512|3500", "node2|4096|512|x"))
    for tool in ("hbal", "hinfo", "hcheck", "hspace"):
        res = subprocess.run([sys.executable, "-m", "gnt.htools", tool, "-t", str(f)],
                             capture_output=True, text=True, check=False)
        assert res.returncode == 1, tool
        assert f"{f}:4:" in res.stderr and "free memory" in res.stderr
        assert "score" not in res.stdout.lower()


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read data file"):
        load_file(tmp_path / "nope.txt")
