"""LUXI access for RAPI handlers (which run in worker threads).

Each worker thread keeps its own connection to the master daemon, so
concurrent requests never wait for each other's LUXI calls.  The helpers
turn LUXI answers into what RAPI returns and tell "the master cannot do
this yet" (501) apart from "the request is wrong" (400).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cli.jobs import job_result
from gnt.luxi import protocol as P
from gnt.luxi.client import Client
from gnt.rapi import httperror


class LuxiAccess:
    """Per-thread LUXI clients for the socket at ``socket_path`` (default:
    this root's master socket)."""

    def __init__(self, socket_path: str | os.PathLike[str] | None = None) -> None:
        self.socket_path = Path(socket_path) if socket_path is not None else None
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()

    def client(self) -> Client:
        """This thread's client (connected on first use).

        Raises :class:`gnt.errors.NoMasterError` when no master answers.
        """
        cl: Client | None = getattr(self._local, "client", None)
        if cl is None:
            cl = Client(self.socket_path)
            self._local.client = cl
            with self._lock:
                self._clients.append(cl)
        return cl

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            clients, self._clients = self._clients, []
        for cl in clients:
            cl.close()

    # --- jobs ---
    def submit(self, ops: Sequence[Any]) -> int:
        """Submit one job; returns its id."""
        return self.client().submit_job(ops)

    def run_job(self, ops: Sequence[Any], timeout: float) -> list[Any]:
        """Submit a job and wait up to ``timeout`` seconds for its end.

        Returns the opcode results; raises the job's error (decoded) or
        504 if it does not end in time.
        """
        cl = self.client()
        job_id = cl.submit_job(ops)
        deadline = time.monotonic() + timeout
        prev: list[Any] | None = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise httperror.HttpError(504, f"Job {job_id} did not finish within "
                                               f"{timeout:g} seconds")
            res = cl.wait_for_job_change_once(job_id, ["status"], prev, None,
                                              timeout=min(left, P.WFJC_TIMEOUT))
            if not res:
                raise errors.JobLost(f"Job {job_id} lost")
            if res == P.JOB_NOTCHANGED:
                continue
            prev = res[0]
            if prev[0] in C.JOBS_FINALIZED:
                break
        rows = cl.query_jobs([job_id], ["status", "opstatus", "opresult"])
        if not rows or rows[0] is None:
            raise errors.JobLost(f"Job {job_id} lost")
        return job_result(*rows[0])

    # --- queries ---
    def query(self, what: str, fields: Sequence[str], qfilter: Any = None) -> P.QueryResponse:
        """LUXI ``Query``; 501 if the master has no such resource."""
        try:
            return self.client().query(what, fields, qfilter)
        except errors.GntError as err:
            self._raise_if_unsupported(what, err)
            raise

    def query_rows(self, what: str, fields: Sequence[str],
                   qfilter: Any = None) -> list[list[Any]]:
        """Rows of plain values: each ``[status, value]`` becomes the value,
        or None when the status is not normal (unavailable, offline, unknown
        field), as Ganeti's old-style queries return them."""
        resp = self.query(what, fields, qfilter)
        return [[value if status == C.RS_NORMAL else None for status, value in row]
                for row in resp["data"]]

    def query_fields(self, what: str, fields: Sequence[str] | None) -> P.QueryFieldsResponse:
        try:
            return self.client().query_fields(what, fields)
        except errors.GntError as err:
            self._raise_if_unsupported(what, err)
            raise

    def supports_query(self, what: str) -> bool:
        """Whether the master answers queries on resource ``what``."""
        try:
            self.client().query_fields(what, ["name"])
        except errors.GntError as err:
            if err.ecode == errors.ECODE_INVAL and not isinstance(err, errors.LuxiError):
                return False
            raise
        return True

    def _raise_if_unsupported(self, what: str, err: errors.GntError) -> None:
        """After a failed query: 501 if the master lacks resource ``what``."""
        if err.ecode != errors.ECODE_INVAL or isinstance(err, errors.LuxiError):
            return
        if not self.supports_query(what):
            raise httperror.not_implemented(
                f"This gnt master does not answer queries on '{what}' yet") from err

    # --- other methods ---
    def call(self, method: str, args: Sequence[Any]) -> Any:
        """A LUXI method by name; 501 if the master does not know it."""
        try:
            return self.client().call(method, list(args))
        except P.RequestError as err:
            if str(err).startswith("Unknown LUXI method"):
                raise httperror.not_implemented(
                    f"This gnt master does not implement the LUXI method {method} yet"
                ) from err
            raise

    def supports_method(self, method: str) -> bool:
        """Whether the master knows LUXI method ``method`` (asked with no
        arguments: a known method refuses them, an unknown one is named)."""
        try:
            self.client().call(method, [])
        except P.RequestError as err:
            return not str(err).startswith("Unknown LUXI method")
        except errors.GntError:
            return True
        return True
