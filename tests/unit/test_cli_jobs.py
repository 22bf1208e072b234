"""Submitting and following jobs against a real LUXI server with queue semantics."""

from __future__ import annotations

import argparse
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gnt import constants as C
from gnt import errors
from gnt.cli import base as B
from gnt.cli import jobs as J
from gnt.cli import options as O
from gnt.luxi import Client, LuxiServer, make_dispatcher
from gnt.luxi import protocol as P

pytestmark = pytest.mark.unit

CTIME = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}"


class MiniQueue:
    """The master's job semantics for SubmitJob, SubmitManyJobs, WaitForJobChange,
    QueryJobs and CancelJob.  An opcode ``{"OP_ID": ..., "messages": [...],
    "result": x}`` logs its messages and succeeds with ``x``; ``"fail": [cls, msg,
    ecode]`` fails with that (encoded) error, ``"fail_text": msg`` with plain text."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.jobs: dict[int, dict[str, Any]] = {}
        self.next_id = 100
        self.gate = threading.Event()
        self.gate.set()
        self.submitted: list[list[dict[str, Any]]] = []
        self.threads: list[threading.Thread] = []

    def methods(self) -> dict[str, Any]:
        return {P.REQ_SUBMIT_JOB: self.submit, P.REQ_SUBMIT_MANY_JOBS: self.submit_many,
                P.REQ_WAIT_FOR_JOB_CHANGE: self.wait_for_change,
                P.REQ_QUERY_JOBS: self.query_jobs, P.REQ_CANCEL_JOB: self.cancel}

    def submit(self, ops: list[dict[str, Any]]) -> int:
        if not ops or any("OP_ID" not in op for op in ops):
            raise errors.OpPrereqError("Invalid opcode: expected a dict with 'OP_ID'",
                                       errors.ECODE_INVAL)
        with self.cond:
            job_id = self.next_id
            self.next_id += 1
            self.jobs[job_id] = {"id": job_id, "status": C.JOB_STATUS_QUEUED, "ops": ops,
                                 "opstatus": [C.OP_STATUS_QUEUED] * len(ops),
                                 "opresult": [None] * len(ops), "log": []}
            self.submitted.append(ops)
        t = threading.Thread(target=self._run, args=(self.jobs[job_id],), daemon=True)
        self.threads.append(t)
        t.start()
        return job_id

    def submit_many(self, jobs: list[list[dict[str, Any]]]) -> list[list[Any]]:
        out: list[list[Any]] = []
        for ops in jobs:
            try:
                out.append([True, self.submit(ops)])
            except errors.GntError as err:
                out.append([False, str(err)])
        return out

    def _set(self, job: dict[str, Any], **changes: Any) -> None:
        with self.cond:
            job.update(changes)
            self.cond.notify_all()

    def _run(self, job: dict[str, Any]) -> None:
        self.gate.wait(20)
        with self.cond:
            if job["status"] != C.JOB_STATUS_QUEUED:
                return
            job["status"] = C.JOB_STATUS_RUNNING
            self.cond.notify_all()
        for idx, op in enumerate(job["ops"]):
            with self.cond:
                job["opstatus"][idx] = C.OP_STATUS_RUNNING
                self.cond.notify_all()
            for msg in op.get("messages", []):
                time.sleep(0.02)
                now = time.time()
                with self.cond:
                    job["log"].append([len(job["log"]) + 1, [int(now), int(now % 1 * 1e6)],
                                       C.ELOG_MESSAGE, msg])
                    self.cond.notify_all()
            with self.cond:
                if "fail" in op or "fail_text" in op:
                    if "fail" in op:
                        cls, msg, ecode = op["fail"]
                        failure: Any = getattr(errors, cls)(msg, ecode).encode()
                    else:
                        failure = op["fail_text"]
                    rest = len(job["ops"]) - idx
                    job["opstatus"][idx:] = [C.OP_STATUS_ERROR] * rest
                    job["opresult"][idx:] = [failure] + [
                        errors.OpExecError("Preceding opcode failed").encode()] * (rest - 1)
                    job["status"] = C.JOB_STATUS_ERROR
                    self.cond.notify_all()
                    return
                job["opstatus"][idx] = C.OP_STATUS_SUCCESS
                job["opresult"][idx] = op.get("result")
                self.cond.notify_all()
        self._set(job, status=C.JOB_STATUS_SUCCESS)

    def wait_for_change(self, job_id: int, fields: list[str], prev_info: Any,
                        prev_serial: int | None, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                job = self.jobs.get(job_id)
                if job is None:
                    return None
                info = [job[f] for f in fields]
                logs = [e for e in job["log"] if prev_serial is None or e[0] > prev_serial]
                if (job["status"] not in (C.JOB_STATUS_QUEUED, C.JOB_STATUS_WAITING,
                                          C.JOB_STATUS_RUNNING)
                        or info != prev_info or logs):
                    return [info, logs]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return P.JOB_NOTCHANGED
                self.cond.wait(remaining)

    def query_jobs(self, job_ids: list[int] | None, fields: list[str]) -> list[Any]:
        with self.cond:
            ids = job_ids or sorted(self.jobs)
            return [[self.jobs[j][f] for f in fields] if j in self.jobs else None for j in ids]

    def cancel(self, job_id: int, kill: bool = False) -> list[Any]:
        with self.cond:
            job = self.jobs[job_id]
            if job["status"] != C.JOB_STATUS_QUEUED:
                return [False, f"Job {job_id} is no longer waiting in the queue"]
            job["status"] = C.JOB_STATUS_CANCELED
            job["opstatus"] = [C.OP_STATUS_CANCELED] * len(job["ops"])
            self.cond.notify_all()
            return [True, f"Job {job_id} canceled"]


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[MiniQueue]:
    q = MiniQueue()
    q.sock = tmp_path / "luxi.sock"  # type: ignore[attr-defined]
    with LuxiServer(q.sock, make_dispatcher(q.methods())):  # type: ignore[attr-defined]
        yield q
        q.gate.set()
        for t in q.threads:
            t.join(10)


@pytest.fixture
def client(queue: MiniQueue) -> Iterator[Client]:
    with Client(queue.sock) as c:  # type: ignore[attr-defined]
        yield c


def opts(**kw: Any) -> argparse.Namespace:
    base: dict[str, Any] = {"debug": 0, "reason": None, "submit_only": False,
                            "print_jobid": False, "dry_run": False, "priority": None,
                            "cli_tool": "gnt-test", "cli_command": "op"}
    base.update(kw)
    return argparse.Namespace(**base)


def op(**kw: Any) -> dict[str, Any]:
    return {"OP_ID": "OP_TEST_DELAY", **kw}


def test_submit_and_poll_prints_log_and_returns_result(
        client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    result = J.submit_opcode(client, op(messages=["Creating disk 0", "Starting instance"],
                                        result={"ok": [1, 2]}), opts())
    assert result == {"ok": [1, 2]}
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(f"{CTIME} Creating disk 0", lines[0])
    assert re.fullmatch(f"{CTIME} Starting instance", lines[1])


def test_log_messages_are_safe_encoded(client: Client,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    J.run_opcode(client, op(messages=["two\nlines\tand é"]), opts())
    out = capsys.readouterr().out
    assert out.rstrip("\n").endswith(r"two\nlines\tand \xe9")
    assert out.count("\n") == 1


def test_feedback_fn_receives_entries(client: Client) -> None:
    seen: list[Any] = []
    J.run_opcode(client, op(messages=["a", "b"]), opts(), feedback_fn=seen.append)
    assert [(t, m) for _, t, m in seen] == [(C.ELOG_MESSAGE, "a"), (C.ELOG_MESSAGE, "b")]
    assert all(isinstance(ts, list) and len(ts) == 2 for ts, _, _ in seen)


def test_job_with_several_opcodes(client: Client) -> None:
    assert J.run_job(client, [op(result=1), op(result="two"), op(result=None)],
                     opts()) == [1, "two", None]


def test_opcode_error_keeps_class_and_ecode(client: Client) -> None:
    with pytest.raises(errors.OpPrereqError) as info:
        J.submit_opcode(client, op(fail=["OpPrereqError", "Instance 'web' not known",
                                         errors.ECODE_NOENT]), opts())
    assert info.value.ecode == errors.ECODE_NOENT
    assert str(info.value) == "Instance 'web' not known"


def test_unencoded_failure_and_partial_failure(client: Client) -> None:
    with pytest.raises(errors.OpExecError, match="^disk full$"):
        J.run_opcode(client, op(fail_text="disk full"), opts())
    with pytest.raises(errors.OpExecError, match=r"partial failure \(opcode 1\): disk full"):
        J.run_job(client, [op(result=1), op(fail_text="disk full")], opts())


def test_generic_options_applied(queue: MiniQueue, client: Client) -> None:
    before = time.time_ns()
    J.run_opcode(client, op(), opts(debug=2, dry_run=True, priority=C.OP_PRIO_HIGH,
                                    reason="planned maintenance"))
    sent = queue.submitted[-1][0]
    assert sent["debug_level"] == 2 and sent["dry_run"] is True
    assert sent["priority"] == C.OP_PRIO_HIGH
    (src1, text1, ts1), (src2, text2, ts2) = sent["reason"]
    assert (src1, text1) == ("gnt:user", "planned maintenance")
    assert (src2, text2) == ("gnt:client:gnt-test", "op")
    assert before <= ts1 <= ts2 <= time.time_ns()
    # options absent from the command line leave the opcode alone
    J.run_opcode(client, op(priority=5), argparse.Namespace(debug=0, reason=None))
    sent = queue.submitted[-1][0]
    assert sent["priority"] == 5 and "dry_run" not in sent


def test_opcode_objects_accepted(queue: MiniQueue, client: Client) -> None:
    class Op:
        def to_dict(self) -> dict[str, Any]:
            return {"OP_ID": "OP_TEST_DELAY", "result": "from object"}

    assert J.run_opcode(client, Op(), opts()) == "from object"


def test_print_jobid_before_polling(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    J.submit_opcode(client, op(messages=["hello"]), opts(print_jobid=True))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "100"
    assert lines[1].endswith(" hello")


def test_submit_only_raises_job_submitted(queue: MiniQueue, client: Client,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    queue.gate.clear()  # the job stays queued: --submit must not wait
    with pytest.raises(J.JobSubmitted) as info:
        J.submit_opcode(client, op(), opts(submit_only=True, print_jobid=True))
    assert info.value.job_id == 100
    assert capsys.readouterr().out == "100\n"
    assert queue.jobs[100]["status"] == C.JOB_STATUS_QUEUED


def test_queued_notice_once(queue: MiniQueue, client: Client,
                            capsys: pytest.CaptureFixture[str]) -> None:
    queue.gate.clear()
    job_id = J.send_job(client, [op(result="late")], opts())
    threading.Timer(0.7, queue.gate.set).start()
    assert J.poll_job(client, job_id, update_freq=0.1) == ["late"]
    assert capsys.readouterr().err == f"Job {job_id} is waiting in queue\n"


def test_canceled_job(queue: MiniQueue, client: Client) -> None:
    queue.gate.clear()
    job_id = J.send_job(client, [op()], opts())
    with Client(queue.sock) as other:  # type: ignore[attr-defined]
        assert other.cancel_job(job_id) == (True, f"Job {job_id} canceled")
    with pytest.raises(errors.JobCanceled, match="Job was canceled"):
        J.poll_job(client, job_id)


def test_lost_job(client: Client) -> None:
    with pytest.raises(errors.JobLost, match="Job with id 999 lost"):
        J.poll_job(client, 999)


def test_submit_many_waits_and_reports(client: Client,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    results = J.submit_many(client, [
        ("inst1", op(result="r1")),
        ("inst2", op(fail=["OpExecError", "Could not start instance", errors.ECODE_FAULT])),
        ("inst3", op(result="r3")),
        ("bad", {"no": "OP_ID"}),
    ], opts())
    assert results[0] == (True, ["r1"])
    assert results[1] == (False, "Failure: command execution error:\nCould not start instance")
    assert results[2] == (True, ["r3"])
    assert results[3][0] is False and "OP_ID" in results[3][1]
    out = capsys.readouterr()
    assert out.out.splitlines()[0] == "Submitted jobs 100, 101, 102"
    for job_id, name in ((100, "inst1"), (101, "inst2"), (102, "inst3")):
        assert f"Waiting for job {job_id} for {name} ..." in out.out
    assert "Job 101 for inst2 has failed: Failure: command execution error:\n" \
           "Could not start instance" in out.err
    assert "Failed to submit job for bad: " in out.err


def test_submit_many_with_submit_only_prints_ids(queue: MiniQueue, client: Client,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    queue.gate.clear()
    results = J.submit_many(client, [("inst1", op()), ("inst2", op())],
                            opts(submit_only=True))
    assert results == [(True, 100), (True, 101)]
    assert capsys.readouterr().out == "100: inst1\n101: inst2\n"


def test_job_executor_one_submit_per_job(queue: MiniQueue, client: Client) -> None:
    ex = J.JobExecutor(client, opts=opts(), verbose=False)
    ex.queue_job("a", op(result=1), op(result=2))
    ex.queue_job("b", op(result=3))
    ex.submit_pending(each=True)
    assert ex.get_results() == [(True, [1, 2]), (True, [3])]
    assert len(queue.submitted) == 2


# --- end to end through gnt.cli.base.run ---------------------------------


def _startup(o: argparse.Namespace, args: list[str]) -> int:
    with Client(o.sock) as c:
        for name in args:
            J.submit_opcode(c, op(messages=[f"Starting {name}"], instance_name=name), o)
    return 0


def _failing(o: argparse.Namespace, args: list[str]) -> int:
    with Client(o.sock) as c:
        J.submit_opcode(c, op(fail=["OpPrereqError", f"Instance '{args[0]}' is not known",
                                    errors.ECODE_NOENT]), o)
    return 0


COMMANDS = {
    "startup": B.Command(_startup, B.ARGS_MANY_INSTANCES, [O.FORCE_OPT, *O.JOB_OPTS],
                         "<instance>...", "Start instances", aliases=("start",)),
    "fail": B.Command(_failing, B.ARGS_ONE_INSTANCE, O.JOB_OPTS, "<instance>", "Fails"),
}


def test_cli_submit_prints_jobid(queue: MiniQueue, capsys: pytest.CaptureFixture[str]) -> None:
    queue.gate.clear()
    rc = B.run("gnt-instance", COMMANDS, ["start", "--submit", "web1"],
               override={"sock": queue.sock})  # type: ignore[attr-defined]
    assert rc == 0
    captured = capsys.readouterr()
    assert captured.err == "JobID: 100\n" and captured.out == ""
    sent = queue.submitted[0][0]
    assert sent["instance_name"] == "web1"
    assert sent["reason"][-1][:2] == ["gnt:client:gnt-instance", "startup"]


def test_cli_waits_and_shows_log(queue: MiniQueue, capsys: pytest.CaptureFixture[str]) -> None:
    rc = B.run("gnt-instance", COMMANDS, ["startup", "--priority", "low", "web1"],
               override={"sock": queue.sock})  # type: ignore[attr-defined]
    assert rc == 0
    assert re.fullmatch(f"{CTIME} Starting web1\n", capsys.readouterr().out)
    assert queue.submitted[0][0]["priority"] == C.OP_PRIO_LOW


def test_cli_job_error_message_and_exit_code(queue: MiniQueue,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    rc = B.run("gnt-instance", COMMANDS, ["fail", "web9"],
               override={"sock": queue.sock})  # type: ignore[attr-defined]
    assert rc == 1
    assert capsys.readouterr().err == ("Failure: prerequisites not met for this operation:\n"
                                       "error type: unknown_entity, error details:\n"
                                       "Instance 'web9' is not known\n")
