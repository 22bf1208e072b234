"""Replicas on master candidates: config, job queue; votes; leaving the cluster.

The master pushes every config write (``config_replicate``) and every job
file change (``jobqueue_update``/``jobqueue_archive``) to the master
candidates, so any of them can take over (``gnt-cluster master-failover``).
Config content travels zlib-compressed and base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import signal
import threading
import zlib
from typing import Any

from gnt import errors, netutils, paths
from gnt.config import ssconf
from gnt.jqueue.store import JOB_FILE_MODE, JobStore
from gnt.noded.procs.basic import write_ssconf_files
from gnt.noded.registry import procedure
from gnt.utils.io import atomic_write, fsync_dir

log = logging.getLogger(__name__)

_JOB_ID_MAX = 2**53
#: a ``serial_no`` key and its value; in ``config.data`` the top-level one is the
#: last (written after every nested object, in field order as in sorted order)
_SERIAL_RE = re.compile(rb'"serial_no":\s*(\d+)')


def encode_config(raw: bytes) -> str:
    """``config.data`` bytes as the wire form (zlib + base64)."""
    return base64.b64encode(zlib.compress(raw, 3)).decode("ascii")


def decode_config(wire: str) -> bytes:
    """Inverse of :func:`encode_config`; raises ParameterError for bad input."""
    try:
        return zlib.decompress(base64.b64decode(wire, validate=True))
    except (binascii.Error, ValueError, zlib.error, TypeError) as err:
        raise errors.ParameterError(f"Bad config content: {err}", errors.ECODE_INVAL) from None


def config_serial_of(raw: bytes) -> int | None:
    """The top-level ``serial_no`` of ``config.data`` content (found without
    parsing the whole file), or None if it has none."""
    pos = raw.rfind(b'"serial_no":')
    m = _SERIAL_RE.match(raw, pos) if pos >= 0 else None
    if m:
        return int(m.group(1))
    try:
        return int(json.loads(raw).get("serial_no"))
    except (ValueError, TypeError, AttributeError):
        return None


def local_config_serial() -> int | None:
    """``serial_no`` of this node's ``config.data``, or None without one."""
    try:
        raw = paths.get().cluster_conf_file.read_bytes()
    except FileNotFoundError:
        return None
    return config_serial_of(raw)


@procedure("config_replicate")
def config_replicate(config: str | None, values: dict[str, str] | None) -> int | None:
    """Store a new ``config.data`` (wire form, or None) and ssconf ``values``.

    A config older than the one on disk (lower ``serial_no``) is refused,
    so a delayed push never rolls a replica back.  Returns the serial now
    on disk.  Raises :class:`errors.OpPrereqError` for an older config,
    ParameterError for malformed content.
    """
    if config is not None:
        raw = decode_config(config)  # zlib checks its integrity
        serial = config_serial_of(raw) if raw.lstrip().startswith(b"{") else None
        if serial is None:
            raise errors.ParameterError("Config without serial_no", errors.ECODE_INVAL)
        have = local_config_serial()
        if have is not None and serial < have:
            raise errors.OpPrereqError(
                f"Refusing config serial {serial}: this node has {have}", errors.ECODE_STATE)
        atomic_write(paths.get().cluster_conf_file, raw, mode=0o600)
    if values is not None:
        write_ssconf_files(values)
    return local_config_serial()


@procedure("config_serial")
def config_serial() -> int | None:
    """``serial_no`` of this node's config replica (None without one)."""
    return local_config_serial()


@procedure("node_replica_state")
def node_replica_state() -> dict[str, Any]:
    """For ``gnt-cluster verify``: ``{"config_serial": int or None,
    "ssconf": {key: content}}`` as found on this node."""
    return {"config_serial": local_config_serial(), "ssconf": ssconf.read_all()}


@procedure("config_fetch")
def config_fetch() -> str | None:
    """This node's ``config.data`` in wire form (None without one)."""
    try:
        return encode_config(paths.get().cluster_conf_file.read_bytes())
    except FileNotFoundError:
        return None


def _store() -> JobStore:
    store = JobStore.from_paths()
    store.queue_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    return store


