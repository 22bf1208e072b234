"""``gnt-rapi``: the RAPI daemon command (Ganeti's ``ganeti-rapi``).

Usage: ``gnt-rapi [-f] [-d] [-b ADDRESS] [-p PORT] [--require-authentication]
[--max-clients N] [--request-timeout SECONDS]``.  Runs on the master only.  Serves HTTPS on this node's
address (``-b`` to choose another, e.g. ``0.0.0.0``) and port 5080 with
the RAPI certificate ``<data_dir>/rapi.pem``; users come from
``<data_dir>/rapi/users``, re-read on SIGHUP and when the file changes.
Detaches unless ``-f`` and returns once it serves (exit 0) or with the
start-up error (exit 1).  Pid file ``<run_dir>/ganeti-rapi.pid``, log
``<log_dir>/rapi-daemon.log``; SIGTERM or SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

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


def serve(opts: argparse.Namespace, readiness: Readiness) -> None:
    """Bind and serve until SIGTERM/SIGINT; SIGHUP re-reads the users file."""
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
        log.info("SIGHUP: re-reading the users file")
        users.reload()

    signal.signal(signal.SIGHUP, _sighup)
    server.serve(on_ready=readiness.ready)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    return run_daemon(NAME, LOG_NAME, lambda readiness: serve(opts, readiness),
                      foreground=opts.foreground, debug=opts.debug)


if __name__ == "__main__":
    sys.exit(main())
