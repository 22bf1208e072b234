"""Crash safety of the job queue: a real process running a JobQueue is killed
with SIGKILL at chosen and at random points, then a new JobQueue is opened
on the same directory.

Checked after every kill: every job file parses; acknowledged jobs are never
lost; no job id is reused; jobs that were queued or waiting run (once);
jobs that were running fail with "Unclean master daemon shutdown" and are
never run again (the executors record every opcode start in a log).
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gnt import constants as C
from gnt.jqueue import UNCLEAN_SHUTDOWN_MSG, JobQueue, OpContext, QueuedJob
from gnt.opcodes.base import OpCode
from gnt.opcodes.test import OpTestDelay

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

CHILD = r'''
import json, os, signal, sys, time
from pathlib import Path

from gnt.jqueue import JobQueue
import gnt.jqueue.store as store_mod
from gnt.opcodes.test import OpTestDelay

ROOT = Path(os.environ["GNT_ROOT"])


class SleepExecutor:
    """notify_start, record the start, log `repeat` messages, sleep `duration`.
    comment="wait" blocks before notify_start (as waiting for locks)."""

    def execute(self, op, ctx):
        if op.comment == "wait":
            while True:
                ctx.check_cancel()
                time.sleep(0.01)
        ctx.notify_start()
        with open(ROOT / "starts.log", "a") as f:
            f.write(f"{ctx.job_id} {ctx.op_index} {os.getpid()}\n")
        for i in range(op.repeat):
            ctx.feedback("message", f"step {i}")
        time.sleep(op.duration)
        return {"slept": op.duration}


def say(*words):
    # one write per line: a kill can cut the stream only between lines
    os.write(1, (" ".join(map(str, words)) + "\n").encode())


def wait_status(q, wanted, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        got = {j: q.query([j], ["status"])[0][0] for j in wanted}
        if got == wanted:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"timeout waiting for {wanted}, have {got}")
        time.sleep(0.01)


mode = sys.argv[1]

if mode == "states":
    q = JobQueue(SleepExecutor(), max_running=3)
    r1 = q.submit([OpTestDelay(duration=600)])
    r2 = q.submit([OpTestDelay(duration=0), OpTestDelay(duration=600)])
    w = q.submit([OpTestDelay(duration=0, comment="wait")])
    queued = [q.submit([OpTestDelay(duration=0), OpTestDelay(duration=0)]) for _ in range(4)]
    dep = q.submit([OpTestDelay(duration=0, depends=[[r1, ["success"]]])])
    wait_status(q, {r1: "running", r2: "running", w: "waiting"})
    say(json.dumps({"r1": r1, "r2": r2, "w": w, "queued": queued, "dep": dep}))
    time.sleep(600)

elif mode == "after-serial":
    # die after the serial file is written, before the job file is
    def die(*args, **kw):
        os.kill(os.getpid(), signal.SIGKILL)
    q = JobQueue(SleepExecutor(), max_running=1)
    q._store.write_job = die
    q.submit([OpTestDelay(duration=0)])

elif mode == "mid-write":
    # die half-way through writing the temp file of a job's final state
    real = store_mod.atomic_write
    def crashing(path, data, mode=0o644, fsync=True):
        if Path(path).name == "job-1" and '"status":"success"' in data:
            tmp = Path(path).parent / ".job-1.crash.tmp"
            tmp.write_text(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, data, mode, fsync)
    store_mod.atomic_write = crashing
    q = JobQueue(SleepExecutor(), max_running=1)
    # the sleep outlasts the feedback delay: the log entries are written
    # (with "running") before the final write
    q.submit([OpTestDelay(duration=0.5, repeat=2)])
    time.sleep(600)

elif mode == "churn":
    q = JobQueue(SleepExecutor(), max_running=4)
    say("ready")
    i = 0
    while True:
        if i % 4 == 0:
            res = q.submit_many([[OpTestDelay(duration=0, repeat=3)],
                                 [OpTestDelay(duration=0.005, depends=[[-1, []]])]])
            for ok, jid in res:
                assert ok, jid
                say("acked", jid)
        else:
            jid = q.submit([OpTestDelay(duration=0.01, repeat=2), OpTestDelay(duration=0)])
            say("acked", jid)
        if i % 25 == 24:
            q.auto_archive(-1, 1)
        i += 1
'''


class FastExecutor:
    """The restarted master's executor: records starts, finishes at once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def execute(self, op: OpCode, ctx: OpContext) -> Any:
        ctx.notify_start()
        with open(self.root / "starts.log", "a") as f:
            f.write(f"{ctx.job_id} {ctx.op_index} {os.getpid()}\n")
        return "fast"


