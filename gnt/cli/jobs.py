"""Submitting jobs from the CLI and following them to their end.

- :func:`submit_opcode`: one opcode as one job; with ``--submit`` only
  submits (raises :class:`JobSubmitted`, which :func:`gnt.cli.base.run` turns
  into ``JobID: <id>`` and exit 0), else waits and returns the opcode result.
- :func:`run_opcode` / :func:`run_job`: always wait.
- :func:`poll_job`: the ``WaitForJobChange`` loop, printing each job log
  entry as ``<ctime> <message>`` and returning the opcode results or raising
  the opcode's error (decoded: same class and ecode as in the master).
- :class:`JobExecutor` / :func:`submit_many`: mass operations, one job per
  opcode, with Ganeti's per-job reporting.

``opts`` is the parsed command line: ``debug``, ``dry_run``, ``priority``
(a number, see :data:`gnt.cli.options.PRIORITY_OPT`), ``reason``,
``submit_only`` and ``print_jobid`` are applied to every opcode / job.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from gnt import constants as C
from gnt import errors
from gnt.cli.errfmt import format_error
from gnt.cli.output import format_log_entry, to_stderr, to_stdout
from gnt.luxi import protocol as P

OPCODE_REASON_SRC_USER = "gnt:user"
OPCODE_REASON_SRC_CLIENT = "gnt:client"

#: jobs fetched per status query when choosing which job to wait for next
_CHOOSE_BATCH = 25

FeedbackFn = Callable[[tuple[Any, str, Any]], None]


class JobSubmitted(Exception):
    """Raised after ``--submit`` sent a job: not an error, the command is done.

    :func:`gnt.cli.base.run` prints ``JobID: <job_id>`` on stderr and exits 0.
    """

    def __init__(self, job_id: int) -> None:
        super().__init__(job_id)
        self.job_id = job_id


class LuxiJobClient(Protocol):
    """What this module needs from :class:`gnt.luxi.Client`."""

    def submit_job(self, ops: Iterable[Any]) -> int: ...

    def submit_many_jobs(self, jobs: Iterable[Iterable[Any]]) -> list[tuple[bool, Any]]: ...

    def wait_for_job_change_once(self, job_id: int, fields: Sequence[str],
                                 prev_job_info: list[Any] | None,
                                 prev_log_serial: int | None,
                                 timeout: float = ...) -> Any: ...

    def query_jobs(self, job_ids: Sequence[int] | None,
                   fields: Sequence[str]) -> list[list[Any] | None]: ...


# ---------------------------------------------------------------------------
# generic opcode options


def _epoch_nano() -> int:
    return time.time_ns()


def reason_trail(opts: Any) -> list[list[Any]]:
    """The initial reason trail: the user's ``--reason`` (if any), then
    ``["gnt:client:<tool>", <subcommand>, <epoch ns>]``."""
    trail: list[list[Any]] = []
    reason = getattr(opts, "reason", None)
    if reason:
        trail.append([OPCODE_REASON_SRC_USER, str(reason), _epoch_nano()])
    tool = getattr(opts, "cli_tool", None) or os.path.basename(sys.argv[0] or "gnt")
    command = getattr(opts, "cli_command", None) or (sys.argv[1] if len(sys.argv) > 1 else "")
    trail.append([f"{OPCODE_REASON_SRC_CLIENT}:{tool}", command, _epoch_nano()])
    return trail


def _op_dict(op: Any) -> dict[str, Any]:
    if isinstance(op, dict):
        return dict(op)
    to_dict = getattr(op, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    raise errors.ProgrammerError(f"Not an opcode: {op!r}")


def set_generic_opcode_opts(ops: Iterable[Any], opts: Any) -> list[dict[str, Any]]:
    """Opcode dicts (copies) with the generic options of ``opts`` applied:
    ``debug_level``, ``dry_run`` (if the command has it), ``priority`` (if
    given) and a fresh ``reason`` trail.  ``ops`` are dicts with ``OP_ID``
    or opcode objects (``to_dict()``)."""
    out = [_op_dict(op) for op in ops]
    if opts is None:
        return out
    for op in out:
        op["debug_level"] = int(getattr(opts, "debug", 0) or 0)
        if hasattr(opts, "dry_run"):
            op["dry_run"] = bool(opts.dry_run)
        prio = getattr(opts, "priority", None)
        if prio is not None:
            op["priority"] = C.PRIORITY_NAMES[prio] if isinstance(prio, str) else int(prio)
        op["reason"] = reason_trail(opts)
    return out


# ---------------------------------------------------------------------------
# following a job


class JobReporter:
    """Receives what :func:`poll_job` sees; subclass to change the output."""

    def log_message(self, job_id: int, serial: int, timestamp: Any, log_type: str,
                    message: Any) -> None:
        raise NotImplementedError

    def not_changed(self, job_id: int, status: str | None) -> None:
        raise NotImplementedError


class StdioReporter(JobReporter):
    """Ganeti's terminal output: log entries on stdout as ``<ctime> <message>``,
    "waiting in queue" / "trying to acquire locks" notes once on stderr."""

    def __init__(self) -> None:
        self._notified_queued = False
        self._notified_waiting = False

    def log_message(self, job_id: int, serial: int, timestamp: Any, log_type: str,
                    message: Any) -> None:
        to_stdout(format_log_entry(timestamp, log_type, message))

    def not_changed(self, job_id: int, status: str | None) -> None:
        if status == C.JOB_STATUS_QUEUED and not self._notified_queued:
            to_stderr("Job %s is waiting in queue", job_id)
            self._notified_queued = True
        elif status == C.JOB_STATUS_WAITING and not self._notified_waiting:
            to_stderr("Job %s is trying to acquire all necessary locks", job_id)
            self._notified_waiting = True


class FeedbackReporter(JobReporter):
    """Passes each log entry to ``feedback_fn((timestamp, log_type, message))``."""

    def __init__(self, feedback_fn: FeedbackFn) -> None:
        self.feedback_fn = feedback_fn

    def log_message(self, job_id: int, serial: int, timestamp: Any, log_type: str,
                    message: Any) -> None:
        self.feedback_fn((timestamp, log_type, message))

    def not_changed(self, job_id: int, status: str | None) -> None:
        pass


def _is_encoded_error(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and isinstance(value[0], str) and isinstance(value[1], (list, tuple)))


def job_result(status: str, opstatus: Sequence[str], opresult: Sequence[Any]) -> list[Any]:
    """The opcode results of a finished job, or raise its failure.

    Raises :class:`gnt.errors.JobCanceled` for a canceled job, the first
    failed opcode's error (decoded, with its class and ecode), or
    :class:`gnt.errors.OpExecError` for an unencoded failure (``partial
    failure (opcode N)`` if an earlier opcode had succeeded).
    """
    if status == C.JOB_STATUS_SUCCESS:
        return list(opresult)
    if status in (C.JOB_STATUS_CANCELING, C.JOB_STATUS_CANCELED):
        raise errors.JobCanceled("Job was canceled")
    has_ok = False
    for idx, (op_status, msg) in enumerate(zip(opstatus or [], opresult or [])):
        if op_status == C.OP_STATUS_SUCCESS:
            has_ok = True
        elif op_status == C.OP_STATUS_ERROR:
            if _is_encoded_error(msg):
                raise errors.decode(msg)
            if has_ok:
                raise errors.OpExecError(f"partial failure (opcode {idx}): {msg}")
            raise errors.OpExecError(str(msg))
    raise errors.OpExecError(f"Job ended with status '{status}': {opresult}")


def poll_job(client: LuxiJobClient, job_id: int, feedback_fn: FeedbackFn | None = None,
             reporter: JobReporter | None = None,
             update_freq: float = P.WFJC_TIMEOUT) -> list[Any]:
    """Wait for job ``job_id`` to finish, reporting its log; return the
    results of its opcodes (see :func:`job_result` for the errors).

    Raises :class:`gnt.errors.JobLost` if the job disappears.
    """
    if reporter is None:
        reporter = FeedbackReporter(feedback_fn) if feedback_fn else StdioReporter()
    elif feedback_fn:
        raise errors.ProgrammerError("Give either a reporter or a feedback function")
    prev_job_info: list[Any] | None = None
    prev_log_serial: int | None = None
    status: str | None = None
    while True:
        result = client.wait_for_job_change_once(job_id, ["status"], prev_job_info,
                                                 prev_log_serial, timeout=update_freq)
        if not result:
            raise errors.JobLost(f"Job with id {job_id} lost")
        if result == P.JOB_NOTCHANGED:
            reporter.not_changed(job_id, status)
            continue
        job_info, log_entries = result
        status = job_info[0]
        for serial, timestamp, log_type, message in log_entries or []:
            reporter.log_message(job_id, serial, timestamp, log_type, message)
            prev_log_serial = serial if prev_log_serial is None else max(prev_log_serial,
                                                                         serial)
        if status in C.JOBS_FINALIZED or status == C.JOB_STATUS_CANCELING:
            break
        prev_job_info = job_info
    jobs = client.query_jobs([job_id], ["status", "opstatus", "opresult"])
    if not jobs or jobs[0] is None:
        raise errors.JobLost(f"Job with id {job_id} lost")
    final_status, opstatus, opresult = jobs[0]
    return job_result(final_status, opstatus, opresult)


# ---------------------------------------------------------------------------
# submitting


def send_job(client: LuxiJobClient, ops: Iterable[Any], opts: Any = None) -> int:
    """Submit one job (generic options applied); return its id."""
    return client.submit_job(set_generic_opcode_opts(ops, opts))


def run_job(client: LuxiJobClient, ops: Iterable[Any], opts: Any = None,
            feedback_fn: FeedbackFn | None = None,
            reporter: JobReporter | None = None) -> list[Any]:
    """Submit one job and wait for it; return the opcode results.

    With ``--print-jobid`` the job id is printed on stdout first.
    """
    job_id = send_job(client, ops, opts)
    if getattr(opts, "print_jobid", False):
        to_stdout("%d", job_id)
    return poll_job(client, job_id, feedback_fn=feedback_fn, reporter=reporter)


def run_opcode(client: LuxiJobClient, op: Any, opts: Any = None,
               feedback_fn: FeedbackFn | None = None,
               reporter: JobReporter | None = None) -> Any:
    """Submit ``op`` as a job, wait, return its result (ignores ``--submit``)."""
    return run_job(client, [op], opts, feedback_fn=feedback_fn, reporter=reporter)[0]


def submit_opcode(client: LuxiJobClient, op: Any, opts: Any = None,
                  feedback_fn: FeedbackFn | None = None,
                  reporter: JobReporter | None = None) -> Any:
    """Submit ``op`` as one job; honour ``--submit`` and ``--print-jobid``.

    With ``--submit``: submit, print the id on stdout if ``--print-jobid``,
    then raise :class:`JobSubmitted` (the command ends with ``JobID: <id>``,
    exit 0).  Otherwise wait and return the opcode's result, or raise its
    error.
    """
    if getattr(opts, "submit_only", False):
        job_id = send_job(client, [op], opts)
        if getattr(opts, "print_jobid", False):
            to_stdout("%d", job_id)
        raise JobSubmitted(job_id)
    return run_opcode(client, op, opts, feedback_fn=feedback_fn, reporter=reporter)


class JobExecutor:
    """Submit several jobs at once and collect their results (mass operations).

    ``queue_job(name, *ops)`` for each job, then :meth:`get_results` (submit,
    wait for all, report per job) or :meth:`wait_or_show`.
    """

    def __init__(self, client: LuxiJobClient, opts: Any = None, verbose: bool = True,
                 feedback_fn: FeedbackFn | None = None) -> None:
        self.client = client
        self.opts = opts
        self.verbose = verbose
        self.feedback_fn = feedback_fn
        self.queue: list[tuple[int, str, list[dict[str, Any]]]] = []
        #: (index, submitted, job id or error message, name)
        self.jobs: list[tuple[int, bool, Any, str]] = []
        self._counter = 0

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def queue_job(self, name: str, *ops: Any) -> None:
        """Record a job (one or more opcodes) to submit; ``name`` labels it."""
        self.queue.append((self._next(), name, set_generic_opcode_opts(ops, self.opts)))

    def add_job_id(self, name: str, status: bool, job_id: Any) -> None:
        """Follow an already submitted job too."""
        self.jobs.append((self._next(), status, job_id, name))

    def submit_pending(self, each: bool = False) -> None:
        """Submit every queued job (one SubmitManyJobs call, or one call each)."""
        if each:
            results: list[tuple[bool, Any]] = []
            for _, _, ops in self.queue:
                try:
                    results.append((True, self.client.submit_job(ops)))
                except errors.GntError as err:
                    results.append((False, format_error(err)[1]))
        else:
            results = self.client.submit_many_jobs([ops for _, _, ops in self.queue])
        for (ok, data), (idx, name, _) in zip(results, self.queue):
            self.jobs.append((idx, ok, data, name))
        self.queue = []

    @staticmethod
    def _for(name: str, fmt: str = " for %s") -> str:
        return fmt % name if name else ""

    def _choose_job(self) -> tuple[int, bool, Any, str]:
        """A job to wait for next: preferably one already running or done."""
        batch = self.jobs[:_CHOOSE_BATCH]
        statuses = self.client.query_jobs([j[2] for j in batch], ["status"])
        for job, status in zip(batch, statuses):
            if status and status[0] in C.JOBS_PENDING:
                continue
            self.jobs.remove(job)
            return job
        return self.jobs.pop(0)

    def get_results(self) -> list[tuple[bool, Any]]:
        """Submit pending jobs, wait for all; per job in queue order
        ``(True, opcode results)`` or ``(False, error message)``."""
        if self.queue:
            self.submit_pending()
        if self.verbose:
            ok_ids = [str(j[2]) for j in self.jobs if j[1]]
            if ok_ids:
                to_stdout("Submitted jobs %s", ", ".join(ok_ids))
        results: list[tuple[int, bool, Any]] = []
        failed = [j for j in self.jobs if not j[1]]
        self.jobs = [j for j in self.jobs if j[1]]
        for idx, _, msg, name in failed:
            to_stderr("Failed to submit job%s: %s", self._for(name), msg)
            results.append((idx, False, msg))
        while self.jobs:
            idx, _, job_id, name = self._choose_job()
            to_stdout("Waiting for job %s%s ...", job_id, self._for(name))
            try:
                value: Any = poll_job(self.client, job_id, feedback_fn=self.feedback_fn)
                ok = True
            except errors.JobLost as err:
                value = format_error(err)[1]
                to_stderr("Job %s%s has been archived, cannot check its result",
                          job_id, self._for(name))
                ok = False
            except errors.GntError as err:
                value = format_error(err)[1]
                to_stderr("Job %s%s has failed: %s", job_id, self._for(name), value)
                ok = False
            results.append((idx, ok, value))
        results.sort(key=lambda r: r[0])
        return [(ok, value) for _, ok, value in results]

    def wait_or_show(self, wait: bool) -> list[tuple[bool, Any]]:
        """Wait for results (``wait``) or just submit and print ``<id>: <name>``."""
        if wait:
            return self.get_results()
        if self.queue:
            self.submit_pending()
        for _, ok, data, name in self.jobs:
            if ok:
                to_stdout("%s: %s", data, name)
            else:
                to_stderr("Failure for %s: %s", name, data)
        return [(ok, data) for _, ok, data, _ in self.jobs]


def submit_many(client: LuxiJobClient, named_ops: Iterable[tuple[str, Any]], opts: Any = None,
                verbose: bool = True,
                feedback_fn: FeedbackFn | None = None) -> list[tuple[bool, Any]]:
    """One job per ``(name, opcode)``; with ``--submit`` only print
    ``<job id>: <name>`` per job, else wait for all and report each.
    Returns per job ``(success, results or message)``."""
    executor = JobExecutor(client, opts=opts, verbose=verbose, feedback_fn=feedback_fn)
    for name, op in named_ops:
        executor.queue_job(name, op)
    return executor.wait_or_show(not getattr(opts, "submit_only", False))
