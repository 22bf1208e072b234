"""A job of the live queue as the queue holds it in memory.

Two copies: the *working* copy (``job``), changed only with ``lock`` held,
and the *published* one (``view``): the JSON form last written to disk,
which every read (queries, ``wait_for_job_change``) uses.  The queue writes
a change first and publishes it after, so readers never see unwritten state.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from gnt.jqueue import fields as F
from gnt.jqueue.model import QueuedJob, job_status_of, summarize_input


class LiveJob:
    """The working copy of a job, its lock and its published JSON form.

    A job loaded from disk in a final state (:meth:`loaded`) builds its
    working copy from the published form on first use: most of them are
    only ever queried or archived, and a queue of thousands of them loads
    much faster without parsing each into objects.
    """

    __slots__ = ("_job", "_job_id", "archived", "cond", "lock", "summary", "unpublished",
                 "view")

    def __init__(self, job: QueuedJob | None, summary: list[str] | None = None,
                 data: dict[str, Any] | None = None) -> None:
        self._job = job
        #: serialises changes of the job and their writes
        self.lock = threading.Lock()
        #: notified whenever ``view`` changes
        self.cond = threading.Condition(threading.Lock())
        if data is None:
            assert job is not None
            data = job.to_dict()
        self._job_id = int(data["id"])
        #: (published JSON form, its status); replaced, never mutated
        self.view: tuple[dict[str, Any], str] = (data, job_status_of(data))
        #: opcode summaries, computed on first use for loaded jobs
        self.summary = summary
        #: set once the job file moved to the archive
        self.archived = False
        #: the working copy has a change not yet written (a deferred "waiting")
        self.unpublished = False

    @classmethod
    def loaded(cls, data: dict[str, Any]) -> LiveJob:
        """A job read from its file (``data``, with an ``id``), its working
        copy parsed on first use.  Raises KeyError/ValueError without an id."""
        return cls(None, data=data)

    @property
    def job(self) -> QueuedJob:
        """The working copy (parsed from the published form on first use for a
        job made by :meth:`loaded`).  Raises JobFileCorrupt if that form does
        not parse."""
        if self._job is None:  # a copy: the published form is never changed in place
            self._job = QueuedJob.from_dict(copy.deepcopy(self.view[0]))
        return self._job

    @property
    def id(self) -> int:
        return self._job_id

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
