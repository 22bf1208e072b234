"""The opcode processor with a real lock manager and a small test LU.

The LU below records, at every step of its lifecycle, which locks its owner
holds (asked from the real :class:`LockManager`), so the tests can check the
order Ganeti prescribes: check_arguments, expand_names, locks level by level
(declare_locks just before each level), notify_start, check_prereq, exec,
then every lock released.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from gnt import constants as C
from gnt import errors
from gnt.cmdlib.base import ALL_SET, FeedbackFn, Level, NoHooksLU, lu_for
from gnt.cmdlib.processor import Processor
from gnt.config.reservations import Reservations
from gnt.locking import LockManager, Mode
from gnt.masterd.context import MasterContext
from gnt.objects import Cluster, ConfigData
from gnt.opcodes import base as opbase
from gnt.opcodes.base import OpCode

pytestmark = pytest.mark.unit

EX, SH = Mode.EXCLUSIVE, Mode.SHARED
MAC = "aa:00:00:12:34:56"

Snapshot = dict[str, dict[str, Mode]]


def snapshot(glm: LockManager, owner: Any) -> Snapshot:
    """Every lock ``owner`` holds: level name -> {lock name: mode}."""
    out = {}
    for lvl in Level:
        owned = glm.owned(owner, lvl)
        if owned:
            out[lvl.name] = dict(owned)
    return out


# --- the test opcodes and LUs ---------------------------------------------------------

class OpTestUnitProcessor(OpCode):
    """Drives LUTestUnitProcessor: which locks to take, where to fail."""

    OP_ID = "OP_TEST_UNIT_PROCESSOR"
    OP_DSC_FIELD = "instance_name"
    instance_name: str = "inst1"
    add_instance: bool = False        # create the instance lock (add_locks) instead
    nodes: list[str] | None = None    # node locks (shared), declared from declare_locks
    all_nodes: bool = False           # ALL_SET at the node level
    fail_in: str | None = None        # lifecycle step that raises
    reserve_mac: bool = False
    release_instance_in_exec: bool = False  # exec releases its instance locks early
    result: Any = None


class OpTestUnitProcessorBGL(OpTestUnitProcessor):
    """Same, with the BGL taken exclusively."""

    OP_ID = "OP_TEST_UNIT_PROCESSOR_BGL"


class LUTestUnitProcessor(NoHooksLU):
    OP = OpTestUnitProcessor
    REQ_BGL = False

    @property
    def trace(self) -> list[tuple[str, Any]]:
        return self.ctx.extra["trace"]

    def _step(self, name: str) -> None:
        self.trace.append((name, snapshot(self.ctx.glm, self.owner)))
        if self.op.fail_in == name:  # type: ignore[attr-defined]
            err = errors.OpExecError if name == "exec" else errors.OpPrereqError
            raise err(f"test failure in {name}")

    def check_arguments(self) -> None:
        self._step("check_arguments")

    def expand_names(self) -> None:
        op: OpTestUnitProcessor = self.op  # type: ignore[assignment]
        self._step("expand_names")
        if op.add_instance:
            self.add_locks[Level.INSTANCE] = [op.instance_name]
        else:
            self.needed_locks[Level.INSTANCE] = [op.instance_name]
        self.share_locks[Level.NODE] = True

    def declare_locks(self, level: Level) -> None:
        op: OpTestUnitProcessor = self.op  # type: ignore[assignment]
        self.trace.append((f"declare_locks:{level.name}", snapshot(self.ctx.glm, self.owner)))
        if level == Level.NODE:
            if op.all_nodes:
                self.needed_locks[Level.NODE] = ALL_SET
            elif op.nodes is not None:
                self.needed_locks[Level.NODE] = op.nodes

    def check_prereq(self) -> None:
        self._step("check_prereq")

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpTestUnitProcessor = self.op  # type: ignore[assignment]
        glm = self.ctx.glm
        self.ctx.extra["exec_checks"] = {
            "bgl_shared": glm.is_owned(self.owner, Level.CLUSTER, "BGL", shared=True),
            "bgl_exclusive": glm.is_owned(self.owner, Level.CLUSTER, "BGL", shared=False),
            "instance_exclusive": glm.is_owned(self.owner, Level.INSTANCE, op.instance_name,
                                               shared=False),
            "nodes_shared": (glm.is_owned(self.owner, Level.NODE, op.nodes, shared=True)
                             if op.nodes else None),
            "all_nodes": glm.is_owned(self.owner, Level.NODE, ALL_SET),
            "known_instances": set(glm.names(Level.INSTANCE)),
            "acquired": {lvl.name: set(n) for lvl, n in self.acquired.items()},
        }
        if op.reserve_mac:
            self.ctx.cfg.reservations.reserve_mac(MAC, [], self.owner)
        if op.release_instance_in_exec:
            glm.release(self.owner, Level.INSTANCE)
        feedback("hello from exec")
        self.log_info("info line")
        self._step("exec")
        return op.result


class LUTestUnitProcessorBGL(LUTestUnitProcessor):
    OP = OpTestUnitProcessorBGL
    REQ_BGL = True


# --- the master context and the job's context ------------------------------------------

@dataclass
class FakeConfig:
    """What the processor and LUs use of the ConfigWriter: ``data`` and ``reservations``."""

    data: ConfigData
    reservations: Reservations = field(default_factory=Reservations)


@dataclass(frozen=True)
class Owner:
    job_id: int


class JobCtx:
    """The job queue's per-opcode context, as the processor uses it."""

    def __init__(self, glm: LockManager, trace: list[tuple[str, Any]], job_id: int = 1,
                 priority: int = C.OP_PRIO_DEFAULT) -> None:
        self.owner = Owner(job_id)
        self.priority = priority
        self.glm = glm
        self.trace = trace
        self.feedback_log: list[tuple[str, Any]] = []
        self.cancel = threading.Event()
        self.cancel_checks = 0

    def feedback(self, msg_type: str, msg: Any) -> None:
        self.feedback_log.append((msg_type, msg))

    def notify_start(self) -> None:
        self.trace.append(("notify_start", snapshot(self.glm, self.owner)))

    def check_cancel(self) -> None:
        self.cancel_checks += 1
        if self.cancel.is_set():
            raise errors.JobCanceled(f"Job {self.owner.job_id} canceled")