def _job_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < _JOB_ID_MAX:
        raise errors.ParameterError(f"Bad job id {value!r}", errors.ECODE_INVAL)
    return value


@procedure("jobqueue_update")
def jobqueue_update(jobs: list[list[Any]], serial: int | None) -> int:
    """Write replicas of job files: ``jobs`` is ``[[job_id, json_text], ...]``;
    ``serial`` (optional) the last job id handed out.  Returns the count."""
    store = _store()
    checked = []
    for item in jobs:
        job_id, text = item
        if not isinstance(text, str):
            raise errors.ParameterError("Job content must be JSON text", errors.ECODE_INVAL)
        checked.append((_job_id(job_id), text))
    for job_id, text in checked:  # one directory fsync below covers every rename
        atomic_write(store.live_path(job_id), text, mode=JOB_FILE_MODE, fsync_parent=False)
    if checked:
        fsync_dir(store.queue_dir)
    if serial is not None and _job_id(serial) > store.read_serial():
        store.write_serial(serial)
    return len(jobs)


def job_digest(text: str | bytes) -> str:
    """The digest of a job file's content that ``jobqueue_digests`` reports."""
    raw = text.encode() if isinstance(text, str) else text
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


@procedure("jobqueue_digests")
def jobqueue_digests() -> dict[str, str]:
    """``{job id (as text): digest}`` of the live job file replicas (see
    :func:`job_digest`): a master resynchronising this node sends only the
    job files that differ."""
    store = _store()
    out = {}
    for job_id in store.live_ids():
        try:
            out[str(job_id)] = job_digest(store.live_path(job_id).read_bytes())
        except FileNotFoundError:
            continue
    return out


@procedure("jobqueue_archive")
def jobqueue_archive(job_ids: list[int]) -> int:
    """Move replicas of live job files into the archive; returns how many moved."""
    store = _store()
    return len(store.archive([_job_id(j) for j in job_ids]))


@procedure("jobqueue_purge")
def jobqueue_purge() -> int:
    """Remove this node's job queue replica (live files and archive)."""
    store = _store()
    count = 0
    for job_id in store.live_ids():
        store.live_path(job_id).unlink(missing_ok=True)
        count += 1
    for job_id in store.archived_ids():
        store.archive_path(job_id).unlink(missing_ok=True)
    return count


@procedure("master_vote")
def master_vote() -> dict[str, Any]:
    """This node's view for master voting:
    ``{"node": name, "master": ssconf master or None, "serial": config serial or None}``."""
    return {"node": netutils.my_hostname(), "master": ssconf.master_node(),
            "serial": local_config_serial()}


@procedure("master_step_down")
def master_step_down(new_master: str) -> bool:
    """Stop this node's master role because ``new_master`` took over: the master
    daemon before replying, RAPI (a layer over the master daemon, useless
    without it) in the background, so the new master does not wait for it.

    Returns True if a master daemon was running and has been stopped.
    """
    from gnt import daemon_util

    log.warning("Stepping down: %s is the new master", new_master)
    stopped = daemon_util.stop(daemon_util.MASTERD, timeout=30)

    def stop_rapi() -> None:
        try:
            daemon_util.stop(daemon_util.RAPI, timeout=30)
        except errors.GntError as err:
            log.error("Could not stop the RAPI daemon while stepping down: %s", err)

    threading.Thread(target=stop_rapi, name="step-down-rapi", daemon=True).start()
    return stopped


@procedure("node_leave_cluster")
def node_leave_cluster() -> None:
    """Forget the cluster (config, ssconf, certificates, queue) and stop the node daemon.

    Called by ``gnt-node remove``; the reply is sent before the daemon stops.
    """
    p = paths.get()
    for f in [p.cluster_conf_file, p.rapi_cert_file, p.confd_hmac_key,
              p.cluster_domain_secret_file, *p.data_dir.glob("ssconf_*")]:
        f.unlink(missing_ok=True)
    jobqueue_purge()
    p.noded_cert_file.unlink(missing_ok=True)
    log.warning("Removed from the cluster; stopping")
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
