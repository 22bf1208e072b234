"""The LUXI methods the master daemon serves (Ganeti's names and arguments)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gnt import errors
from gnt.cmdlib.cluster import cluster_info
from gnt.cmdlib.tags import tag_target
from gnt.luxi import protocol as P
from gnt.masterd import queries
from gnt.masterd.context import MasterContext
from gnt.opcodes import base as opbase


def _ops(ops: Any) -> list[opbase.OpCode]:
    if not isinstance(ops, list) or not ops:
        raise errors.OpPrereqError("A job needs a non-empty list of opcodes",
                                   errors.ECODE_INVAL)
    return [opbase.from_dict(o) for o in ops]


def _job_id(job_id: Any) -> int:
    try:
        return int(job_id)
    except (TypeError, ValueError):
        raise errors.OpPrereqError(f"Invalid job id {job_id!r}", errors.ECODE_INVAL) from None


def methods(ctx: MasterContext) -> dict[str, Callable[..., Any]]:
    """Method name -> implementation, for :func:`gnt.luxi.server.make_dispatcher`."""
    q = ctx.queue

    def submit_many(jobs: list[Any]) -> list[Any]:
        parsed: list[list[opbase.OpCode]] = []
        out: list[Any] = []
        for ops in jobs:
            parsed.append(_ops(ops))
        for ok, val in q.submit_many(parsed):
            out.append([ok, val])
        return out

    def config_values(names: list[str]) -> list[Any]:
        cl = ctx.cfg.data.cluster
        info = cluster_info(ctx.cfg.data)
        out = []
        for n in names:
            if n == "drain_flag":
                out.append(q.is_drained())
            elif n == "watcher_pause":
                out.append(None)
            elif n in info:
                out.append(info[n])
            elif n in ("cluster_name",):
                out.append(cl.cluster_name)
            else:
                raise errors.OpPrereqError(f"Unknown config value '{n}'", errors.ECODE_INVAL)
        return out

    def query_tags(kind: str, name: str) -> list[str]:
        return sorted(tag_target(ctx.cfg.data, kind, name or None).tags)

    return {
        P.REQ_SUBMIT_JOB: lambda ops: q.submit(_ops(ops)),
        P.REQ_SUBMIT_JOB_TO_DRAINED_QUEUE: lambda ops: q.submit_to_drained_queue(_ops(ops)),
        P.REQ_SUBMIT_MANY_JOBS: submit_many,
        P.REQ_WAIT_FOR_JOB_CHANGE: lambda job_id, fields, prev_info, prev_serial, timeout:
            q.wait_for_job_change(_job_id(job_id), fields, prev_info, prev_serial,
                                  min(float(timeout), P.WFJC_TIMEOUT)),
        P.REQ_CANCEL_JOB: lambda job_id, kill=False: q.cancel(_job_id(job_id)),
        P.REQ_ARCHIVE_JOB: lambda job_id: q.archive(_job_id(job_id)),
        P.REQ_AUTO_ARCHIVE_JOBS: lambda age, timeout: q.auto_archive(age, timeout),
        P.REQ_CHANGE_JOB_PRIORITY: lambda job_id, prio: q.change_priority(_job_id(job_id),
                                                                          int(prio)),
        P.REQ_QUERY_JOBS: lambda job_ids, fields: q.query(
            [_job_id(j) for j in job_ids] if job_ids else None, fields),
        P.REQ_QUERY: lambda what, fields, qfilter=None: queries.query(ctx, what, fields,
                                                                     qfilter),
        P.REQ_QUERY_FIELDS: lambda what, fields=None: queries.query_fields(ctx, what, fields),
        P.REQ_QUERY_CLUSTER_INFO: lambda: cluster_info(ctx.cfg.data),
        P.REQ_QUERY_CONFIG_VALUES: config_values,
        P.REQ_QUERY_TAGS: query_tags,
        P.REQ_SET_DRAIN_FLAG: lambda flag: q.set_drain_flag(bool(flag)),
    }