@pytest.fixture
def mctx() -> MasterContext:
    cfg = ConfigData(cluster=Cluster(cluster_name="c.example.com", master_node="n1",
                                     master_ip="192.0.2.254"))
    glm = LockManager(instances=["inst1", "inst2"], nodes=["n1", "n2", "n3"],
                      nodegroups=["g1"])
    return MasterContext(cfg=FakeConfig(cfg),  # type: ignore[arg-type]
                         rpc=None,  # type: ignore[arg-type]
                         glm=glm, extra={"trace": []})


def jctx_for(mctx: MasterContext, job_id: int = 1) -> JobCtx:
    return JobCtx(mctx.glm, mctx.extra["trace"], job_id)


def run(mctx: MasterContext, op: OpCode, jctx: JobCtx | None = None) -> Any:
    return Processor(mctx).execute(op, jctx or jctx_for(mctx))


def phases(mctx: MasterContext) -> list[str]:
    return [name for name, _ in mctx.extra["trace"]]


def at(mctx: MasterContext, phase: str) -> Snapshot:
    for name, snap in mctx.extra["trace"]:
        if name == phase:
            return snap
    raise AssertionError(f"phase {phase} not reached: {phases(mctx)}")


def assert_nothing_held(glm: LockManager) -> None:
    assert glm.list_locks(active_only=True) == []


# --- tests ---------------------------------------------------------------------------

def test_lu_registered() -> None:
    assert lu_for("OP_TEST_UNIT_PROCESSOR") is LUTestUnitProcessor
    assert lu_for("OP_TEST_UNIT_PROCESSOR_BGL") is LUTestUnitProcessorBGL


