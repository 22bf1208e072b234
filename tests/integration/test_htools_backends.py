"""htools' live backends against a real gnt cluster: RAPI (``-m``), LUXI (``-L``), hscan, -X.

A 4-node cluster (fake hypervisor, sharedfile/file/diskless instances)
with gnt-masterd and gnt-rapi running as real processes.  Node memory is
the host's and changes between two reads, so scores are compared on data
read once where possible (``-S`` saves what ``-m``/``-L`` loaded) and
otherwise retried a few times.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnt.rapi.devserver import RapiDaemon
from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration

NODES = ["node1", "node2", "node3", "node4"]
# (name, primary node, template, disk MiB, running)
INSTANCES = [("inst1", "node1", "sharedfile", 100, True),
             ("inst2", "node1", "sharedfile", 200, True),
             ("inst3", "node1", "file", 300, False),
             ("inst4", "node2", "diskless", 0, True),
             ("inst5", "node2", "sharedfile", 500, False),
             ("inst6", "node2", "sharedfile", 600, True)]
GANETI_HSCAN = "/usr/bin/hscan"
SCORE_RE = re.compile(r"^Initial score: (\S+)$", re.MULTILINE)


class Env:
    def __init__(self, cluster: TestCluster, rapi: RapiDaemon) -> None:
        self.cluster = cluster
        self.rapi = rapi
        self.socket = str(cluster.root / "var/run/ganeti/socket/ganeti-query")

    def tool(self, name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = self.cluster.env()
        return subprocess.run([sys.executable, "-m", "gnt.htools", name, *args], env=env,
                              capture_output=True, text=True, timeout=300, cwd=cwd,
                              check=False)

    def ok(self, name: str, *args: str, cwd: Path | None = None) -> str:
        res = self.tool(name, *args, cwd=cwd)
        assert res.returncode == 0, res.stderr + res.stdout
        return res.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    c = TestCluster(tmp_path_factory.mktemp("htools"), nodes=list(NODES),
                    instances=[i[0] for i in INSTANCES])
    rapi = RapiDaemon(c)
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
               "sharedfile,file,diskless")
        for n in NODES[1:]:
            c.add_node(n)
        for name, node, template, size, running in INSTANCES:
            args = ["gnt-instance", "add", "-t", template, "--no-install", "-o", "image+raw",
                    "--no-name-check", "--no-ip-check", "-n", c.fqdn(node),
                    "-B", "maxmem=256,minmem=128,vcpus=2"]
            if size:
                args += ["--disk", f"0:size={size}"]
            c.ok(*args, name)
            if running:
                c.ok("gnt-instance", "startup", name)
        if rapi.pid() is None:
            rapi.write_users("")
            rapi.start()
        yield Env(c, rapi)
    finally:
        rapi.stop()
        c.destroy()


def _score(out: str) -> str:
    m = SCORE_RE.search(out)
    assert m, out
    return m.group(1)


def _mask(data: str) -> str:
    """Blank the node columns that follow the host's live state (node/free memory,
    free disk)."""
    out = []
    for line in data.splitlines():
        f = line.split("|")
        if len(f) == 15:
            f[2] = f[3] = f[5] = "*"
        out.append("|".join(f))
    return "\n".join(out)


def _retry_equal(fn, tries: int = 4) -> None:  # type: ignore[no-untyped-def]
    """Run ``fn`` (returns two values read at different moments) until they agree."""
    got = None
    for _ in range(tries):
        a, b = fn()
        if a == b:
            return
        got = (a, b)
    raise AssertionError(f"values differ on every try: {got}")


def test_rapi_backend_same_score_as_text(env: Env, tmp_path: Path) -> None:
    addr = env.rapi.address
    # exactly the data -m loaded, saved by -S, gives the same score and moves with -t
    out_m = env.ok("hbal", "-m", addr, "-S", str(tmp_path / "m"))
    out_t = env.ok("hbal", "-t", str(tmp_path / "m.original"))
    assert _score(out_m) == _score(out_t)
    moves = [ln for ln in out_m.splitlines() if "a=" in ln]
    assert moves and moves == [ln for ln in out_t.splitlines() if "a=" in ln]

    # hscan's file vs a new -m read (host memory may move in between: retry)
    def pair() -> tuple[str, str]:
        env.ok("hscan", "-d", str(tmp_path), f"{addr}:5080")
        t = _score(env.ok("hbal", "-t", str(tmp_path / f"{addr}:5080.data")))
        m = _score(env.ok("hbal", "-m", f"{addr}:5080"))
        return t, m
    _retry_equal(pair)


def test_luxi_backend_same_model_as_rapi(env: Env, tmp_path: Path) -> None:
    addr = env.rapi.address
    out_l = env.ok("hbal", "-L" + env.socket, "-S", str(tmp_path / "l"))
    assert _score(out_l) == _score(env.ok("hbal", "-t", str(tmp_path / "l.original")))
    env.ok("hscan", "-L", "-d", str(tmp_path))
    env.ok("hscan", "-L", "-d", str(tmp_path), addr)   # -L ignored with a cluster named
    local = (tmp_path / "LOCAL.data").read_text()
    remote = (tmp_path / f"{addr}.data").read_text()
    assert _mask(local) == _mask(remote)
    assert local.count("\n") > 12 and "|M|" in local   # nodes, instances, master flag
    for name, node, template, _, running in INSTANCES:
        assert re.search(rf"^{name}\|256\|\d+\|2\|{'running' if running else 'ADMIN_down'}"
                         rf"\|Y\|{node}\.gnt\.test\|\|{template}\|", local, re.MULTILINE), local


def test_hscan_summary_and_print_nodes(env: Env, tmp_path: Path) -> None:
    addr = env.rapi.address
    out = env.ok("hscan", "-d", str(tmp_path), "-pname,pcnt", addr)
    lines = out.splitlines()
    assert lines[0].split() == ["Name", "Nodes", "Inst", "BNode", "BInst", "t_mem", "f_mem",
                                "t_disk", "f_disk", "Score"]
    fields = lines[1].split()
    assert fields[0] == addr and fields[1:5] == ["4", "6", "0", "0"]
    assert lines[2].split() == ["Name", "pcnt"]
    assert sorted(ln.split()[0] for ln in lines[3:7]) == [f"{n}.gnt.test" for n in NODES]
    out = env.ok("hscan", "--no-headers", "-d", str(tmp_path), addr)
    assert out.split()[0] == addr and len(out.splitlines()) == 1


def test_unreachable_rapi_is_a_clear_error(env: Env, tmp_path: Path) -> None:
    res = env.tool("hbal", "-m", "127.0.0.1:1")
    assert res.returncode == 1
    assert "cannot reach RAPI at https://127.0.0.1:1/2/groups" in res.stderr
    res = env.tool("hscan", "-d", str(tmp_path), env.rapi.address, "127.0.0.1:1")
    assert res.returncode == 2
    assert "\nError for 127.0.0.1:1: failed to load data. Details:\n" in res.stdout
    assert (tmp_path / f"{env.rapi.address}.data").exists()
    assert not (tmp_path / "127.0.0.1:1.data").exists()
    res = env.tool("hbal", "-L" + str(tmp_path / "no-socket"))
    assert res.returncode == 1 and "cannot query the master daemon" in res.stderr


@pytest.mark.skipif(not os.access(GANETI_HSCAN, os.X_OK), reason="Ganeti's hscan not installed")
def test_same_files_as_ganetis_hscan(env: Env, tmp_path: Path) -> None:
    addr = env.rapi.address
    (tmp_path / "g").mkdir()
    (tmp_path / "n").mkdir()
    for d, cmd in (("g", [GANETI_HSCAN]), ("n", [sys.executable, "-m", "gnt.htools", "hscan"])):
        for source, name in ((["-L" + env.socket], "LOCAL"), ([addr], addr)):
            res = subprocess.run([*cmd, "-d", str(tmp_path / d), *source],
                                 env=env.cluster.env(), capture_output=True, text=True,
                                 timeout=120, check=False)
            assert res.returncode == 0, res.stdout + res.stderr
            header = res.stdout.splitlines()[0]
            assert header == f"{'Name':<{len(name)}} Nodes  Inst BNode BInst  t_mem  " \
                             f"f_mem t_disk f_disk      Score"
    for name in ("LOCAL.data", f"{addr}.data"):
        assert _mask((tmp_path / "g" / name).read_text()) == \
            _mask((tmp_path / "n" / name).read_text())


def test_hbal_exec_runs_disjoint_moves_in_one_jobset(env: Env) -> None:
    out = env.ok("hbal", "-L" + env.socket, "-X")
    ids = [line for line in out.splitlines() if line.startswith("Got job IDs")]
    assert ids, out
    # the first set moves one instance off node1 and one off node2 (disjoint nodes)
    assert len(ids[0].split(",")) == 2, out
    after = env.ok("hbal", "-L" + env.socket)
    assert "No solution found" in after or "Solution length=0" in after
    assert float(_score(after)) < float(_score(out))


def test_cli_entry_points(env: Env) -> None:
    exe = shutil.which("hscan", path=str(Path(sys.executable).parent))
    assert exe is not None
    missing = Path(env.socket).parent / "no-such-dir"
    res = subprocess.run([exe, "--no-headers", "-L" + env.socket, "-d", str(missing)],
                         capture_output=True, text=True, env=env.cluster.env(), check=False)
    assert res.returncode == 1 and f"cannot write {missing}/LOCAL.data" in res.stderr
    assert not missing.exists()
