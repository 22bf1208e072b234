"""Which queued job runs next.

A pure data structure (the queue calls it under its own lock): jobs are
either *ready* (ordered by priority, lower number first, then by id) or
*blocked* on dependency jobs that are not finished yet.  When a job
finishes, the jobs blocked on it become ready once nothing else blocks them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Entry:
    priority: int
    version: int = 0
    blocked_on: set[int] = field(default_factory=set)


class Scheduler:
    """Ready/blocked bookkeeping for queued jobs.  Not thread-safe."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._heap: list[tuple[int, int, int]] = []  # (priority, job id, version)
        self._waiters: dict[int, set[int]] = {}  # dependency id -> blocked job ids
        self._ready = 0

    def __contains__(self, job_id: int) -> bool:
        return job_id in self._entries

    @property
    def ready_count(self) -> int:
        """Number of jobs that could start now."""
        return self._ready

    @property
    def blocked_count(self) -> int:
        return len(self._entries) - self._ready

    def add(self, job_id: int, priority: int, blocked_on: Iterable[int] = ()) -> None:
        """Queue ``job_id``; it becomes ready once every job in ``blocked_on``
        (the unfinished jobs it depends on) has finished."""
        if job_id in self._entries:
            raise ValueError(f"job {job_id} is already scheduled")
        entry = _Entry(priority, blocked_on={d for d in blocked_on if d != job_id})
        self._entries[job_id] = entry
        if entry.blocked_on:
            for dep in entry.blocked_on:
                self._waiters.setdefault(dep, set()).add(job_id)
        else:
            self._push(job_id, entry)

    def pop(self) -> int | None:
        """Remove and return the ready job to run next, or None."""
        while self._heap:
            _prio, job_id, version = heapq.heappop(self._heap)
            entry = self._entries.get(job_id)
            if entry is None or entry.version != version or entry.blocked_on:
                continue  # stale heap item
            del self._entries[job_id]
            self._ready -= 1
            return job_id
        return None

    def remove(self, job_id: int) -> None:
        """Forget a queued job (e.g. canceled); no-op if unknown."""
        entry = self._entries.pop(job_id, None)
        if entry is None:
            return
        if entry.blocked_on:
            for dep in entry.blocked_on:
                waiters = self._waiters.get(dep)
                if waiters is not None:
                    waiters.discard(job_id)
                    if not waiters:
                        del self._waiters[dep]
        else:
            self._ready -= 1
        self._compact()

    def set_priority(self, job_id: int, priority: int) -> None:
        """Change the priority of a queued job; no-op if unknown."""
        entry = self._entries.get(job_id)
        if entry is None or entry.priority == priority:
            return
        entry.priority = priority
        entry.version += 1
        if not entry.blocked_on:
            heapq.heappush(self._heap, (priority, job_id, entry.version))
            self._compact()

    def finished(self, job_id: int) -> list[int]:
        """Record that ``job_id`` finished; returns the jobs that became ready."""
        ready = []
        for waiter in self._waiters.pop(job_id, ()):
            entry = self._entries.get(waiter)
            if entry is None or job_id not in entry.blocked_on:
                continue
            entry.blocked_on.discard(job_id)
            if not entry.blocked_on:
                self._push(waiter, entry)
                ready.append(waiter)
        return ready

    def _push(self, job_id: int, entry: _Entry) -> None:
        heapq.heappush(self._heap, (entry.priority, job_id, entry.version))
        self._ready += 1

    def _compact(self) -> None:
        # drop stale heap items once they dominate, so the heap stays O(ready)
        if len(self._heap) > 64 and len(self._heap) > 4 * self._ready:
            self._heap = [(p, j, v) for (p, j, v) in self._heap
                          if (e := self._entries.get(j)) is not None and e.version == v
                          and not e.blocked_on]
            heapq.heapify(self._heap)