def test_locks_held_during_exec_and_released_after(mctx: MasterContext) -> None:
    jctx = jctx_for(mctx)
    result = run(mctx, OpTestUnitProcessor(nodes=["n2", "n1", "n2"], result={"x": [1]}), jctx)
    assert result == {"x": [1]}
    expected = {"CLUSTER": {"BGL": SH}, "INSTANCE": {"inst1": EX},
                "NODE": {"n1": SH, "n2": SH}}
    assert at(mctx, "exec") == expected
    checks = mctx.extra["exec_checks"]
    assert checks["bgl_shared"] and not checks["bgl_exclusive"]
    assert checks["instance_exclusive"]
    assert checks["nodes_shared"]
    assert not checks["all_nodes"]
    assert checks["acquired"] == {"CLUSTER": {"BGL"}, "INSTANCE": {"inst1"},
                                  "NODE": {"n1", "n2"}}
    assert mctx.glm.held_levels(jctx.owner) == []
    assert_nothing_held(mctx.glm)


def test_req_bgl_takes_bgl_exclusively(mctx: MasterContext) -> None:
    run(mctx, OpTestUnitProcessorBGL())
    assert at(mctx, "exec")["CLUSTER"] == {"BGL": EX}
    assert mctx.extra["exec_checks"]["bgl_exclusive"]
    assert_nothing_held(mctx.glm)


def test_all_set(mctx: MasterContext) -> None:
    run(mctx, OpTestUnitProcessor(all_nodes=True))
    assert mctx.extra["exec_checks"]["all_nodes"]
    assert at(mctx, "exec")["NODE"] == {"n1": SH, "n2": SH, "n3": SH}
    assert_nothing_held(mctx.glm)


def test_lifecycle_order(mctx: MasterContext) -> None:
    run(mctx, OpTestUnitProcessor(nodes=["n1"]))
    assert phases(mctx) == [
        "check_arguments", "expand_names",
        "declare_locks:NODEGROUP", "declare_locks:INSTANCE", "declare_locks:NODE",
        "declare_locks:NODE_RES", "declare_locks:NETWORK",
        "notify_start", "check_prereq", "exec",
    ]
    assert at(mctx, "check_arguments") == {}
    assert at(mctx, "expand_names") == {}
    # declare_locks(level) runs with the lower levels already held
    assert at(mctx, "declare_locks:NODEGROUP") == {"CLUSTER": {"BGL": SH}}
    assert at(mctx, "declare_locks:NODE") == {"CLUSTER": {"BGL": SH},
                                              "INSTANCE": {"inst1": EX}}


def test_notify_start_after_locks_before_check_prereq(mctx: MasterContext) -> None:
    run(mctx, OpTestUnitProcessor(nodes=["n3"]))
    names = phases(mctx)
    assert names.index("notify_start") < names.index("check_prereq") < names.index("exec")
    assert names.index("declare_locks:NETWORK") < names.index("notify_start")
    all_locks = {"CLUSTER": {"BGL": SH}, "INSTANCE": {"inst1": EX}, "NODE": {"n3": SH}}
    assert at(mctx, "notify_start") == all_locks
    assert at(mctx, "check_prereq") == all_locks


def test_dry_run_skips_exec(mctx: MasterContext) -> None:
    jctx = jctx_for(mctx)
    result = run(mctx, OpTestUnitProcessor(dry_run=True, reserve_mac=True, result=5), jctx)
    assert result is None
    assert "exec" not in phases(mctx)
    assert phases(mctx)[-2:] == ["notify_start", "check_prereq"]
    assert "exec_checks" not in mctx.extra
    assert jctx.feedback_log == []
    assert_nothing_held(mctx.glm)


def test_dry_run_with_add_locks_keeps_nothing(mctx: MasterContext) -> None:
    run(mctx, OpTestUnitProcessor(dry_run=True, add_instance=True, instance_name="new1"))
    assert "exec" not in phases(mctx)
    assert_nothing_held(mctx.glm)


