"""Signal handling for daemons."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

TERMINATE_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_terminate(callback: Callable[[int], None],
                 signals: Iterable[signal.Signals] = TERMINATE_SIGNALS) -> None:
    """Call ``callback(signum)`` when one of ``signals`` arrives (main thread only).

    The callback runs in the main thread between two Python bytecodes, so
    it should only set flags or wake a loop; it must not take locks.
    """
    def _handler(signum: int, _frame: object) -> None:
        log.info("Received signal %s, shutting down", signal.Signals(signum).name)
        callback(signum)

    for sig in signals:
        signal.signal(sig, _handler)
