"""``gnt-daemon-util``: start, stop and check gnt's daemons on this node.

Ganeti's ``daemon-util`` equivalent.  Daemons: ``ganeti-noded`` (every node)
and ``ganeti-masterd`` (master only).  Each is started with this process's
environment (``GNT_ROOT``, ``GNT_HOSTNAME``).
"""

from __future__ import annotations

import argparse
import os
import sys

from gnt import errors
from gnt.daemon import control

NODED = "ganeti-noded"
MASTERD = "ganeti-masterd"
_MODULES = {NODED: "gnt.noded.daemon", MASTERD: "gnt.masterd.daemon"}
START_ORDER = (NODED, MASTERD)


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


def start_all() -> None:
    for name in START_ORDER:
        start(name)


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
            start(MASTERD, opts.extra)
        elif opts.action == "stop-master":
            stop(MASTERD)
    except errors.GntError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