def test_feedback(mctx: MasterContext) -> None:
    jctx = jctx_for(mctx)
    run(mctx, OpTestUnitProcessor(), jctx)
    assert jctx.feedback_log == [(C.ELOG_MESSAGE, "hello from exec"),
                                 (C.ELOG_MESSAGE, "info line")]


def test_add_locks_held_during_exec_and_kept_on_success(mctx: MasterContext) -> None:
    glm = mctx.glm
    run(mctx, OpTestUnitProcessor(add_instance=True, instance_name="new1"))
    checks = mctx.extra["exec_checks"]
    assert checks["instance_exclusive"]
    assert "new1" in checks["known_instances"]
    assert at(mctx, "exec")["INSTANCE"] == {"new1": EX}
    assert checks["acquired"]["INSTANCE"] == {"new1"}
    # the new name stays known, and no longer held
    assert glm.names(Level.INSTANCE) == {"inst1", "inst2", "new1"}
    assert_nothing_held(glm)


@pytest.mark.parametrize("fail_in", ["exec", "check_prereq"])
def test_add_locks_removed_when_lu_fails(mctx: MasterContext, fail_in: str) -> None:
    glm = mctx.glm
    jctx = jctx_for(mctx)
    exc = errors.OpExecError if fail_in == "exec" else errors.OpPrereqError
    with pytest.raises(exc, match=f"test failure in {fail_in}"):
        run(mctx, OpTestUnitProcessor(add_instance=True, instance_name="new1",
                                      nodes=["n1"], fail_in=fail_in), jctx)
    assert at(mctx, fail_in)["INSTANCE"] == {"new1": EX}
    assert glm.names(Level.INSTANCE) == {"inst1", "inst2"}
    assert glm.held_levels(jctx.owner) == []
    assert_nothing_held(glm)
    # and the name can be created again by another job
    mctx.extra["trace"].clear()
    run(mctx, OpTestUnitProcessor(add_instance=True, instance_name="new1"), jctx_for(mctx, 2))
    assert glm.names(Level.INSTANCE) == {"inst1", "inst2", "new1"}


def test_cleanup_survives_failing_lock_removal(mctx: MasterContext) -> None:
    """An LU that released its added lock and then fails: the LU's error is
    reported, and every lock and reservation of the job is still released."""
    glm = mctx.glm
    with pytest.raises(errors.OpExecError):
        run(mctx, OpTestUnitProcessor(add_instance=True, instance_name="new1",
                                      release_instance_in_exec=True, reserve_mac=True,
                                      fail_in="exec"))
    assert_nothing_held(glm)
    mctx.cfg.reservations.reserve_mac(MAC, [], "someone-else")


def test_add_existing_name_fails_and_keeps_it(mctx: MasterContext) -> None:
    glm = mctx.glm
    with pytest.raises(errors.OpPrereqError) as ei:
        run(mctx, OpTestUnitProcessor(add_instance=True, instance_name="inst2"))
    assert ei.value.ecode == errors.ECODE_EXISTS
    assert "check_prereq" not in phases(mctx)
    assert "notify_start" not in phases(mctx)
    # the existing instance's lock name was not removed by the failed job
    assert glm.names(Level.INSTANCE) == {"inst1", "inst2"}
    assert_nothing_held(glm)


@pytest.mark.parametrize("fail_in", ["check_arguments", "expand_names", "check_prereq",
                                     "exec"])
def test_failure_releases_everything(mctx: MasterContext, fail_in: str) -> None:
    jctx = jctx_for(mctx)
    with pytest.raises(errors.GntError):
        run(mctx, OpTestUnitProcessorBGL(nodes=["n1", "n2"], fail_in=fail_in,
                                         reserve_mac=True), jctx)
    names = phases(mctx)
    assert names[-1] == fail_in
    if fail_in in ("check_arguments", "expand_names"):
        assert "notify_start" not in names
    assert_nothing_held(mctx.glm)
    # the same locks are free for the next job
    mctx.extra["trace"].clear()
    run(mctx, OpTestUnitProcessorBGL(nodes=["n1", "n2"]), jctx_for(mctx, 2))
    assert at(mctx, "exec")["CLUSTER"] == {"BGL": EX}


