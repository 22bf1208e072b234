"""Job queue building blocks: status derivation, JSON form, scheduler, files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gnt import constants as C
from gnt import errors
from gnt.jqueue import JobFileCorrupt, JobStore, QueuedJob, QueuedOpCode
from gnt.jqueue.model import calc_job_priority, calc_job_status, log_entries, to_json_value
from gnt.jqueue.scheduler import Scheduler
from gnt.opcodes.test import OpTestDelay

pytestmark = pytest.mark.unit

Q, W, CI, R, CD, S, E = (C.OP_STATUS_QUEUED, C.OP_STATUS_WAITING, C.OP_STATUS_CANCELING,
                         C.OP_STATUS_RUNNING, C.OP_STATUS_CANCELED, C.OP_STATUS_SUCCESS,
                         C.OP_STATUS_ERROR)


@pytest.mark.parametrize(("ops", "expected"), [
    ([Q], "queued"),
    ([Q, Q, Q], "queued"),
    ([S], "success"),
    ([S, S, S], "success"),
    ([S, Q], "queued"),          # between two opcodes a job is queued again
    ([W, Q], "waiting"),
    ([S, W, Q], "waiting"),
    ([S, R, Q], "running"),
    ([R, W], "waiting"),         # the last waiting/running opcode decides
    ([W, R], "running"),
    ([S, E, E], "error"),
    ([E, CD], "error"),          # the first final failure decides
    ([CD, CD], "canceled"),
    ([S, CD], "canceled"),
    ([CI, CI], "canceling"),
    ([S, CI, CI], "canceling"),
    ([R, E], "error"),
])
def test_job_status_is_derived_from_opcode_statuses(ops: list[str], expected: str) -> None:
    assert calc_job_status(ops) == expected


def test_job_priority_is_best_unfinished_opcode_priority() -> None:
    assert calc_job_priority([(Q, 10), (Q, -10), (Q, 0)]) == -10
    assert calc_job_priority([(S, -20), (Q, 10)]) == 10
    assert calc_job_priority([(S, -10), (E, -10)]) == C.OP_PRIO_DEFAULT


def _job() -> QueuedJob:
    op = OpTestDelay(duration=1.5, comment="c")
    qop = QueuedOpCode(input=op.to_dict(), op=op, priority=-10)
    job = QueuedJob(id=42, ops=[qop, QueuedOpCode(input=op.to_dict(), op=op)],
                    received_timestamp=[1700000000, 5])
    job.start_timestamp = [1700000001, 6]
    qop.status = S
    qop.result = {"a": [1, 2], "b": None}
    job.add_log(qop, C.ELOG_MESSAGE, "one")
    job.add_log(qop, C.ELOG_MESSAGE, {"structured": True})
    return job


def test_json_form_is_ganetis_shape_and_round_trips() -> None:
    job = _job()
    data = job.to_dict()
    assert set(data) == {"id", "ops", "received_timestamp", "start_timestamp", "end_timestamp"}
    assert set(data["ops"][0]) == {"input", "status", "result", "log", "start_timestamp",
                                   "exec_timestamp", "end_timestamp", "priority"}
    assert data["ops"][0]["input"]["OP_ID"] == "OP_TEST_DELAY"
    assert data["ops"][0]["log"][1][0] == 2
    # JSON-native: survives a JSON round trip unchanged
    assert json.loads(json.dumps(data)) == data
    back = QueuedJob.from_dict(json.loads(json.dumps(data)))
    assert back.to_dict() == data
    assert back.log_serial == 2
    assert back.status == "queued"
    assert back.priority == C.OP_PRIO_DEFAULT


def test_restore_undoes_changes_but_keeps_parsed_opcodes() -> None:
    job = _job()
    saved = job.to_dict()
    op_obj = job.ops[1].op
    job.mark_unfinished(CD, "x")
    job.finalize()
    job.add_log(job.ops[1], "message", "late")
    job.restore(saved)
    assert job.to_dict() == saved
    assert job.ops[1].op is op_obj
    assert job.log_serial == 2


def test_log_entries_filter_by_serial() -> None:
    data = _job().to_dict()
    assert [e[0] for e in log_entries(data, None)] == [1, 2]
    assert [e[0] for e in log_entries(data, 1)] == [2]
    assert log_entries(data, 2) == []


@pytest.mark.parametrize("bad", [
    [], {"id": 1}, {"id": 1, "ops": []}, {"id": -1, "ops": [{}]},
    {"id": 1, "ops": [{"input": {}, "status": "bogus", "log": []}]},
    {"id": 1, "ops": [{"input": {}, "status": "queued", "log": [["x"]]}]},
    {"id": 1, "ops": [{"input": {}, "status": "queued", "log": []}],
     "received_timestamp": "yesterday"},
])
def test_corrupt_job_data_is_rejected(bad: object) -> None:
    with pytest.raises(JobFileCorrupt):
        QueuedJob.from_dict(bad)


def test_to_json_value_normalises_and_rejects() -> None:
    assert to_json_value((1, (2, 3))) == [1, [2, 3]]
    assert to_json_value({1: "a"}) == {"1": "a"}
    for bad in (object(), float("nan"), {1, 2}):
        with pytest.raises((TypeError, ValueError)):
            to_json_value(bad)


# --- scheduler ---

def test_scheduler_orders_by_priority_then_id() -> None:
    s = Scheduler()
    for job_id, prio in [(5, 0), (3, 10), (4, -10), (1, 0), (2, -10)]:
        s.add(job_id, prio)
    assert s.ready_count == 5
    assert [s.pop() for _ in range(6)] == [2, 4, 1, 5, 3, None]
    assert s.ready_count == 0


def test_scheduler_blocks_until_dependencies_finish() -> None:
    s = Scheduler()
    s.add(10, 0, blocked_on={1, 2})
    s.add(11, 0, blocked_on={1})
    s.add(12, 0)
    assert (s.ready_count, s.blocked_count) == (1, 2)
    assert s.finished(1) == [11]
    assert s.pop() == 11
    assert s.pop() == 12
    assert s.pop() is None
    assert s.finished(2) == [10]
    assert s.pop() == 10


def test_scheduler_priority_change_and_removal() -> None:
    s = Scheduler()
    s.add(1, 0)
    s.add(2, 0)
    s.add(3, 0, blocked_on={99})
    s.set_priority(2, -10)
    s.set_priority(3, -20)
    s.remove(1)
    assert 1 not in s
    assert s.pop() == 2
    assert s.pop() is None
    assert s.finished(99) == [3]
    assert s.pop() == 3
    s.add(4, 0, blocked_on={5})
    s.remove(4)
    assert s.finished(5) == []
    with pytest.raises(ValueError):
        s.add(6, 0)
        s.add(6, 0)


def test_scheduler_heap_stays_small_under_priority_churn() -> None:
    s = Scheduler()
    s.add(1, 0)
    for i in range(1000):
        s.set_priority(1, (i % 3) - 1)
    assert len(s._heap) < 100
    assert s.pop() == 1


# --- files ---

@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    st = JobStore(tmp_path / "queue")
    st.open()
    yield st
    st.close()


def test_store_layout(store: JobStore, tmp_path: Path) -> None:
    q = tmp_path / "queue"
    assert (q / "version").read_text() == "1\n"
    assert (q / "archive").is_dir()
    assert store.read_serial() == 0
    store.write_serial(17)
    assert (q / "serial").read_text() == "17\n"
    data = _job().to_dict()
    store.write_job(42, data)
    store.write_job(12345, data)
    assert store.live_ids() == [42, 12345]
    assert store.read_live(42) == data
    assert store.archive([42, 12345, 7]) == [42, 12345]
    assert (q / "archive" / "0" / "job-42").is_file()
    assert (q / "archive" / "1" / "job-12345").is_file()
    assert store.live_ids() == []
    assert store.archived_ids() == [42, 12345]
    assert store.max_archived_id() == 12345
    assert store.read_archived(42) == data
    assert store.read_archived(43) is None
    assert not store.is_drained()
    store.set_drained(True)
    assert (q / "drain").exists() and store.is_drained()
    store.set_drained(False)
    store.set_drained(False)
    assert not store.is_drained()


def test_store_lock_excludes_a_second_owner(store: JobStore, tmp_path: Path) -> None:
    other = JobStore(tmp_path / "queue")
    with pytest.raises(errors.JobQueueError, match="in use"):
        other.open()
    store.close()
    other.open()
    other.close()


def test_store_open_removes_interrupted_writes_and_checks_version(tmp_path: Path) -> None:
    q = tmp_path / "queue"
    q.mkdir()
    (q / ".job-5.abcd.tmp").write_text('{"id": 5, "ops": [')
    (q / "job-4").write_text("{}")
    st = JobStore(q)
    st.open()
    assert sorted(os.listdir(q)) == ["archive", "job-4", "lock", "version"]
    st.close()
    (q / "version").write_text("7\n")
    with pytest.raises(errors.JobQueueError, match="version"):
        JobStore(q).open()


def test_store_corrupt_files(store: JobStore, tmp_path: Path) -> None:
    (tmp_path / "queue" / "job-3").write_text("{not json")
    with pytest.raises(JobFileCorrupt):
        store.read_live(3)
    store.quarantine(3)
    assert store.read_archived(3) is None  # unreadable, reported as absent
    assert store.max_archived_id() == 3
    (tmp_path / "queue" / "serial").write_text("garbage")
    assert store.read_serial() == 0
