"""The life cycle every gnt daemon shares.

:func:`run_daemon` sets up logging, detaches (unless foreground), takes the
pid file, runs the daemon's ``serve`` function and reports start-up
errors to whoever started it; on return the pid file is removed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from gnt import errors, paths
from gnt.daemon.detach import Readiness, daemonize
from gnt.daemon.logsetup import drop_stderr_logging, setup_logging
from gnt.daemon.pidfile import PidFile

log = logging.getLogger(__name__)

Serve = Callable[[Readiness], None]


def run_daemon(name: str, log_name: str, serve: Serve, foreground: bool = False,
               debug: bool = False) -> int:
    """Run a daemon; returns its exit code (0 after a clean shutdown).

    ``name`` is the daemon's name (pid file ``<run_dir>/<name>.pid``),
    ``log_name`` its log file's (``<log_dir>/<log_name>.log``).  ``serve``
    must call ``readiness.ready()`` once it serves and return when the
    daemon should exit; errors it raises before being ready are reported
    to the caller (the command exits non-zero with the message).
    """
    # Pin the root: a daemon chdirs to "/", which would move a relative root.
    os.environ[paths.ENV_ROOT] = str(paths.get().root)
    p = paths.get()
    try:
        setup_logging(name, p.daemon_log_file(log_name), debug=debug, stderr=foreground)
    except errors.GntError as err:
        Readiness(program=name).fail(str(err))
        return 1
    readiness = Readiness(program=name)
    if not foreground:
        readiness = daemonize(name)
        drop_stderr_logging()
    pidfile = PidFile(p.daemon_pid_file(name))
    failure: str | None = None  # reported only once the pid file is gone
    code = 0
    try:
        pidfile.acquire()
        log.info("%s starting (pid %d, root %s)", name, os.getpid(), p.root)
        serve(readiness)
    except errors.GntError as err:
        log.error("%s: %s", name, err)
        failure, code = str(err), 1
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else 1
        if code:
            failure = f"exited with code {code} during start-up"
    except Exception as err:
        log.exception("%s: unexpected error", name)
        failure, code = f"Unexpected error: {type(err).__name__}: {err}", 1
    finally:
        pidfile.release()
    if failure is None and not readiness.reported:
        failure, code = "stopped before it was ready", 1
    if failure is not None:
        readiness.fail(failure)
        return code
    log.info("%s stopped", name)
    return code
