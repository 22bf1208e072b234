"""``gnt-daemon-util``: start, stop and check gnt's daemons on this node.

Ganeti's ``daemon-util`` equivalent.  Daemons: ``ganeti-noded`` (every node),
``ganeti-masterd`` and ``ganeti-rapi`` (the master role: master only).  Each
is started with this process's environment (``GNT_ROOT``, ``GNT_HOSTNAME``).

As in Ganeti, ``start-master``/``stop-master`` start and stop the whole
master role (the master daemon and RAPI, started together; RAPI stopped
first); ``gnt-cluster init`` and ``master-failover`` start it.
``start-all`` starts the node daemon and, on the master, the master role.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable

from gnt import errors
from gnt.daemon import control

NODED = "ganeti-noded"
MASTERD = "ganeti-masterd"
RAPI = "ganeti-rapi"
_MODULES = {NODED: "gnt.noded.daemon", MASTERD: "gnt.masterd.daemon",
            RAPI: "gnt.rapi.daemon"}
#: the daemons of the master role, in start order
MASTER_ROLE = (MASTERD, RAPI)
START_ORDER = (NODED, *MASTER_ROLE)


def daemon_argv(name: str, extra: list[str] | None = None) -> list[str]:
    """The command line that starts daemon ``name`` (detaching)."""
    if name not in _MODULES:
        raise errors.ParameterError(f"Unknown daemon '{name}'; known: "
                                    f"{', '.join(START_ORDER)}", errors.ECODE_INVAL)
    return [sys.executable, "-m", _MODULES[name], *(extra or [])]


def start(name: str, extra: list[str] | None = None) -> bool:
    """Start ``name`` unless it runs; True if started.  Raises CommandError on failure."""
    return control.start_daemon(name, daemon_argv(name, extra), env=dict(os.environ))


def stop(name: str, timeout: float = 30.0) -> bool:
    return control.stop_daemon(name, timeout)


def start_master(extra: list[str] | None = None,
                 on_rapi_error: Callable[[errors.GntError], None] | None = None) -> None:
    """Start the master role: the master daemon (with ``extra`` arguments,
    e.g. ``--no-voting --yes-do-it``) and RAPI, both at once (RAPI needs the
    master daemon only to answer requests, not to start).

    Raises :class:`errors.CommandError` if one fails (the master daemon
    refuses to start on a node that is not the master, and so does RAPI);
    with ``on_rapi_error``, a RAPI failure is passed to it instead.
    """
    rapi_errors: list[errors.GntError] = []

    def _start_rapi() -> None:
        try:
            start(RAPI)
        except errors.GntError as err:
            rapi_errors.append(err)

    rapi = threading.Thread(target=_start_rapi, name="start-rapi")
    rapi.start()
    try:
        start(MASTERD, extra)
    finally:
        rapi.join()
    if rapi_errors:
        if on_rapi_error is None:
            raise rapi_errors[0]
        on_rapi_error(rapi_errors[0])


def stop_master(timeout: float = 30.0) -> None:
    """Stop the master role on this node (RAPI first, then the master daemon)."""
    for name in reversed(MASTER_ROLE):
        stop(name, timeout)


def is_master() -> bool:
    """Whether this node's ssconf names it as the master."""
    from gnt import netutils
    from gnt.config import ssconf

    return ssconf.master_node() == netutils.my_hostname()


def start_all() -> None:
    """Start the node daemon and, on the master, the master role."""
    start(NODED)
    if is_master():
        start_master()


def stop_all() -> None:
    for name in reversed(START_ORDER):
        stop(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gnt-daemon-util")
    parser.add_argument("action", choices=["start", "stop", "check", "start-all", "stop-all",
                                           "start-master", "stop-master"])
    parser.add_argument("daemon", nargs="?")
    parser.add_argument("extra", nargs=argparse.REMAINDER)
    opts = parser.parse_args(argv)
    try:
        if opts.action in ("start", "stop", "check") and not opts.daemon:
            parser.error(f"{opts.action} needs a daemon name")
        if opts.action == "start":
            start(opts.daemon, opts.extra)
        elif opts.action == "stop":
            stop(opts.daemon)
        elif opts.action == "check":
            return 0 if control.is_running(opts.daemon) else 1
        elif opts.action == "start-all":
            start_all()
        elif opts.action == "stop-all":
            stop_all()
        elif opts.action == "start-master":
            start_master([a for a in (opts.daemon, *opts.extra) if a])
        elif opts.action == "stop-master":
            stop_master()
    except errors.GntError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
