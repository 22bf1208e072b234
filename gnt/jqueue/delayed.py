"""Run a callback for an item a fixed delay after it was scheduled.

Used by the queue to publish an opcode's ``waiting`` state only when the
executor has not moved on (to ``running``) within a short delay: trivial
jobs then need one write less, while jobs that really wait for locks still
show ``waiting`` almost at once.  One daemon thread, started on first use.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class DelayedCalls:
    """Calls ``fn(item)`` about ``delay`` seconds after ``schedule(item)``."""

    def __init__(self, delay: float, fn: Callable[[Any], None]) -> None:
        self._delay = delay
        self._fn = fn
        self._cv = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def schedule(self, item: Any) -> None:
        with self._cv:
            if self._stopped:
                return
            # deadlines only grow, so a new item never needs an earlier wake-up
            heapq.heappush(self._heap, (time.monotonic() + self._delay, next(self._seq), item))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jq-delayed",
                                                daemon=True)
                self._thread.start()
            elif len(self._heap) == 1:
                self._cv.notify()

    def stop(self, run_pending: bool = True) -> None:
        """Stop the thread; with ``run_pending``, call ``fn`` for every
        pending item first (in this thread)."""
        with self._cv:
            self._stopped = True
            pending = [item for _, _, item in sorted(self._heap)] if run_pending else []
            self._heap.clear()
            self._cv.notify()
        for item in pending:
            self._call(item)

    def _run(self) -> None:
        with self._cv:
            while not self._stopped:
                if not self._heap:
                    self._cv.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cv.wait(wait)
                    continue
                _, _, item = heapq.heappop(self._heap)
                self._cv.release()
                try:
                    self._call(item)
                finally:
                    self._cv.acquire()

    def _call(self, item: Any) -> None:
        try:
            self._fn(item)
        except Exception:
            log.exception("Delayed call failed for %r", item)
