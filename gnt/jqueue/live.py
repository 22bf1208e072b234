"""A job of the live queue as the queue holds it in memory.

Two copies: the *working* copy (``job``), changed only with ``lock`` held,
and the *published* one (``view``): the JSON form last written to disk,
which every read (queries, ``wait_for_job_change``) uses.  The queue writes
a change first and publishes it after, so readers never see unwritten state.
"""

from __future__ import annotations

import threading
from typing import Any

from gnt.jqueue import fields as F
from gnt.jqueue.model import QueuedJob, job_status_of, summarize_input


class LiveJob:
    """The working copy of a job, its lock and its published JSON form."""

    __slots__ = ("archived", "cond", "job", "lock", "summary", "unpublished", "view")

    def __init__(self, job: QueuedJob, summary: list[str] | None = None) -> None:
        self.job = job
        #: serialises changes of the job and their writes
        self.lock = threading.Lock()
        #: notified whenever ``view`` changes
        self.cond = threading.Condition(threading.Lock())
        data = job.to_dict()
        #: (published JSON form, its status); replaced, never mutated
        self.view: tuple[dict[str, Any], str] = (data, job_status_of(data))
        #: opcode summaries, computed on first use for loaded jobs
        self.summary = summary
        #: set once the job file moved to the archive
        self.archived = False
        #: the working copy has a change not yet written (a deferred "waiting")
        self.unpublished = False

    @property
    def id(self) -> int:
        return self.job.id

    @property
    def status(self) -> str:
        """The published status."""
        return self.view[1]

    def summaries(self) -> list[str]:
        if self.summary is None:
            self.summary = [summarize_input(op["input"]) for op in self.view[0]["ops"]]
        return self.summary

    def field_view(self) -> F.JobView:
        data, status = self.view
        return F.JobView(data, status, self.archived, self.summaries)

    def publish(self, data: dict[str, Any]) -> str:
        """Make ``data`` (just written) the published form and wake waiters;
        returns the new status."""
        status = job_status_of(data)
        with self.cond:
            self.view = (data, status)
            self.cond.notify_all()
        return status