class Child:
    def __init__(self, root: Path, mode: str) -> None:
        script = root / "child.py"
        script.write_text(CHILD)
        env = dict(os.environ, GNT_ROOT=str(root),
                   PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        self.proc = subprocess.Popen([sys.executable, str(script), mode], env=env, cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]

    def readline(self, timeout: float = 60) -> str:
        if not self._sel.select(timeout):
            self.kill()
            pytest.fail(f"child said nothing for {timeout}s; stderr: {self.proc.stderr.read()}")
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            pytest.fail(f"child exited ({self.proc.wait()}): {self.proc.stderr.read()}")
        return line.strip()

    def kill(self) -> list[str]:
        """SIGKILL the child; returns the complete lines it printed and we did not read."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        # a line without its newline was cut by the kill: not a statement
        rest = self.proc.stdout.read().split("\n")[:-1]  # type: ignore[union-attr]
        self.proc.stdout.close()  # type: ignore[union-attr]
        self.proc.stderr.close()  # type: ignore[union-attr]
        return rest


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    return tmp_path


def qdir(root: Path) -> Path:
    return root / "var/lib/ganeti/queue"


def check_files(root: Path) -> dict[str, Any]:
    """Every job file (live and archived) parses; no id is in two places.
    Returns the live and archived ids, the serial and the temp files."""
    q = qdir(root)
    live = {}
    for p in q.glob("job-*"):
        job = QueuedJob.from_dict(json.loads(p.read_text()))
        assert p.name == f"job-{job.id}"
        live[job.id] = job
    archived = {}
    for p in q.glob("archive/*/job-*"):
        job = QueuedJob.from_dict(json.loads(p.read_text()))
        assert p.name == f"job-{job.id}" and p.parent.name == str(job.id // 10000)
        archived[job.id] = job
    assert not set(live) & set(archived)
    serial = int((q / "serial").read_text())
    assert serial >= max([0, *live, *archived])
    return {"live": live, "archived": archived, "serial": serial,
            "temps": [p.name for p in q.iterdir() if p.name.endswith(".tmp")]}


def starts(root: Path) -> Counter[tuple[int, int]]:
    path = root / "starts.log"
    if not path.exists():
        return Counter()
    return Counter((int(j), int(o)) for j, o, _ in
                   (line.split() for line in path.read_text().splitlines()))


def restart(root: Path) -> JobQueue:
    q = JobQueue(FastExecutor(root), max_running=4)
    assert q.wait_idle(60)
    return q


def _noop() -> OpCode:
    return OpTestDelay(duration=0)


def unclean(n: int) -> list[Any]:
    return [["OpExecError", [UNCLEAN_SHUTDOWN_MSG, "internal_error"]]] * n


def test_kill_with_jobs_running_waiting_and_queued(root: Path) -> None:
    child = Child(root, "states")
    ids = json.loads(child.readline())
    child.kill()
    before = check_files(root)
    assert before["live"][ids["r1"]].status == "running"
    assert before["live"][ids["w"]].status == "waiting"
    started_before = starts(root)

    q = restart(root)
    try:
        r1, r2, w, dep = ids["r1"], ids["r2"], ids["w"], ids["dep"]
        assert q.query([r1], ["status", "opresult"])[0] == ["error", unclean(1)]
        assert q.query([r2], ["opstatus", "opresult"])[0] == [
            ["success", "error"], [{"slept": 0}, *unclean(1)]]
        assert q.query([w], ["status", "opresult"])[0] == ["success", ["fast"]]
        for j in ids["queued"]:
            assert q.query([j], ["status", "opresult"])[0] == ["success", ["fast", "fast"]]
        assert q.query([dep], ["status", "opresult"])[0] == ["error", [[
            "OpExecError", [(f"Dependency job {r1} finished with status 'error', not one of"
                            " 'success' as required"), "internal_error"]]]]
        # nothing ran twice; running jobs were not replayed
        counts = starts(root)
        assert max(counts.values()) == 1
        assert counts - started_before == Counter(
            {(w, 0): 1, **{(j, o): 1 for j in ids["queued"] for o in (0, 1)}})
        new = q.submit([_noop()])
        assert new > max(before["live"]) and new > before["serial"]
        assert q.wait_idle(30)
    finally:
        assert q.shutdown(10)
    after = check_files(root)
    assert all(job.is_finalized() for job in after["live"].values())


def test_kill_between_serial_and_job_file(root: Path) -> None:
    child = Child(root, "after-serial")
    assert child.proc.wait(60) == -signal.SIGKILL
    child.kill()
    state = check_files(root)
    assert state["serial"] == 1 and state["live"] == {}
    q = restart(root)
    try:
        assert q.submit([_noop()]) == 2  # id 1 was handed out (to nobody): never reused
    finally:
        assert q.shutdown(10)


def test_kill_in_the_middle_of_a_job_write(root: Path) -> None:
    child = Child(root, "mid-write")
    assert child.proc.wait(60) == -signal.SIGKILL
    child.kill()
    state = check_files(root)
    assert state["temps"] == [".job-1.crash.tmp"]
    # the file still holds the last complete write: running, with its log
    assert state["live"][1].status == "running"
    q = restart(root)
    try:
        assert not (qdir(root) / ".job-1.crash.tmp").exists()
        status, result, log = q.query([1], ["status", "opresult", "oplog"])[0]
        assert (status, result) == ("error", unclean(1))
        assert [e[3] for e in log[0]] == ["step 0", "step 1"]
        assert starts(root) == Counter({(1, 0): 1})
    finally:
        assert q.shutdown(10)


def test_random_kills_lose_nothing_acknowledged(root: Path) -> None:
    rng = random.Random(int(os.environ.get("GNT_TEST_SEED", "0")) or time.time_ns())
    acked: list[int] = []
    temps_seen = 0
    for _ in range(6):
        child = Child(root, "churn")
        assert child.readline() == "ready"
        deadline = time.monotonic() + rng.uniform(0.3, 1.2)
        while time.monotonic() < deadline:
            line = child.readline()
            acked.append(int(line.split()[1]))
        rest = child.kill()
        acked.extend(int(line.split()[1]) for line in rest if line.startswith("acked"))
        state = check_files(root)
        temps_seen += len(state["temps"])
        known = set(state["live"]) | set(state["archived"])
        assert set(acked) <= known, f"acknowledged jobs lost: {set(acked) - known}"
    assert len(acked) == len(set(acked)), "a job id was handed out twice"
    assert len(acked) > 20

    q = restart(root)
    try:
        rows = q.query(acked, ["status", "opstatus"])
        assert all(r is not None for r in rows)
        assert all(r[0] in C.JOBS_FINALIZED for r in rows)  # type: ignore[index]
        # a job only fails for an unclean shutdown or a failed dependency
        statuses = Counter(r[0] for r in rows)  # type: ignore[index]
        assert set(statuses) <= {"success", "error"}
        assert statuses["success"] > statuses["error"]
        assert max(starts(root).values()) == 1, "an opcode was run twice"
        assert q.submit([_noop()]) > max(acked)
    finally:
        assert q.shutdown(10)
    final = check_files(root)
    assert final["temps"] == []
    print(f"{len(acked)} jobs acknowledged, {temps_seen} interrupted writes seen")
