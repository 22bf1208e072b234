"""``gnt-cluster master-failover``: make this master candidate the master.

Runs on the candidate itself, without a master daemon (the old one may be
dead).  The takeover itself (checks, voting, the freshest config, stopping
the old master's daemon, writing and pushing the config naming this node)
runs inside this node's new master daemon, started with ``--failover``
(:mod:`gnt.masterd.takeover`): one process loads the config, connects to
the nodes, votes and pushes, then serves; so a failover costs one daemon
start-up, not a failover plus a start-up that votes and pushes again.

The daemon reports over a pipe: warnings (printed through ``feedback``),
the moment this node's ssconf names it as master (its RAPI daemon is
started then, while the master daemon finishes starting: the old master's
RAPI stops once its ssconf names the new master, see
:mod:`gnt.rapi.daemon`), or the error that stopped the takeover (raised
here as it was raised there).  The master daemon starts on the replicated
job queue: queued jobs run, jobs that were running fail with "Unclean
master daemon shutdown".

This module is imported by the command line tool: it keeps its imports light.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from gnt import daemon_util, errors, netutils
from gnt.daemon import control

log = logging.getLogger(__name__)

Feedback = Callable[[str], None]

#: seconds the master daemon may take to take over and start serving
START_TIMEOUT = 300.0


class _Rapi:
    """Starting the RAPI daemon in a thread; ``error`` is what that raised."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="start-rapi")
        self.thread.start()

    def _run(self) -> None:
        try:
            daemon_util.start(daemon_util.RAPI)
        except BaseException as err:  # noqa: BLE001 - reported by the caller
            self.error = err


def _events(fd: int, proc: subprocess.Popen[bytes], on_event: Callable[[dict[str, Any]], None]
            ) -> None:
    """Pass each JSON line the daemon writes to ``fd`` to ``on_event`` until the
    pipe closes, or the start command ended and nothing more is there."""
    buf = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.2)
        chunk = os.read(fd, 65536) if ready else None
        if chunk == b"":
            break
        if chunk:
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    log.warning("Bad report line from the master daemon: %r", line)
                    continue
                if isinstance(event, dict):
                    on_event(event)
            continue
        if proc.poll() is not None:  # it ended (a daemon that hangs keeps the pipe open)
            ready, _, _ = select.select([fd], [], [], 0)
            if not ready:
                break


def master_failover(no_voting: bool = False, feedback: Feedback = print) -> str:
    """Make this node the master; returns the old master's name.

    Raises :class:`errors.OpPrereqError` when this node cannot or may not
    take over (not a candidate, already master, the vote disagrees),
    :class:`errors.CommandError` when its master daemon fails to start.
    """
    me = netutils.my_hostname()
    if control.is_running(daemon_util.MASTERD):
        raise errors.OpPrereqError(f"This node ({me}) is already the master (its master"
                                   " daemon runs)", errors.ECODE_STATE)
    extra = ["--failover"] + (["--no-voting", "--yes-do-it"] if no_voting else [])
    rfd, wfd = os.pipe()
    try:
        proc = subprocess.Popen(
            daemon_util.daemon_argv(daemon_util.MASTERD, [*extra, "--report-fd", str(wfd)]),
            pass_fds=(wfd,), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=dict(os.environ))
    except OSError as err:
        os.close(rfd)
        raise errors.CommandError(f"Cannot start {daemon_util.MASTERD}: {err}") from err
    finally:
        os.close(wfd)
    state: dict[str, Any] = {}

    def on_event(event: dict[str, Any]) -> None:
        if "feedback" in event:
            feedback(str(event["feedback"]))
        elif "master" in event and "rapi" not in state:
            state["old"] = str(event["master"])
            state["rapi"] = _Rapi()
        elif "error" in event:
            state["error"] = errors.decode(event["error"])

    try:
        _events(rfd, proc, on_event)
        _, err_out = proc.communicate(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise errors.CommandError(f"Starting {daemon_util.MASTERD} did not finish within"
                                  f" {START_TIMEOUT:.0f}s", errors.ECODE_ENVIRON) from None
    finally:
        os.close(rfd)
        rapi: _Rapi | None = state.get("rapi")
        if rapi is not None:
            rapi.thread.join()
    if "error" in state:
        raise state["error"]
    if proc.returncode != 0:
        out = err_out.decode("utf-8", "replace").strip()
        raise errors.CommandError(
            f"Starting {daemon_util.MASTERD} failed (exit code {proc.returncode}):"
            f" {out or 'no output'}", errors.ECODE_ENVIRON)
    if rapi is None:  # not started on the way (no "master" event): start it now
        rapi = _Rapi()
        rapi.thread.join()
    if rapi.error is not None:
        if not isinstance(rapi.error, errors.GntError):
            raise rapi.error
        # the master role moved; RAPI can be started later
        feedback(f"Warning: could not start the RAPI daemon: {rapi.error}")
    old = state.get("old", "(unknown)")
    log.info("Master failover from %s to %s done", old, me)
    return old