@pytest.mark.parametrize("fail_in", [None, "exec"])
def test_reservations_released(mctx: MasterContext, fail_in: str | None) -> None:
    res = mctx.cfg.reservations
    try:
        run(mctx, OpTestUnitProcessor(reserve_mac=True, fail_in=fail_in))
    except errors.OpExecError:
        assert fail_in == "exec"
    # the job's MAC reservation is gone: another owner may take it
    res.reserve_mac(MAC, [], "someone-else")


def test_waits_for_conflicting_lock(mctx: MasterContext) -> None:
    glm = mctx.glm
    other = Owner(99)
    glm.acquire(other, Level.INSTANCE, ["inst1"], shared=False)
    jctx = jctx_for(mctx)
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["result"] = run(mctx, OpTestUnitProcessor(result="done"), jctx)
        except BaseException as err:  # noqa: BLE001
            out["error"] = err

    t = threading.Thread(target=work, daemon=True)
    t.start()
    time.sleep(0.3)
    assert t.is_alive()
    assert "notify_start" not in phases(mctx)
    assert glm.is_owned(jctx.owner, Level.CLUSTER)   # lower level held meanwhile
    assert not glm.is_owned(jctx.owner, Level.INSTANCE)
    glm.release_all(other)
    t.join(5)
    assert not t.is_alive()
    assert out == {"result": "done"}
    assert at(mctx, "notify_start")["INSTANCE"] == {"inst1": EX}
    assert_nothing_held(glm)


def test_cancel_while_waiting_for_locks(mctx: MasterContext) -> None:
    glm = mctx.glm
    other = Owner(99)
    glm.acquire(other, Level.NODE, ["n2"], shared=False)
    jctx = jctx_for(mctx)
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            run(mctx, OpTestUnitProcessor(nodes=["n1", "n2"]), jctx)
        except BaseException as err:  # noqa: BLE001
            out["error"] = err

    t = threading.Thread(target=work, daemon=True)
    t.start()
    time.sleep(0.2)
    assert t.is_alive()
    jctx.cancel.set()
    t.join(5)
    assert not t.is_alive()
    assert isinstance(out.get("error"), errors.JobCanceled)
    assert "notify_start" not in phases(mctx)
    assert glm.held_levels(jctx.owner) == []
    assert glm.owned(other, Level.NODE) == {"n2": EX}
    glm.release_all(other)
    assert_nothing_held(glm)


def test_two_jobs_shared_bgl_run_concurrently(mctx: MasterContext) -> None:
    """Two non-BGL jobs on different instances hold their locks at the same time."""
    glm = mctx.glm
    inside = threading.Barrier(2, timeout=5)

    class Ctx(JobCtx):
        def notify_start(self) -> None:
            super().notify_start()
            inside.wait()  # both jobs must have all their locks at once

    results: list[Any] = []

    def work(job: int, inst: str) -> None:
        jctx = Ctx(glm, mctx.extra["trace"], job)
        results.append(run(mctx, OpTestUnitProcessor(instance_name=inst, result=inst), jctx))

    threads = [threading.Thread(target=work, args=(i, f"inst{i}"), daemon=True)
               for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(results) == ["inst1", "inst2"]
    assert_nothing_held(glm)


def test_opcode_without_lu(mctx: MasterContext) -> None:
    class OpTestUnitProcessorNoLU(OpCode):
        OP_ID = "OP_TEST_UNIT_PROCESSOR_NO_LU"

    try:
        with pytest.raises(errors.OpCodeUnknown):
            run(mctx, OpTestUnitProcessorNoLU())
    finally:
        opbase._REGISTRY.pop("OP_TEST_UNIT_PROCESSOR_NO_LU", None)
    assert_nothing_held(mctx.glm)


def test_summary_of_test_opcode() -> None:
    assert OpTestUnitProcessor(instance_name="x").summary() == "TEST_UNIT_PROCESSOR(x)"
