"""``gnt-job``: list, inspect, follow, cancel and archive jobs."""

from __future__ import annotations

import argparse
from typing import Any

from gnt import errors
from gnt.cli import options as O
from gnt.cli.base import (
    ARGS_ANY,
    ARGS_MANY_JOBS,
    ARGS_ONE_JOB,
    Command,
    args_fixed,
    get_client,
    run,
)
from gnt.cli.jobs import poll_job
from gnt.cli.output import format_log_message, format_timestamp, to_stdout
from gnt.cli.table import generic_list, generic_list_fields
from gnt.query.defaults import JOB as DEFAULT_FIELDS

_STATUS_FILTERS = {"pending": ["queued", "waiting"], "running": ["running"],
                   "error": ["error"], "finished": ["success", "error", "canceled"]}


def _status_opt(flag: str, key: str, help_: str) -> O.Option:
    return O.Option(flag, dest="status_filter", action="store_const", const=key,
                    default=None, help=help_)


STATUS_OPTS = [
    _status_opt("--pending", "pending", "Show only jobs pending execution"),
    _status_opt("--running", "running", "Show jobs currently running"),
    _status_opt("--error", "error", "Show failed jobs"),
    _status_opt("--finished", "finished", "Show finished jobs"),
]
ARCHIVED_OPT = O.Option("--archived", dest="archived", default=False, action="store_true",
                        help="Include archived jobs in list (slow and expensive)")


def _job_ids(args: list[str]) -> list[int]:
    out = []
    for a in args:
        try:
            out.append(int(a))
        except ValueError:
            raise errors.OpPrereqError(f"Invalid job ID '{a}'", errors.ECODE_INVAL) from None
    return out


def list_jobs(opts: argparse.Namespace, args: list[str]) -> int:
    fields = O.parse_fields(opts.output, DEFAULT_FIELDS)
    qfilter = None
    if opts.status_filter:
        qfilter = ["|"] + [["=", "status", s] for s in _STATUS_FILTERS[opts.status_filter]]
    if opts.archived:
        # mentioning "archived" makes the master include archived jobs
        every = ["|", ["=", "archived", True], ["=", "archived", False]]
        qfilter = every if qfilter is None else ["&", every, qfilter]
    return generic_list(get_client(), "job", fields, args, opts.units, opts.separator,
                        not opts.no_headers, verbose=opts.verbose, namefield="id",
                        isnumeric=True, qfilter=qfilter)


def list_fields(opts: argparse.Namespace, args: list[str]) -> int:
    return generic_list_fields(get_client(), "job", args, opts.separator,
                               not opts.no_headers)


def show_info(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-job info``: every detail of each job (Ganeti's layout)."""
    fields = ["id", "ops", "status", "received_ts", "start_ts", "end_ts", "opstatus",
              "oplog", "opresult", "opexec", "opend", "priority", "oppriority"]
    rows = get_client().query_jobs(_job_ids(args), fields)
    for job_id, row in zip(args, rows):
        if row is None:
            to_stdout("Job ID: %s not found", job_id)
            continue
        (jid, ops_, status, recv, start, end, opstatus, oplog, opresult, opexec, opend,
         prio, opprio) = row
        to_stdout("- Job ID: %s", jid)
        to_stdout("  Status: %s", status)
        to_stdout("  Priority: %s", prio)
        to_stdout("  Received:         %s", format_timestamp(recv))
        to_stdout("  Processing start: %s", format_timestamp(start) if start else "unknown")
        to_stdout("  Processing end:   %s", format_timestamp(end) if end else "unknown")
        to_stdout("  Opcodes:")
        for op, st, log, res, ex, en, pr in zip(ops_, opstatus, oplog, opresult, opexec,
                                                 opend, opprio):
            to_stdout("    - Opcode: %s", op.get("OP_ID"))
            to_stdout("      Status: %s", st)
            to_stdout("      Priority: %s", pr)
            to_stdout("      Processing start: %s",
                      format_timestamp(ex) if ex else "N/A")
            to_stdout("      Processing end:   %s", format_timestamp(en) if en else "N/A")
            to_stdout("      Input fields:")
            for key in sorted(op):
                if key != "OP_ID":
                    to_stdout("        %s: %s", key, op[key])
            to_stdout("      Result: %s", _format_result(res))
            to_stdout("      Execution log:")
            for _serial, ts, ltype, msg in log:
                to_stdout("        - Time: %s", format_timestamp(ts))
                to_stdout("          Content: %s", format_log_message(ltype, msg))
    return 0


def _format_result(res: Any) -> str:
    if res is None:
        return "None"
    return str(res)


def watch_job(opts: argparse.Namespace, args: list[str]) -> int:
    """Follow a job's log until it ends."""
    job_id = _job_ids(args)[0]
    client = get_client()
    row = client.query_jobs([job_id], ["status"])[0]
    if row is None:
        raise errors.JobLost(f"Job with ID {job_id} not found", errors.ECODE_NOENT)
    to_stdout("Output from job %s follows", job_id)
    to_stdout("------------------------")
    try:
        poll_job(client, job_id)
    except errors.GntError as err:
        to_stdout("Job %s failed: %s", job_id, err)
        return 1
    return 0


def wait_job(opts: argparse.Namespace, args: list[str]) -> int:
    """Wait for a job to finish without printing its log."""
    try:
        poll_job(get_client(), _job_ids(args)[0], feedback_fn=lambda _msg: None)
    except errors.GntError as err:
        to_stdout("Job failed: %s", err)
        return 1
    return 0


def cancel_jobs(opts: argparse.Namespace, args: list[str]) -> int:
    client = get_client()
    bad = False
    for job_id in _job_ids(args):
        ok, msg = client.cancel_job(job_id)
        to_stdout("%s", msg)
        bad |= not ok
    return 1 if bad else 0


def archive_jobs(opts: argparse.Namespace, args: list[str]) -> int:
    client = get_client()
    for job_id in _job_ids(args):
        if not client.archive_job(job_id):
            to_stdout("Failed to archive job %s", job_id)
    return 0


def autoarchive(opts: argparse.Namespace, args: list[str]) -> int:
    age = -1 if args[0] == "all" else O.parse_timespec(args[0])
    archived, left = get_client().auto_archive_jobs(age, 60)
    to_stdout("Archived %s jobs, %s unchecked left", archived, left)
    return 0


COMMANDS = {
    "list": Command(list_jobs, ARGS_MANY_JOBS, [*O.LIST_OPTS, *STATUS_OPTS, ARCHIVED_OPT],
                    "[<job_id>...]", "Lists the jobs and their status"),
    "list-fields": Command(list_fields, ARGS_ANY, O.LIST_FIELDS_OPTS, "[fields...]",
                           "Lists all available fields for jobs"),
    "info": Command(show_info, ARGS_MANY_JOBS, [], "<job_id>...",
                    "Show detailed information about the specified jobs", aliases=("show",)),
    "watch": Command(watch_job, ARGS_ONE_JOB, [], "<job_id>", "Follows a job and prints its"
                     " output as it arrives"),
    "wait": Command(wait_job, ARGS_ONE_JOB, [], "<job_id>", "Wait for a job to finish"),
    "cancel": Command(cancel_jobs, ARGS_MANY_JOBS, [], "<job_id>...", "Cancel jobs"),
    "archive": Command(archive_jobs, ARGS_MANY_JOBS, [], "<job_id>...", "Archive jobs"),
    "autoarchive": Command(autoarchive, args_fixed(1, "age"), [],
                           "<age>", "Auto archive jobs older than the given age"),
}


def main(argv: list[str] | None = None) -> int:
    return run("gnt-job", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
