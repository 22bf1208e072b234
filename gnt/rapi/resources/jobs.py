"""Job resources: ``/2/jobs``, ``/2/jobs/<id>`` and ``/2/jobs/<id>/wait``."""

from __future__ import annotations

from typing import Any

from gnt.luxi import protocol as P
from gnt.rapi import bodies, httperror
from gnt.rapi import permissions as perm
from gnt.rapi.constants import JOB_FIELDS, JOB_FIELDS_BULK, WFJC_TIMEOUT
from gnt.rapi.resources.common import (
    OBJECT_SCHEMA,
    Q_BULK,
    bulk_or_list_schema,
    const_schema,
    model_schema,
)
from gnt.rapi.routing import Call, Endpoint, resource


def _list(call: Call) -> list[dict[str, Any]]:
    cl = call.luxi.client()
    if call.bulk:
        rows = [r for r in cl.query_jobs(None, JOB_FIELDS_BULK) if r is not None]
        return [dict(zip(JOB_FIELDS_BULK, r)) for r in rows]
    ids = sorted(int(r[0]) for r in cl.query_jobs(None, ["id"]) if r is not None)
    return [{"id": j, "uri": f"/2/jobs/{j}"} for j in ids]


def _job_id(call: Call) -> int:
    return int(call.params["job_id"])


def _get(call: Call) -> dict[str, Any]:
    rows = call.luxi.client().query_jobs([_job_id(call)], JOB_FIELDS)
    if not rows or rows[0] is None:
        raise httperror.not_found(f"Job {_job_id(call)} not found")
    return dict(zip(JOB_FIELDS, rows[0]))


def _cancel(call: Call) -> list[Any]:
    ok, msg = call.luxi.client().cancel_job(_job_id(call))
    return [ok, msg]


def _wait(call: Call) -> dict[str, Any] | None:
    req = bodies.parse(bodies.WaitBody, call.body)
    result = call.luxi.client().wait_for_job_change_once(
        _job_id(call), req.fields, req.previous_job_info, req.previous_log_serial,
        timeout=WFJC_TIMEOUT)
    if not result:
        raise httperror.not_found(f"Job {_job_id(call)} not found")
    if result == P.JOB_NOTCHANGED:
        return None
    job_info, log_entries = result
    return {"job_info": job_info, "log_entries": log_entries}


resource("/2/jobs", "jobs", GET=Endpoint(
    handler=_list, permission=perm.JOBS_LIST, public=True, summary="All jobs",
    query=(Q_BULK,), result=bulk_or_list_schema("id")))
resource("/2/jobs/{job_id}", "jobs_id",
         GET=Endpoint(handler=_get, permission=perm.JOBS_QUERY, public=True,
                      summary="A job: status, opcodes, results and log", result=OBJECT_SCHEMA,
                      extra_statuses=(404,)),
         DELETE=Endpoint(handler=_cancel, permission=perm.JOBS_CANCEL,
                         summary="Cancel a job that has not started yet",
                         result=const_schema({"type": "array", "description":
                                              "[success, message]"})))
resource("/2/jobs/{job_id}/wait", "jobs_id_wait", GET=Endpoint(
    handler=_wait, permission=perm.JOBS_WAIT,
    summary=f"Wait up to {WFJC_TIMEOUT} s for a change of the job (null: no change)",
    body=model_schema(bodies.WaitBody), body_required=True,
    result=const_schema({"anyOf": [{"type": "null"}, {"type": "object", "properties": {
        "job_info": {"type": "array"}, "log_entries": {"type": "array"}}}]}),
    extra_statuses=(404,)))
