"""``gnt-rapi``: the RAPI daemon command (Ganeti's ``ganeti-rapi``).

Usage: ``gnt-rapi [-f] [-d] [-b ADDRESS] [-p PORT] [--require-authentication]
[--max-clients N] [--request-timeout SECONDS]``.  Runs on the master only.  Serves HTTPS on this node's
address (``-b`` to choose another, e.g. ``0.0.0.0``) and port 5080 with
the RAPI certificate ``<data_dir>/rapi.pem``; users come from
``<data_dir>/rapi/users``, re-read on SIGHUP and when the file changes;
the certificate is reloaded on SIGHUP and when the file changes (new
connections get the new one).  It belongs to the master role: started by
``gnt-daemon-util start-master`` (``gnt-cluster init``,
``master-failover``), and it stops by itself once this node's ssconf names
another master (checked every :data:`MASTER_CHECK_INTERVAL` seconds), so the
old master's RAPI goes away after a failover.
Detaches unless ``-f`` and returns once it serves (exit 0) or with the
start-up error (exit 1).  Pid file ``<run_dir>/ganeti-rapi.pid``, log
``<log_dir>/rapi-daemon.log``; SIGTERM or SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading

from gnt import constants, errors, netutils
from gnt.config import ssconf
from gnt.daemon import Readiness, on_terminate, run_daemon
from gnt.daemon.cli import check_options, daemon_parser
from gnt.rapi.app import RapiConfig
from gnt.rapi.constants import DEFAULT_MAX_CLIENTS, REQUEST_TIMEOUT
from gnt.rapi.server import RapiServer
from gnt.rapi.users import UsersFile

NAME = "ganeti-rapi"  # Ganeti's daemon name: pid file ganeti-rapi.pid
LOG_NAME = "rapi-daemon"  # Ganeti's log file: rapi-daemon.log

#: seconds between checks that this node is still the master; RAPI stops
#: after :data:`MASTER_CHECK_MISSES` failed checks in a row
MASTER_CHECK_INTERVAL = 1.0
MASTER_CHECK_MISSES = 2

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = daemon_parser("gnt-rapi", "gnt remote API daemon", constants.DEFAULT_RAPI_PORT)
    parser.add_argument("--require-authentication", action="store_true",
                        help="refuse anonymous requests, reads included")
    parser.add_argument("--max-clients", type=int, default=DEFAULT_MAX_CLIENTS,
                        help=f"requests handled at once (default: {DEFAULT_MAX_CLIENTS})")
    parser.add_argument("--request-timeout", type=float, default=REQUEST_TIMEOUT,
                        help="seconds a client has to send a request "
                             f"(default: {REQUEST_TIMEOUT:g})")
    parser.add_argument("--no-master-check", action="store_true",
                        help="serve even if this node is not the master (tests)")
    opts = parser.parse_args(argv)
    check_options(parser, opts)
    if opts.request_timeout <= 0:
        parser.error("--request-timeout must be positive")
    return opts


def check_master() -> None:
    """Raise :class:`errors.GntError` unless this node is the master (ssconf)."""
    master = ssconf.master_node()
    if not master:
        raise errors.ConfigurationError(
            "This node is not part of a cluster (no ssconf master_node); gnt-rapi runs on "
            "the master", errors.ECODE_ENVIRON)
    me = netutils.my_hostname()
    if master != me and netutils.resolve(master).name != netutils.resolve(me).name:
        raise errors.ConfigurationError(
            f"This node ({me}) is not the master ({master}); gnt-rapi runs on the master",
            errors.ECODE_STATE)


def _watch_master(server: RapiServer, stop: threading.Event) -> None:
    """Stop ``server`` once this node is no longer the master (ssconf names
    another node, or none, on consecutive checks)."""
    misses = 0
    while not stop.wait(MASTER_CHECK_INTERVAL):
        try:
            check_master()
            misses = 0
        except errors.GntError as err:
            misses += 1
            if misses >= MASTER_CHECK_MISSES:
                server.stop()  # first: logging fails if the log directory is gone
                with contextlib.suppress(Exception):
                    log.warning("Stopping: %s", err)
                return
        except Exception:
            with contextlib.suppress(Exception):
                log.exception("Master check failed")


def serve(opts: argparse.Namespace, readiness: Readiness) -> None:
    """Bind and serve until SIGTERM/SIGINT or until this node stops being the
    master; SIGHUP re-reads the users file and the certificate."""
    if not opts.no_master_check:
        check_master()
    address = opts.bind or netutils.my_host().ip
    users = UsersFile()
    server = RapiServer(address, opts.port, users=users,
                        config=RapiConfig(require_auth=opts.require_authentication,
                                          max_clients=opts.max_clients,
                                          request_timeout=opts.request_timeout))
    server.prepare()
    on_terminate(lambda _sig: server.stop())

    def _sighup(_signum: int, _frame: object) -> None:
        log.info("SIGHUP: re-reading the users file and the certificate")
        users.reload()
        try:
            server.reload_certificate()
        except errors.GntError as err:
            log.error("Keeping the previous certificate: %s", err)

    signal.signal(signal.SIGHUP, _sighup)
    stop_watch = threading.Event()
    if not opts.no_master_check:
        threading.Thread(target=_watch_master, args=(server, stop_watch),
                         name="master-check", daemon=True).start()
    try:
        server.serve(on_ready=readiness.ready)
    finally:
        stop_watch.set()


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    return run_daemon(NAME, LOG_NAME, lambda readiness: serve(opts, readiness),
                      foreground=opts.foreground, debug=opts.debug)


if __name__ == "__main__":
    sys.exit(main())
