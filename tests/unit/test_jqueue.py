"""The job queue end to end: a real JobQueue on a temporary root, real files,
worker threads and a small executor implementing the OpExecutor interface."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from gnt import constants as C
from gnt import errors
from gnt.jqueue import (
    CANCELED_MSG,
    JOB_NOTCHANGED,
    PRECEDING_FAILED_MSG,
    UNCLEAN_SHUTDOWN_MSG,
    JobQueue,
    OpContext,
)
from gnt.opcodes.base import OpCode, registry

pytestmark = pytest.mark.unit

ALL_FIELDS = ["id", "status", "priority", "archived", "ops", "opresult", "opstatus", "oplog",
              "opstart", "opexec", "opend", "oppriority", "summary", "received_ts",
              "start_ts", "end_ts"]


class OpJqTest(OpCode):
    """Test opcode: what the executor below should do."""

    OP_ID = "OP_JQTEST_STEP"
    OP_DSC_FIELD = "name"
    name: str = ""
    #: wait for this gate before notify_start (polling check_cancel)
    gate: str | None = None
    #: wait for this gate after notify_start
    gate_running: str | None = None
    messages: list[str] = Field(default_factory=list)
    fail: str | None = None  # "prereq", "exec", "crash", "badresult"
    result: Any = None
    skip_notify: bool = False


# Keep the test opcode out of the global registry (other tests may walk it);
# it is registered only while a test of this module runs (fixture below).
registry().pop(OpJqTest.OP_ID)


@pytest.fixture(autouse=True)
def _register_test_opcode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry(), OpJqTest.OP_ID, OpJqTest)


class StepExecutor:
    """Runs OpJqTest opcodes; records what it saw."""

    def __init__(self) -> None:
        self.gates: dict[str, threading.Event] = defaultdict(threading.Event)
        self.arrived: dict[str, threading.Event] = defaultdict(threading.Event)
        self.started: list[str] = []
        self.contexts: list[OpContext] = []
        self.lock = threading.Lock()

    def open(self, gate: str) -> None:
        self.gates[gate].set()

    def wait_arrived(self, gate: str, timeout: float = 5) -> None:
        assert self.arrived[gate].wait(timeout), f"nobody reached gate {gate}"

    def _gate(self, name: str, ctx: OpContext | None) -> None:
        self.arrived[name].set()
        while not self.gates[name].wait(0.005):
            if ctx is not None:
                ctx.check_cancel()

    def execute(self, op: OpCode, ctx: OpContext) -> Any:
        assert isinstance(op, OpJqTest)
        with self.lock:
            self.contexts.append(ctx)
        if op.gate:
            self._gate(op.gate, ctx)
        if not op.skip_notify:
            ctx.notify_start()
        with self.lock:
            self.started.append(op.name)
        for msg in op.messages:
            ctx.feedback(C.ELOG_MESSAGE, msg)
        if op.gate_running:
            self._gate(op.gate_running, None)
        if op.fail == "prereq":
            raise errors.OpPrereqError(f"{op.name}: bad input", errors.ECODE_INVAL)
        if op.fail == "exec":
            raise errors.OpExecError(f"{op.name}: it broke")
        if op.fail == "crash":
            raise KeyError("boom")
        if op.fail == "badresult":
            return {"obj": object()}
        if op.result is not None:
            return op.result
        return {"name": op.name, "job": ctx.job_id, "prio": ctx.priority}


def step(name: str = "", **kw: Any) -> OpJqTest:
    return OpJqTest(name=name, **kw)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def qdir(root: Path) -> Path:
    return root / "var/lib/ganeti/queue"


class Harness:
    def __init__(self) -> None:
        self.queues: list[JobQueue] = []
        self.executors: list[StepExecutor] = []

    def make(self, max_running: int = 4, **kw: Any) -> tuple[JobQueue, StepExecutor]:
        ex = StepExecutor()
        q = JobQueue(ex, max_running=max_running, **kw)
        self.queues.append(q)
        self.executors.append(ex)
        return q, ex

    def close(self) -> None:
        for ex in self.executors:
            for g in list(ex.gates.values()):
                g.set()
            ex.gates.default_factory = lambda: _set_event()  # type: ignore[assignment]
        for q in self.queues:
            q.shutdown(timeout=10)


def _set_event() -> threading.Event:
    e = threading.Event()
    e.set()
    return e


@pytest.fixture
def harness(root: Path) -> Iterator[Harness]:
    h = Harness()
    yield h
    h.close()


@pytest.fixture
def qx(harness: Harness) -> tuple[JobQueue, StepExecutor]:
    return harness.make()


def wait_for(q: JobQueue, job_id: int, pred: Callable[[str], bool] = lambda s: s in
             C.JOBS_FINALIZED, timeout: float = 10) -> str:
    """Follow the job with wait_for_job_change until its status satisfies pred."""
    deadline = time.monotonic() + timeout
    prev = None
    while True:
        res = q.wait_for_job_change(job_id, ["status"], prev, None, 0.5)
        if res != JOB_NOTCHANGED:
            prev = res[0]
        status = prev[0] if prev else q.query([job_id], ["status"])[0][0]
        if pred(status):
            return status
        assert time.monotonic() < deadline, f"job {job_id} stuck in {status}"


def row(q: JobQueue, job_id: int, *fields: str) -> list[Any]:
    r = q.query([job_id], list(fields))[0]
    assert r is not None
    return r


# ---------------------------------------------------------------------------
# running jobs


def test_job_runs_and_is_persisted(qx: tuple[JobQueue, StepExecutor], qdir: Path) -> None:
    q, ex = qx
    job_id = q.submit([step("a"), step("b", result=[1, "two", None])])
    assert wait_for(q, job_id) == "success"
    r = dict(zip(ALL_FIELDS, row(q, job_id, *ALL_FIELDS), strict=True))
    assert r["id"] == job_id and r["status"] == "success" and r["archived"] is False
    assert r["opstatus"] == ["success", "success"]
    assert r["opresult"] == [{"name": "a", "job": job_id, "prio": 0}, [1, "two", None]]
    assert r["summary"] == ["JQTEST_STEP(a)", "JQTEST_STEP(b)"]
    assert r["oppriority"] == [0, 0] and r["priority"] == C.OP_PRIO_DEFAULT
    assert [o["OP_ID"] for o in r["ops"]] == ["OP_JQTEST_STEP"] * 2
    # the queue extends each opcode's reason trail
    assert r["ops"][1]["reason"][-1][:2] == ["gnt:opcode:jqtest_step", f"job={job_id};index=1"]
    # timestamps: received <= start <= op start <= exec <= end <= job end
    seq = [r["received_ts"], r["start_ts"], r["opstart"][0], r["opexec"][0], r["opend"][0],
           r["opstart"][1], r["opexec"][1], r["opend"][1], r["end_ts"]]
    assert all(isinstance(ts, list) and len(ts) == 2 for ts in seq)
    assert seq == sorted(seq)
    assert ex.started == ["a", "b"]
    # the job file holds exactly the published state
    on_disk = json.loads((qdir / f"job-{job_id}").read_text())
    assert on_disk["id"] == job_id
    assert [op["status"] for op in on_disk["ops"]] == r["opstatus"]
    assert [op["result"] for op in on_disk["ops"]] == r["opresult"]
    assert on_disk["end_timestamp"] == r["end_ts"]
    assert (qdir / "serial").read_text() == f"{job_id}\n"
    assert (qdir / "version").read_text() == "1\n"


def test_status_goes_queued_waiting_running_success(
        qx: tuple[JobQueue, StepExecutor], qdir: Path) -> None:
    q, ex = qx
    job_id = q.submit([step("a", gate="g1", gate_running="g2")])
    ex.wait_arrived("g1")
    # an opcode still waiting (for locks) shortly after it started shows as such
    t0 = time.monotonic()
    wait_for(q, job_id, lambda s: s == "waiting")
    assert time.monotonic() - t0 < 1
    assert row(q, job_id, "status", "opstatus") == ["waiting", ["waiting"]]
    assert json.loads((qdir / f"job-{job_id}").read_text())["ops"][0]["status"] == "waiting"
    assert row(q, job_id, "opexec") == [[None]]
    ex.open("g1")
    ex.wait_arrived("g2")
    assert row(q, job_id, "status") == ["running"]
    # "running" is on disk before the executor may change anything
    assert json.loads((qdir / f"job-{job_id}").read_text())["ops"][0]["status"] == "running"
    ex.open("g2")
    assert wait_for(q, job_id) == "success"


def test_feedback_is_logged_with_serials(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, _ex = qx
    job_id = q.submit([step("a", messages=["m1", "m2"]), step("b", messages=["m3"])])
    wait_for(q, job_id)
    oplog = row(q, job_id, "oplog")[0]
    assert [[e[0], e[2], e[3]] for e in oplog[0]] == [[1, "message", "m1"], [2, "message", "m2"]]
    assert [[e[0], e[3]] for e in oplog[1]] == [[3, "m3"]]
    assert all(len(e[1]) == 2 for e in oplog[0])
    _info, entries = q.wait_for_job_change(job_id, ["status"], ["success"], 1, 0)
    assert [e[0] for e in entries] == [2, 3]


def test_failure_propagates_to_remaining_opcodes(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, ex = qx
    job_id = q.submit([step("a"), step("b", fail="prereq"), step("c"), step("d")])
    assert wait_for(q, job_id) == "error"
    status, result, end = row(q, job_id, "opstatus", "opresult", "opend")
    assert status == ["success", "error", "error", "error"]
    assert result[1] == ["OpPrereqError", ["b: bad input", "wrong_input"]]
    assert result[2] == result[3] == ["OpExecError", [PRECEDING_FAILED_MSG, "internal_error"]]
    assert all(ts is not None for ts in end)
    assert ex.started == ["a", "b"]


@pytest.mark.parametrize(("fail", "cls", "ecode", "text"), [
    ("exec", "OpExecError", "internal_error", "b: it broke"),
    ("crash", "OpExecError", "internal_error", "KeyError: 'boom'"),
    ("badresult", "OpExecError", "internal_error", "not JSON-serialisable"),
])
def test_executor_errors_are_encoded(qx: tuple[JobQueue, StepExecutor], fail: str, cls: str,
                                     ecode: str, text: str) -> None:
    q, _ = qx
    job_id = q.submit([step("b", fail=fail)])
    assert wait_for(q, job_id) == "error"
    (result,) = row(q, job_id, "opresult")[0]
    assert result[0] == cls and result[1][1] == ecode and text in result[1][0]
    # the queue keeps working afterwards
    assert wait_for(q, q.submit([step("ok")])) == "success"


def test_results_are_normalised_to_json(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, _ = qx
    job_id = q.submit([step("a", result={"t": (1, 2)})])
    wait_for(q, job_id)
    assert row(q, job_id, "opresult") == [[{"t": [1, 2]}]]


def test_executor_that_never_notifies_start_still_succeeds(
        qx: tuple[JobQueue, StepExecutor]) -> None:
    q, _ = qx
    job_id = q.submit([step("a", skip_notify=True)])
    assert wait_for(q, job_id) == "success"
    assert row(q, job_id, "opexec") == [[None]]


def test_context_properties_and_late_calls(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, ex = qx
    j1 = q.submit([step("a"), step("b")])
    j2 = q.submit([step("c")])
    wait_for(q, j1)
    wait_for(q, j2)
    by_job: dict[int, list[OpContext]] = defaultdict(list)
    for ctx in ex.contexts:
        by_job[ctx.job_id].append(ctx)
    assert [c.op_index for c in by_job[j1]] == [0, 1]
    assert by_job[j1][0].owner == by_job[j1][1].owner != by_job[j2][0].owner
    assert str(by_job[j1][0].owner) == f"job/{j1}"
    assert len({by_job[j1][0].owner, by_job[j2][0].owner}) == 2
    # calls after the opcode finished change nothing
    before = row(q, j1, *ALL_FIELDS)
    by_job[j1][0].feedback(C.ELOG_MESSAGE, "too late")
    with pytest.raises(errors.ProgrammerError):
        by_job[j1][0].notify_start()
    assert row(q, j1, *ALL_FIELDS) == before


def test_executor_can_submit_jobs(harness: Harness) -> None:
    class Spawner(StepExecutor):
        def execute(self, op: OpCode, ctx: OpContext) -> Any:
            ctx.notify_start()
            if op.name == "parent":  # type: ignore[attr-defined]
                res = ctx.submit_jobs([[step("child1")], [step("child2")]])
                return [job_id for ok, job_id in res if ok]
            return op.name  # type: ignore[attr-defined]

    q = JobQueue(Spawner(), max_running=2)
    harness.queues.append(q)
    parent = q.submit([step("parent")])
    wait_for(q, parent)
    children = row(q, parent, "opresult")[0][0]
    assert children == [parent + 1, parent + 2]
    for child in children:
        assert wait_for(q, child) == "success"


# ---------------------------------------------------------------------------
# scheduling


def test_priority_then_id_order(harness: Harness) -> None:
    q, ex = harness.make(max_running=1)
    blocker = q.submit([step("blocker", gate_running="hold")])
    ex.wait_arrived("hold")
    low = q.submit([step("low", priority=C.OP_PRIO_LOW)])
    n1 = q.submit([step("n1")])
    high = q.submit([step("high", priority=C.OP_PRIO_HIGH)])
    n2 = q.submit([step("n2")])
    assert row(q, high, "priority") == [C.OP_PRIO_HIGH]
    ex.open("hold")
    for j in (blocker, low, n1, high, n2):
        wait_for(q, j)
    assert ex.started == ["blocker", "high", "n1", "n2", "low"]


def test_change_priority(harness: Harness) -> None:
    q, ex = harness.make(max_running=1)
    blocker = q.submit([step("blocker", gate_running="hold")])
    ex.wait_arrived("hold")
    a = q.submit([step("a")])
    b = q.submit([step("b")])
    assert q.change_priority(b, C.OP_PRIO_HIGH) == (
        True, f"Priorities of pending opcodes for job {b} have been changed to -10")
    assert row(q, b, "priority", "oppriority") == [-10, [-10]]
    with pytest.raises(errors.ParameterError, match="Invalid priority 5"):
        q.change_priority(a, 5)
    assert q.change_priority(blocker, C.OP_PRIO_LOW) == (
        False, f"Job {blocker} had no pending opcodes")
    ex.open("hold")
    wait_for(q, a)
    wait_for(q, b)
    assert ex.started == ["blocker", "b", "a"]
    assert q.change_priority(a, 0) == (False, f"Job {a} is finished")
    with pytest.raises(errors.JobLost):
        q.change_priority(9999, 0)


def test_change_priority_is_seen_by_a_waiting_opcode(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, ex = qx
    job_id = q.submit([step("a", gate="g")])
    ex.wait_arrived("g")
    assert ex.contexts[0].priority == 0
    assert q.change_priority(job_id, C.OP_PRIO_HIGH)[0]
    assert ex.contexts[0].priority == C.OP_PRIO_HIGH
    ex.open("g")
    wait_for(q, job_id)
    assert row(q, job_id, "opresult")[0][0]["prio"] == C.OP_PRIO_HIGH


def test_max_running_limits_concurrency_and_can_change(harness: Harness) -> None:
    q, ex = harness.make(max_running=2)
    jobs = [q.submit([step(f"j{i}", gate_running="hold")]) for i in range(5)]
    ex.wait_arrived("hold")
    time.sleep(0.2)
    assert len(ex.started) == 2
    statuses = [s for (s,) in q.query(jobs, ["status"])]  # type: ignore[misc]
    assert statuses.count("running") == 2 and statuses.count("queued") == 3
    q.set_max_running(4)
    deadline = time.monotonic() + 5
    while len(ex.started) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)
    assert len(ex.started) == 4 and q.max_running == 4
    with pytest.raises(errors.ParameterError):
        q.set_max_running(0)
    ex.open("hold")
    assert q.wait_idle(10)
    assert [wait_for(q, j) for j in jobs] == ["success"] * 5


# ---------------------------------------------------------------------------
# dependencies


def test_relative_dependencies_are_resolved_and_waited_for(harness: Harness) -> None:
    q, ex = harness.make(max_running=4)
    results = q.submit_many([
        [step("first", gate_running="hold")],
        [step("second", depends=[[-1, ["success"]]])],
        [step("third", depends=[[-2, []], [-1, ["success"]]])],
    ])
    assert [ok for ok, _ in results] == [True, True, True]
    first, second, third = (j for _, j in results)
    assert row(q, second, "ops")[0][0]["depends"] == [[first, ["success"]]]
    assert row(q, third, "ops")[0][0]["depends"] == [[first, []], [second, ["success"]]]
    ex.wait_arrived("hold")
    time.sleep(0.2)
    # dependents stay queued (and cancelable) while the dependency runs
    assert row(q, second, "status") == ["queued"]
    assert row(q, third, "status") == ["queued"]
    assert ex.started == ["first"]
    ex.open("hold")
    assert [wait_for(q, j) for j in (first, second, third)] == ["success"] * 3
    assert ex.started == ["first", "second", "third"]


def test_failed_dependency_fails_the_job(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, ex = qx
    (_, bad), (_, dep), (_, tolerant) = q.submit_many([
        [step("bad", fail="exec")],
        [step("dep", depends=[[-1, ["success"]]]), step("dep2")],
        [step("tolerant", depends=[[-2, ["error"]]])],
    ])
    assert wait_for(q, dep) == "error"
    assert row(q, dep, "opresult")[0] == [
        ["OpExecError", [(f"Dependency job {bad} finished with status 'error', not one of"
                         " 'success' as required"), "internal_error"]],
        ["OpExecError", [PRECEDING_FAILED_MSG, "internal_error"]]]
    assert wait_for(q, tolerant) == "success"
    assert "dep" not in ex.started and "tolerant" in ex.started


def test_canceled_dependency_cancels_the_job(harness: Harness) -> None:
    q, ex = harness.make(max_running=1)
    blocker = q.submit([step("blocker", gate_running="hold")])
    ex.wait_arrived("hold")
    (_, victim), (_, dependent) = q.submit_many([
        [step("victim")], [step("dependent", depends=[[-1, ["success"]]])]])
    assert q.cancel(victim) == (True, f"Job {victim} canceled")
    ex.open("hold")
    assert wait_for(q, dependent) == "canceled"
    assert row(q, dependent, "opresult") == [[CANCELED_MSG]]
    assert f"Dependency job {victim} was cancelled" in str(row(q, dependent, "oplog"))
    wait_for(q, blocker)


def test_bad_dependencies(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, _ = qx
    unknown = q.submit([step("x", depends=[[4242, []]])])
    assert wait_for(q, unknown) == "error"
    assert row(q, unknown, "opresult")[0][0][1][0] == "Dependency error: Job 4242 not found"
    own = q.submit([step("self", depends=[[unknown + 1, []]])])
    assert wait_for(q, own) == "error"
    assert row(q, own, "opresult")[0][0][1][0] == "Job can't depend on itself"
    # relative ids only make sense inside a batch
    with pytest.raises(errors.ParameterError, match="Unable to resolve relative job ID -1"):
        q.submit([step("rel", depends=[[-1, []]])])
    res = q.submit_many([[step("ok")], [step("rel", depends=[[-2, []]])]])
    assert res[0][0] is True
    assert res[1] == (False, "Unable to resolve relative job ID -2; opcodes JQTEST_STEP(rel)")


def test_dependency_on_archived_job(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, _ = qx
    first = q.submit([step("first")])
    wait_for(q, first)
    assert q.archive(first)
    dep = q.submit([step("dep", depends=[[first, ["success"]]])])
    assert wait_for(q, dep) == "success"


# ---------------------------------------------------------------------------
# cancel


def test_cancel_queued_job(harness: Harness, qdir: Path) -> None:
    q, ex = harness.make(max_running=1)
    blocker = q.submit([step("blocker", gate_running="hold")])
    ex.wait_arrived("hold")
    job_id = q.submit([step("a"), step("b")])
    assert q.cancel(job_id) == (True, f"Job {job_id} canceled")
    status, opstatus, result, end = row(q, job_id, "status", "opstatus", "opresult", "end_ts")
    assert status == "canceled" and opstatus == ["canceled", "canceled"]
    assert result == [CANCELED_MSG, CANCELED_MSG] and end is not None
    assert json.loads((qdir / f"job-{job_id}").read_text())["ops"][0]["status"] == "canceled"
    assert q.cancel(job_id) == (False, f"Job {job_id} is no longer waiting in the queue")
    ex.open("hold")
    wait_for(q, blocker)
    assert ex.started == ["blocker"]
    assert q.cancel(blocker) == (False, f"Job {blocker} is no longer waiting in the queue")
    with pytest.raises(errors.JobLost, match="Job 777 not found"):
        q.cancel(777)


def test_cancel_waiting_job_through_check_cancel(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, ex = qx
    job_id = q.submit([step("a", gate="never"), step("b")])
    ex.wait_arrived("never")
    assert q.cancel(job_id) == (True, f"Job {job_id} will be canceled")
    assert wait_for(q, job_id) == "canceled"
    assert row(q, job_id, "opstatus", "opresult") == [
        ["canceled", "canceled"], [CANCELED_MSG, CANCELED_MSG]]
    assert ex.started == []


def test_cancel_running_job_is_refused(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, ex = qx
    job_id = q.submit([step("a", gate_running="hold")])
    ex.wait_arrived("hold")
    assert q.cancel(job_id) == (False, f"Job {job_id} is no longer waiting in the queue")
    ex.open("hold")
    assert wait_for(q, job_id) == "success"


def test_cancel_between_opcodes(harness: Harness) -> None:
    """Between two opcodes the job is queued again and can be canceled."""
    q, ex = harness.make(max_running=1)
    job_id = q.submit([step("a", gate_running="hold"), step("b", gate="never")])
    ex.wait_arrived("hold")
    ex.open("hold")
    ex.wait_arrived("never")
    assert q.cancel(job_id) == (True, f"Job {job_id} will be canceled")
    assert wait_for(q, job_id) == "canceled"
    assert row(q, job_id, "opstatus") == [["success", "canceled"]]


# ---------------------------------------------------------------------------
# wait_for_job_change


def test_wait_for_job_change_semantics(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, ex = qx
    job_id = q.submit([step("a", gate="g")])
    ex.wait_arrived("g")
    wait_for(q, job_id, lambda s: s == "waiting")
    # different previous info: immediate answer
    info, entries = q.wait_for_job_change(job_id, ["status", "opstatus"], None, None, 10)
    assert info == ["waiting", ["waiting"]] and entries == []
    # same info, no new log entries: "nochange" after the timeout
    t0 = time.monotonic()
    assert q.wait_for_job_change(job_id, ["status", "opstatus"], info, None, 0.3) \
        == JOB_NOTCHANGED
    assert time.monotonic() - t0 >= 0.29
    # a change wakes the waiter up before its timeout
    threading.Timer(0.2, ex.open, args=("g",)).start()
    t0 = time.monotonic()
    res = q.wait_for_job_change(job_id, ["status", "opstatus"], info, None, 10)
    assert res != JOB_NOTCHANGED and res[0] != info
    assert time.monotonic() - t0 < 5
    wait_for(q, job_id)
    # finished jobs answer at once, even when nothing differs
    final = row(q, job_id, "status")
    t0 = time.monotonic()
    assert q.wait_for_job_change(job_id, ["status"], final, None, 10) == (final, [])
    assert time.monotonic() - t0 < 1
    with pytest.raises(errors.JobLost):
        q.wait_for_job_change(31337, ["status"], None, None, 1)
    with pytest.raises(errors.ParameterError, match="nosuchfield"):
        q.wait_for_job_change(job_id, ["nosuchfield"], None, None, 1)


def test_wait_for_job_change_reports_new_log_entries(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, ex = qx
    job_id = q.submit([step("a", gate="g", messages=["hello"], gate_running="g2")])
    ex.wait_arrived("g")
    row(q, job_id, "status")
    ex.open("g")
    ex.wait_arrived("g2")
    # status changed meanwhile; ask with the current info but old log serial
    cur = row(q, job_id, "status")
    _info, entries = q.wait_for_job_change(job_id, ["status"], cur, 0, 5)
    assert [e[3] for e in entries] == ["hello"]
    assert q.wait_for_job_change(job_id, ["status"], cur, entries[-1][0], 0.1) \
        == JOB_NOTCHANGED
    ex.open("g2")
    wait_for(q, job_id)


def test_many_waiters_all_wake_up(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, ex = qx
    job_id = q.submit([step("a", gate="g")])
    ex.wait_arrived("g")
    info = row(q, job_id, "status")
    results: list[Any] = []

    def waiter() -> None:
        results.append(q.wait_for_job_change(job_id, ["status"], info, None, 10))

    threads = [threading.Thread(target=waiter) for _ in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    ex.open("g")
    for t in threads:
        t.join(10)
    assert len(results) == 20 and all(r != JOB_NOTCHANGED for r in results)


# ---------------------------------------------------------------------------
# archive


def test_archive(qx: tuple[JobQueue, StepExecutor], qdir: Path) -> None:
    q, ex = qx
    running = q.submit([step("r", gate_running="hold")])
    ex.wait_arrived("hold")
    done = q.submit([step("d")])
    wait_for(q, done)
    assert q.archive(running) is False
    before = row(q, done, *ALL_FIELDS)
    assert q.archive(done) is True
    assert not (qdir / f"job-{done}").exists()
    assert (qdir / "archive" / "0" / f"job-{done}").is_file()
    after = row(q, done, *ALL_FIELDS)
    assert after[ALL_FIELDS.index("archived")] is True
    before[ALL_FIELDS.index("archived")] = True
    assert after == before
    assert q.archive(done) is False
    assert [r[0] for r in q.query(None, ["id"])] == [running]  # type: ignore[index]
    assert [r[0] for r in q.query(None, ["id"], include_archived=True)] \
        == [running, done]  # type: ignore[index]
    assert q.wait_for_job_change(done, ["status"], None, None, 5)[0] == ["success"]
    assert q.cancel(done)[0] is False
    with pytest.raises(errors.JobLost):
        q.archive(555)
    ex.open("hold")
    wait_for(q, running)


def test_auto_archive(harness: Harness, qdir: Path) -> None:
    archived_hook: list[list[int]] = []
    q, ex = harness.make(on_jobs_archived=archived_hook.append)
    done = [q.submit([step(f"d{i}")]) for i in range(25)]
    for j in done:
        wait_for(q, j)
    running = q.submit([step("r", gate_running="hold")])
    ex.wait_arrived("hold")
    assert q.auto_archive(3600, 10) == (0, 0)
    assert q.auto_archive(-1, 0) == (0, 26)  # no time at all: nothing examined
    assert q.auto_archive(-1, 10) == (25, 0)
    assert sorted(j for batch in archived_hook for j in batch) == done
    assert [r[0] for r in q.query(None, ["id"])] == [running]  # type: ignore[index]
    assert sorted(p.name for p in (qdir / "archive" / "0").iterdir()) \
        == sorted(f"job-{j}" for j in done)
    ex.open("hold")
    wait_for(q, running)
    time.sleep(1.1)
    assert q.auto_archive(0, 10) == (1, 0)


# ---------------------------------------------------------------------------
# queries, drain flag, submission checks


def test_query(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, _ = qx
    a = q.submit([step("a")])
    b = q.submit([step("b", priority=C.OP_PRIO_LOW), step("c")])
    wait_for(q, a)
    wait_for(q, b)
    assert q.query([b, 999, str(a)], ["id", "summary", "oppriority"]) == [
        [b, ["JQTEST_STEP(b)", "JQTEST_STEP(c)"], [10, 0]], None,
        [a, ["JQTEST_STEP(a)"], [0]]]
    assert q.query(None, ["id"]) == [[a], [b]]
    assert q.query([], ["id"]) == []
    with pytest.raises(errors.ParameterError, match="bogus"):
        q.query(None, ["id", "bogus"])
    with pytest.raises(errors.ParameterError):
        q.query(["x1"], ["id"])
    # everything a query returns is JSON-native
    rows = q.query(None, ALL_FIELDS)
    assert json.loads(json.dumps(rows)) == rows


def test_drain_flag(qx: tuple[JobQueue, StepExecutor], qdir: Path) -> None:
    q, _ = qx
    assert not q.is_drained()
    q.set_drain_flag(True)
    assert q.is_drained() and (qdir / "drain").exists()
    with pytest.raises(errors.JobQueueDrainError, match="drained"):
        q.submit([step("a")])
    with pytest.raises(errors.JobQueueDrainError):
        q.submit_many([[step("a")]])
    job_id = q.submit_to_drained_queue([step("forced")])
    assert wait_for(q, job_id) == "success"
    q.set_drain_flag(False)
    assert not q.is_drained() and not (qdir / "drain").exists()
    assert wait_for(q, q.submit([step("b")])) == "success"


def test_submission_checks(qx: tuple[JobQueue, StepExecutor]) -> None:
    q, _ = qx
    with pytest.raises(errors.ParameterError, match="at least one opcode"):
        q.submit([])
    with pytest.raises(errors.ParameterError, match="invalid priority -20"):
        q.submit([step("a", priority=-20)])
    res = q.submit_many([[step("ok")], [], [step("p", priority=3)], [step("ok2")]])
    assert [ok for ok, _ in res] == [True, False, False, True]
    # refused jobs still consume their id: ids are never reused
    assert res[3][1] == res[0][1] + 3  # type: ignore[operator]
    assert "invalid priority 3, allowed are -10, 0, 10; opcodes JQTEST_STEP(p)" in res[2][1]
    assert q.submit_many([]) == []


def test_concurrent_submitters_get_unique_ids_covered_by_the_serial(
        harness: Harness, qdir: Path) -> None:
    uncovered: list[tuple[int, int]] = []

    def hook(job_id: int, data: dict[str, Any]) -> None:
        # called right after a job file is written: the serial must cover it
        serial = int((qdir / "serial").read_text())
        if serial < job_id:
            uncovered.append((job_id, serial))

    q, _ = harness.make(max_running=8, on_job_update=hook)
    got: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(15):
            if len(got) % 2:
                ids = [j for ok, j in q.submit_many([[step("m1")], [step("m2")]]) if ok]
            else:
                ids = [q.submit([step("s")])]
            with lock:
                got.extend(ids)  # type: ignore[arg-type]

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == len(set(got)) >= 120
    assert sorted(got) == list(range(1, len(got) + 1))
    assert uncovered == []
    assert q.wait_idle(60)
    assert all(r == ["success"] for r in q.query(got, ["status"]))
    assert int((qdir / "serial").read_text()) == len(got)


def test_observed_states_are_already_on_disk(harness: Harness, qdir: Path) -> None:
    """Whatever a client sees has been written: the file is never behind."""
    q, _ = harness.make(max_running=4)
    rank = {"queued": 0, "waiting": 1, "running": 2, "success": 3}
    behind: list[Any] = []

    def observe(job_id: int) -> None:
        prev: list[Any] | None = None
        nlog = 0
        while True:
            res = q.wait_for_job_change(job_id, ["status"], prev, nlog, 5)
            if isinstance(res, str):
                continue
            (prev, entries) = res
            nlog = entries[-1][0] if entries else nlog
            on_disk = json.loads((qdir / f"job-{job_id}").read_text())
            disk_status = on_disk["ops"][0]["status"]
            disk_log = len(on_disk["ops"][0]["log"])
            if rank[disk_status] < rank[prev[0]] or disk_log < nlog:
                behind.append((job_id, prev, disk_status, nlog, disk_log))
            if prev[0] in C.JOBS_FINALIZED:
                return

    jobs = [q.submit([step(f"j{i}", messages=["a", "b", "c"])]) for i in range(30)]
    observers = [threading.Thread(target=observe, args=(j,)) for j in jobs]
    for t in observers:
        t.start()
    for t in observers:
        t.join(30)
    assert behind == []


def test_update_hook_sees_every_write(harness: Harness, qdir: Path) -> None:
    seen: list[tuple[int, dict[str, Any]]] = []
    q, _ = harness.make(on_job_update=lambda j, d: seen.append((j, d)))
    job_id = q.submit([step("a", messages=["x"])])
    wait_for(q, job_id)
    statuses = [d["ops"][0]["status"] for j, d in seen if j == job_id]
    # submitted, running (the opcode got its locks at once, so its short
    # "waiting" was written together with "running"), success (with the log
    # entry, deferred to the job's next change)
    assert statuses == ["queued", "running", "success"]
    assert [e[3] for e in seen[-1][1]["ops"][0]["log"]] == ["x"]
    assert seen[-1][1] == json.loads((qdir / f"job-{job_id}").read_text())


def test_log_entries_of_a_running_opcode_are_written_together(harness: Harness,
                                                              qdir: Path) -> None:
    seen: list[tuple[int, dict[str, Any]]] = []
    q, ex = harness.make(on_job_update=lambda j, d: seen.append((j, d)))
    job_id = q.submit([step("a", messages=["m1", "m2", "m3"], gate_running="g")])
    ex.wait_arrived("g")
    # the opcode still runs: its three messages reach the disk (and readers)
    # within the feedback delay, in one write
    deadline = time.monotonic() + 5
    while len(row(q, job_id, "oplog")[0][0]) < 3:
        assert time.monotonic() < deadline, "log entries never published"
        time.sleep(0.01)
    on_disk = json.loads((qdir / f"job-{job_id}").read_text())
    assert [e[3] for e in on_disk["ops"][0]["log"]] == ["m1", "m2", "m3"]
    logs = [len(d["ops"][0]["log"]) for j, d in seen if j == job_id]
    # queued and running without entries, then the three messages at once (a
    # thread descheduled past the delay between two messages may split them)
    assert logs[:2] == [0, 0]
    assert [n for n in logs if n] in ([3], [1, 3], [2, 3])
    ex.open("g")
    wait_for(q, job_id)


# ---------------------------------------------------------------------------
# restarts


def test_finished_jobs_are_loaded_without_being_parsed(harness: Harness, qdir: Path) -> None:
    q, _ = harness.make()
    done = [q.submit([step(f"d{i}", messages=["m"])]) for i in range(3)]
    for j in done:
        wait_for(q, j)
    before = {j: row(q, j, *ALL_FIELDS) for j in done}
    assert q.shutdown(10)
    q2, _ = harness.make()
    # a finished job's file serves as it is; its objects are built only when needed
    assert all(q2._jobs[j]._job is None for j in done)
    assert {j: row(q2, j, *ALL_FIELDS) for j in done} == before
    assert q2.cancel(done[0])[0] is False  # needs the working copy: parsed on demand
    assert q2._jobs[done[0]].job.id == done[0]
    new = q2.submit([step("after")])
    wait_for(q2, new)
    assert q2.auto_archive(-1, 10) == (4, 0)
    assert row(q2, done[1], "status", "archived") == ["success", True]
    assert q2.shutdown(10)


def test_ids_never_reused_across_restarts(harness: Harness, qdir: Path) -> None:
    q, _ = harness.make()
    ids = [q.submit([step("a")]) for _ in range(3)]
    for j in ids:
        wait_for(q, j)
    assert q.auto_archive(-1, 10) == (3, 0)
    assert q.shutdown(10)
    # even without a serial file the archive keeps ids from being reused
    (qdir / "serial").unlink()
    q2, _ = harness.make()
    new = q2.submit([step("b")])
    assert new == ids[-1] + 1
    wait_for(q2, new)
    assert q2.shutdown(10)
    (qdir / "serial").write_text("1\n")  # a stale serial is repaired too
    q3, _ = harness.make()
    assert q3.submit([step("c")]) == new + 1
    assert q3.query([ids[0], new], ["status", "archived"]) == [
        ["success", True], ["success", False]]


def test_restart_recovers_jobs(harness: Harness, qdir: Path) -> None:
    """Jobs left queued/waiting run again; running/canceling ones fail."""
    q, ex = harness.make(max_running=4)
    running = q.submit([step("r1", gate_running="hold"), step("r2")])
    waiting = q.submit([step("w", gate="never")])
    canceling = q.submit([step("c", gate="stuck")])
    ex.wait_arrived("hold")
    ex.wait_arrived("never")
    ex.wait_arrived("stuck")
    done = q.submit([step("done")])
    wait_for(q, done)
    q.set_max_running(1)
    time.sleep(0.1)
    queued = q.submit([step("q1"), step("q2")])
    wait_for(q, canceling, lambda s: s == "waiting")
    wait_for(q, waiting, lambda s: s == "waiting")
    # simulate the crash by copying the files as they are now
    snapshot = {p.name: p.read_bytes() for p in qdir.iterdir() if p.is_file()}
    doc = json.loads(snapshot[f"job-{canceling}"])
    doc["ops"][0]["status"] = "canceling"
    snapshot[f"job-{canceling}"] = json.dumps(doc).encode()
    harness.close()
    harness.queues.clear()
    for name, content in snapshot.items():
        if name != "lock":
            (qdir / name).write_bytes(content)

    q2, ex2 = harness.make()
    ex2.open("never")
    for j in (running, waiting, canceling, done, queued):
        wait_for(q2, j)
    assert row(q2, running, "status", "opstatus", "opresult") == [
        "error", ["error", "error"],
        [["OpExecError", [UNCLEAN_SHUTDOWN_MSG, "internal_error"]]] * 2]
    assert row(q2, canceling, "status", "opresult") == [
        "error", [["OpExecError", [UNCLEAN_SHUTDOWN_MSG, "internal_error"]]]]
    assert row(q2, waiting, "status") == ["success"]
    assert row(q2, queued, "opstatus") == [["success", "success"]]
    assert row(q2, done, "status") == ["success"]
    # only the waiting and queued jobs ran again; nothing ran twice
    assert sorted(ex2.started) == ["q1", "q2", "w"]
    assert q2.submit([step("new")]) == queued + 1


def test_partially_done_job_resumes_after_its_last_finished_opcode(
        harness: Harness, qdir: Path) -> None:
    q, ex = harness.make(max_running=1)
    job_id = q.submit([step("one"), step("two", gate="g"), step("three")])
    ex.wait_arrived("g")
    saved = (qdir / f"job-{job_id}").read_bytes()
    harness.close()
    harness.queues.clear()
    (qdir / f"job-{job_id}").write_bytes(saved)
    q2, ex2 = harness.make()
    ex2.open("g")
    assert wait_for(q2, job_id) == "success"
    assert ex2.started == ["two", "three"]


def test_corrupt_and_unloadable_jobs_do_not_block_the_queue(harness: Harness,
                                                           qdir: Path) -> None:
    q, _ = harness.make()
    good = q.submit([step("a")])
    wait_for(q, good)
    assert q.shutdown(10)
    (qdir / "job-50").write_text('{"id": 50, "ops": [')  # torn by hand, not by the queue
    unknown_op = {"id": 51, "ops": [{"input": {"OP_ID": "OP_NO_SUCH_THING"}, "status": "queued",
                                     "result": None, "log": [], "priority": 0}],
                  "received_timestamp": [1, 0]}
    (qdir / "job-51").write_text(json.dumps(unknown_op))
    q2, _ = harness.make()
    assert not (qdir / "job-50").exists()
    assert (qdir / "archive" / "0" / "job-50").exists()
    assert wait_for(q2, 51) == "error"
    assert row(q2, 51, "opresult", "summary") == [
        [["OpCodeUnknown", ["Unknown opcode 'OP_NO_SUCH_THING'", "wrong_input"]]],
        ["NO_SUCH_THING"]]
    assert q2.submit([step("b")]) == 52


def test_second_queue_on_same_directory_is_refused(harness: Harness) -> None:
    q, _ = harness.make()
    with pytest.raises(errors.JobQueueError, match="in use"):
        JobQueue(StepExecutor())
    assert q.shutdown(10)
    harness.make()


def test_shutdown_waits_for_running_jobs_and_keeps_queued_ones(
        harness: Harness, qdir: Path) -> None:
    q, ex = harness.make(max_running=1)
    running = q.submit([step("r", gate_running="hold")])
    ex.wait_arrived("hold")
    queued = q.submit([step("q")])
    assert q.shutdown(timeout=0.2) is False
    with pytest.raises(errors.JobQueueError, match="shutting down"):
        q.submit([step("late")])
    threading.Timer(0.2, ex.open, args=("hold",)).start()
    assert q.shutdown(timeout=10) is True
    assert row(q, running, "status") == ["success"]
    assert row(q, queued, "status") == ["queued"]
    with pytest.raises(errors.JobQueueError, match="shut down"):
        q.cancel(queued)
    q2, ex2 = harness.make()
    assert wait_for(q2, queued) == "success"
    assert ex2.started == ["q"]
