"""What every gnt daemon shares: pid files, detaching, logging, signals,
and starting/stopping daemons by name.

A daemon's ``main`` parses its options and hands a ``serve(readiness)``
function to :func:`run_daemon`; ``gnt-daemon-util`` uses
:func:`start_daemon`, :func:`stop_daemon` and :func:`daemon_pid`.
"""

from gnt.daemon.control import (
    daemon_pid,
    is_running,
    paths_for_env,
    pid_alive,
    start_daemon,
    stop_daemon,
)
from gnt.daemon.detach import Readiness, daemonize
from gnt.daemon.logsetup import setup_logging
from gnt.daemon.pidfile import DaemonRunningError, PidFile, holder_pid, read_pid
from gnt.daemon.runner import run_daemon
from gnt.daemon.signals import on_terminate

__all__ = [
    "DaemonRunningError", "PidFile", "Readiness", "daemon_pid", "daemonize", "holder_pid",
    "is_running", "on_terminate", "paths_for_env", "pid_alive", "read_pid", "run_daemon",
    "setup_logging", "start_daemon", "stop_daemon",
]
