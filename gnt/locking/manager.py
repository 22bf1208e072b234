"""The master daemon's lock manager.

Model
=====
Each :class:`~gnt.locking.levels.Level` has named locks (instance names, node
UUIDs, group UUIDs, ...) plus one *set lock* standing for the whole level
(``ALL_SET``).  Locks are held by *owners*: opaque hashable objects, e.g. a
job's execution context.  Any thread may act for an owner, but only one
request per owner may wait at a time.

A lock exists whenever it is held or waited for: any name may be locked,
known or not (Ganeti 3's model; a job creating instance ``x`` locks ``x``
before ``x`` exists and checks existence in CheckPrereq).  Separately the
manager keeps the *known names* of each level (constructor, :meth:`add`,
:meth:`remove`): they are what ``ALL_SET`` expands to in the results of
:meth:`LockManager.acquire` and :meth:`LockManager.owned`, and what
:meth:`LockManager.list_locks` shows.

Multi-granularity locking
-------------------------
Holding ``ALL_SET`` is one hold on the set lock, not thousands of holds on
the names, so it is O(1) and covers names added later.  A request for named
locks also takes an *intention* on the set lock: IS (names shared) or IX
(names exclusive).  ALL_SET shared is S, ALL_SET exclusive is X, and
registering names (:meth:`add`) is IX.  Compatibility (classic
Gray et al.)::

          IS  IX  S   X
      IS  y   y   y   -
      IX  y   y   -   -
      S   y   -   y   -
      X   -   -   -   -

So ALL_SET exclusive excludes every named lock at the level, ALL_SET shared
excludes exclusive named locks, and names cannot be added while anyone else
holds ALL_SET.  Releasing or downgrading part of an ALL_SET hold first turns
it into holds on every known name (same mode), then acts on those.

Requests are atomic: a request is granted all of its names at once or
nothing; a waiting request holds nothing at its level.

Fairness
--------
Every request gets a key ``(priority, arrival)``; lower keys go first
(priorities are Ganeti's, -20 highest .. 19 lowest).  A request is granted
when it is compatible with every holder *and with every waiting request
ahead of it* on the same lock (named or set lock).  Hence FIFO within a
priority, higher priority first, shared requests queued together are granted
together (shared is compatible with shared ahead), and an exclusive waiter
blocks every later shared request on its locks, so writers do not starve.
A request for several names reserves its place on all of them.

Opportunistic requests (Ganeti's ``opportunistic_locking``) take only the
names that are free and wait until at least ``opportunistic_count`` are; they
never hold anyone else back while waiting.

Deadlock freedom (by construction)
----------------------------------
Rule: an owner may only request locks at a level higher than every level it
already holds (:class:`~gnt.errors.ProgrammerError` otherwise).  The
exceptions never wait: registering names the owner already holds
exclusively (or under ALL_SET exclusive), and releases/downgrades.  An
anonymous :meth:`LockManager.add` (no owner) is outside the rule and is only
for callers holding no locks.

Consider the wait-for graph.  A request W waiting at level L (whose owner
holds only levels < L) waits for (a) owners holding a conflicting lock at
level L, or (b) conflicting requests queued ahead of W at level L.  An owner
holding a lock at level L is either running (it waits for nothing) or waiting
at a level L' > L.  So an (a)-edge leads to a strictly higher level and a
(b)-edge to the same level with a strictly smaller key.  The pair
(level, -key) strictly increases along every edge, so there is no cycle.
Progress: the waiter with the highest level and, among those, the lowest key
waits only for running owners; when they release it is granted (every event
that can make a request grantable - release, downgrade, abandoning a wait -
re-examines the requests it may unblock).  Only higher-priority newcomers
can overtake it.

Timeouts and cancellation abandon the wait; as nothing is held at the
waited-for level until the whole request is granted, nothing is acquired.

Performance
-----------
One mutex guards all state; uncontended acquire + release of one name costs
a few microseconds (``bench/bench_locking.py``).  Each waiter sleeps on its
own private lock, woken exactly once (granted) by the thread that made it
grantable: no polling except the ``cancel_check`` interval, no thundering
herd.  Only locks in use have state, so thousands of known names cost one
set entry each.

Layout: this module has the owners, the ordering rule, waiting and the
public API; :mod:`gnt.locking.table` has one level's lock table (holders,
queues, compatibility checks, introspection).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Hashable, Iterable

from gnt import constants as C
from gnt import errors
from gnt.locking.levels import ALL_SET, BGL, LEVEL_NAMES, AllSet, Level, Mode
from gnt.locking.table import IS, IX, Held, LevelTable, LockInfo, Request, S, X, describe, mode_of

Names = str | Iterable[str] | AllSet
CancelCheck = Callable[[], None]

#: Default longest sleep between two calls of a waiter's ``cancel_check`` (s).
CANCEL_POLL_INTERVAL = 0.1

_PRIO_BITS = 48


class LockManager:
    """Shared/exclusive locks by level for the job executor's worker threads.

    ``instances``, ``nodegroups``, ``nodes`` and ``networks`` are the initially
    known names (instance names, group UUIDs, node UUIDs - for both NODE and
    NODE_RES - and network UUIDs).  The cluster level knows only ``"BGL"``.
    ``cancel_interval``: longest time (seconds) between two calls of a
    waiter's ``cancel_check``.
    Thread-safe; see the module documentation for semantics and guarantees.
    """

    def __init__(self, *, instances: Iterable[str] = (), nodegroups: Iterable[str] = (),
                 nodes: Iterable[str] = (), networks: Iterable[str] = (),
                 cancel_interval: float = CANCEL_POLL_INTERVAL) -> None:
        if not cancel_interval > 0:
            raise errors.ProgrammerError(f"Invalid cancel_interval {cancel_interval!r}")
        nodes = list(nodes)
        initial: dict[Level, Iterable[str]] = {
            Level.CLUSTER: (BGL,), Level.NODEGROUP: nodegroups, Level.INSTANCE: instances,
            Level.NODE: nodes, Level.NODE_RES: nodes, Level.NETWORK: networks,
        }
        self._mutex = threading.Lock()
        self._levels: dict[int, LevelTable] = {
            lvl: LevelTable(lvl, self._check_names(initial[lvl])) for lvl in Level}
        self._held: dict[Hashable, dict[int, Held]] = {}   # owner -> level -> holds
        self._waiting: dict[Hashable, Request] = {}        # owner -> its waiting request
        self._seq = itertools.count()
        self._cancel_interval = cancel_interval

    # ------------------------------------------------------------------ acquire
    def acquire(self, owner: Hashable, level: Level, names: Names, shared: bool = False,
                timeout: float | None = None, priority: int = C.OP_PRIO_DEFAULT,
                cancel_check: CancelCheck | None = None, *, opportunistic: bool = False,
                opportunistic_count: int = 1) -> frozenset[str]:
        """Acquire ``names`` (one name, an iterable of names, or ``ALL_SET``)
        at ``level`` for ``owner``, all at once, shared or exclusive.

        Waits up to ``timeout`` seconds (None: forever, 0: do not wait).
        ``priority``: -20 (highest) .. 19 (lowest).  ``cancel_check`` is
        called at least every ``cancel_interval`` seconds (default 0.1)
        while waiting; if it raises, the wait is abandoned, nothing is
        acquired and the exception propagates.

        ``opportunistic``: take only those of ``names`` that can be granted,
        waiting (within ``timeout``) until at least ``opportunistic_count`` of
        them can (0: never wait; the result may be empty).  ``ALL_SET`` then
        means every currently known name.

        Returns the names acquired; for ``ALL_SET`` every known name of the
        level (the hold also covers names added later).

        Raises :class:`~gnt.errors.LockError` on timeout (nothing acquired)
        and :class:`~gnt.errors.ProgrammerError` when ``owner`` already holds
        locks at ``level`` or above, already waits in another thread, or on
        bad arguments.
        """
        lv = self._level(level)
        if names is ALL_SET:
            wanted: tuple[str, ...] | None = None
        elif isinstance(names, str):
            wanted = (names,)
        else:
            wanted = tuple(set(names))
            if not wanted:
                return frozenset()
        if owner is None:
            raise errors.ProgrammerError("Lock owner must not be None")
        if level == Level.CLUSTER and wanted is not None and wanted != (BGL,):
            raise errors.ProgrammerError(
                f"The cluster level has only the lock {BGL!r}, not {sorted(wanted)!r}")
        key = self._key(priority)
        excl = not shared
        with self._mutex:
            levels = self._held.get(owner)
            self._check_may_wait(owner, levels, level)
            if opportunistic:
                if wanted is None:
                    wanted = tuple(lv.known)
                req = Request(owner, wanted, excl, IX if excl else IS, key, opp=True,
                              min_count=max(0, min(opportunistic_count, len(wanted))))
                got = lv.opp_grantable(req)
                if len(got) >= req.min_count:
                    req.names = got
                    self._grant(lv, req)
                    return req.result
            elif wanted is None:
                mode = X if excl else S
                if lv.set_ok(mode, key):
                    lv.hold_set(owner, self._new_held(owner, levels, level), mode)
                    return lv.known_names()
                req = Request(owner, (), excl, mode, key)
            else:
                mode = IX if excl else IS
                if lv.set_ok(mode, key) and lv.names_ok(wanted, excl, key):
                    lv.hold_names(owner, self._new_held(owner, levels, level), wanted, excl)
                    return frozenset(wanted)
                req = Request(owner, wanted, excl, mode, key)
            if timeout is not None and timeout <= 0:
                raise self._timeout_error(level, req, timeout)
            self._enqueue(lv, req)
        return self._wait(lv, req, timeout, cancel_check)

    # ------------------------------------------------------------------ release
    def release(self, owner: Hashable, level: Level, names: Names | None = None) -> None:
        """Release ``owner``'s locks at ``level``: ``names`` (None or
        ``ALL_SET``: all of them).

        Releasing some names out of an ALL_SET hold keeps the other known
        names (same mode).  Releasing nothing held at a level with
        ``names=None`` does nothing; releasing named locks not held raises
        :class:`~gnt.errors.ProgrammerError` (and releases nothing).
        """
        lv = self._level(level)
        todo = self._opt_names(names)
        if todo is not None and not todo:
            return
        with self._mutex:
            levels = self._held.get(owner)
            held = levels.get(level) if levels is not None else None
            if levels is None or held is None:
                if todo is None:
                    return
                raise errors.ProgrammerError(
                    f"Cannot release {describe(level, todo)}: not owned by {owner!r}")
            woken = self._release(lv, owner, levels, held, todo)
        self._wake(woken)

    def release_all(self, owner: Hashable) -> None:
        """Release every lock ``owner`` holds, at every level."""
        woken: list[Request] = []
        with self._mutex:
            levels = self._held.get(owner)
            if levels is None:
                return
            for level in sorted(levels, reverse=True):
                woken += self._release(self._levels[level], owner, levels, levels[level], None)
        self._wake(woken)

    def downgrade(self, owner: Hashable, level: Level, names: Names | None = None) -> None:
        """Turn ``owner``'s exclusive locks at ``level`` into shared ones:
        ``names`` (None or ``ALL_SET``: all of them).  Names already held
        shared are left alone.

        Raises :class:`~gnt.errors.ProgrammerError` (changing nothing) when a
        name is not held; a name covered only by ALL_SET must be a known name
        to be downgraded on its own.
        """
        lv = self._level(level)
        todo = self._opt_names(names)
        if todo is not None and not todo:
            return
        with self._mutex:
            levels = self._held.get(owner)
            held = levels.get(level) if levels is not None else None
            if held is None:
                raise errors.ProgrammerError(
                    f"Cannot downgrade {describe(level, todo)}: not owned by {owner!r}")
            changed, set_changed = lv.downgrade(owner, held, todo)
            woken = self._reevaluate(lv, changed, set_changed)
        self._wake(woken)

    # ------------------------------------------------------------ add / remove
    def add(self, level: Level, names: str | Iterable[str], owner: Hashable | None = None, *,
            shared: bool = False, timeout: float | None = None,
            priority: int = C.OP_PRIO_DEFAULT, cancel_check: CancelCheck | None = None) -> None:
        """Make ``names`` known at ``level`` (a new instance, node, ...).

        With ``owner``, ``owner`` also holds them afterwards (exclusive, or
        shared with ``shared=True``).  This does not wait when ``owner``
        already holds every name exclusively, or ALL_SET exclusively - the
        usual case: lock the new name, create the object, then add it.
        Otherwise ``owner`` must hold nothing at ``level`` or above, as for
        :meth:`acquire`.  Without ``owner`` the names are only registered;
        that is for callers holding no locks (start-up, tests): a job must
        pass its owner, or its wait escapes the ordering rule.

        Adding waits while another owner holds ALL_SET at ``level``, so that
        owner's view of "all names" stays true.  ``timeout``, ``priority``
        and ``cancel_check`` work as for :meth:`acquire`; if the add was
        granted just as ``cancel_check`` raised, the add stands.

        Raises :class:`~gnt.errors.OpPrereqError` (``already_exists``) when a
        name is already known, :class:`~gnt.errors.LockError` on timeout,
        :class:`~gnt.errors.ProgrammerError` on the cluster level or when the
        ordering rule is broken.
        """
        lv = self._level(level)
        if level == Level.CLUSTER:
            raise errors.ProgrammerError("Cannot add locks at the cluster level")
        new = self._check_names((names,) if isinstance(names, str) else names)
        if not new:
            return
        key = self._key(priority)
        excl = not shared
        with self._mutex:
            dup = new & lv.known
            if dup:
                raise errors.OpPrereqError(
                    f"Cannot add {describe(level, dup)}: already exists", errors.ECODE_EXISTS)
            names_t = tuple(new)
            if owner is None:
                req = Request(None, (), True, IX, key, register=names_t)
            else:
                levels = self._held.get(owner)
                held = levels.get(level) if levels is not None else None
                if held is not None and (held.set_mode == X
                                         or all(held.names.get(n) for n in names_t)):
                    lv.add_known(new)
                    return
                self._check_may_wait(owner, levels, level)
                req = Request(owner, names_t, excl, IX, key, register=names_t)
            if lv.grantable(req):
                self._grant(lv, req)
                return
            if timeout is not None and timeout <= 0:
                raise self._timeout_error(level, req, timeout)
            self._enqueue(lv, req)
        self._wait(lv, req, timeout, cancel_check)

    def remove(self, owner: Hashable, level: Level, names: str | Iterable[str]) -> None:
        """Forget the known ``names`` at ``level`` (e.g. a removed instance).

        ``owner`` must hold each name exclusively (or ALL_SET exclusively) and
        keeps holding the locks until it releases them.  Names not known are
        ignored (removing is idempotent).  Raises
        :class:`~gnt.errors.ProgrammerError` otherwise.
        """
        lv = self._level(level)
        if level == Level.CLUSTER:
            raise errors.ProgrammerError("Cannot remove locks at the cluster level")
        gone = self._check_names((names,) if isinstance(names, str) else names)
        with self._mutex:
            gone &= lv.known
            if not gone:
                return
            levels = self._held.get(owner)
            held = levels.get(level) if levels is not None else None
            if held is None or (held.set_mode != X
                                and not all(held.names.get(n) for n in gone)):
                raise errors.ProgrammerError(
                    f"Cannot remove {describe(level, gone)}: {owner!r} must hold them "
                    "exclusively")
            lv.remove_known(gone)

    # ------------------------------------------------------------ introspection
    def owned(self, owner: Hashable, level: Level) -> dict[str, Mode]:
        """The locks ``owner`` holds at ``level``: ``{name: Mode}``; an
        ALL_SET hold shows every known name."""
        lv = self._level(level)
        with self._mutex:
            levels = self._held.get(owner)
            held = levels.get(level) if levels is not None else None
            if held is None:
                return {}
            if held.set_mode is not None:
                return dict.fromkeys(lv.known, mode_of(held.set_mode == X))
            return {n: mode_of(ex) for n, ex in held.names.items()}

    def is_owned(self, owner: Hashable, level: Level, names: Names | None = None,
                 shared: bool | None = None) -> bool:
        """Whether ``owner`` holds ``names`` at ``level`` (None: anything;
        ``ALL_SET``: the whole level), in mode ``shared`` if given (None:
        either mode).  An ALL_SET hold owns every name."""
        self._level(level)
        with self._mutex:
            levels = self._held.get(owner)
            held = levels.get(level) if levels is not None else None
            if held is None:
                return False
            if held.set_mode is not None:
                return shared is None or shared == (held.set_mode == S)
            if names is ALL_SET:
                return False
            if names is None:
                modes: Iterable[bool] = held.names.values()
            else:
                todo = (names,) if isinstance(names, str) else names
                modes = [held.names.get(n) for n in todo]  # type: ignore[misc]
                if None in modes:
                    return False
            return shared is None or all(ex != shared for ex in modes)

    def held_levels(self, owner: Hashable) -> list[Level]:
        """The levels at which ``owner`` holds locks, in order."""
        with self._mutex:
            return sorted(Level(lvl) for lvl in self._held.get(owner, ()))

    def names(self, level: Level) -> frozenset[str]:
        """The known names at ``level``."""
        lv = self._level(level)
        with self._mutex:
            return lv.known_names()

    def list_locks(self, levels: Iterable[Level] | None = None,
                   active_only: bool = False) -> list[LockInfo]:
        """Every lock (known names, locks in use and each level's set lock),
        in level order, set lock first, then by name - what ``gnt-debug
        locks`` shows.  ``active_only``: only locks held or waited for."""
        tables = [self._level(lvl) for lvl in sorted(Level if levels is None else set(levels))]
        out: list[LockInfo] = []
        with self._mutex:
            for lv in tables:
                out.extend(lv.info(active_only))
        return out

    # ----------------------------------------------------------------- internals
    def _level(self, level: Level) -> LevelTable:
        try:
            return self._levels[level]
        except (KeyError, TypeError):
            raise errors.ProgrammerError(f"Invalid lock level {level!r}") from None

    def _key(self, priority: int) -> int:
        """Pack (priority, arrival) into one int: lower keys are served first."""
        if not isinstance(priority, int) or not (
                C.OP_PRIO_HIGHEST <= priority <= C.OP_PRIO_LOWEST):
            raise errors.ProgrammerError(
                f"Invalid lock priority {priority!r}: must be between {C.OP_PRIO_HIGHEST} "
                f"(highest) and {C.OP_PRIO_LOWEST} (lowest)")
        return ((int(priority) - C.OP_PRIO_HIGHEST) << _PRIO_BITS) | next(self._seq)

    @staticmethod
    def _check_names(names: Iterable[str]) -> set[str]:
        out = set(names)
        for n in out:
            if not isinstance(n, str) or not n:
                raise errors.ProgrammerError(f"Invalid lock name {n!r}: not a non-empty string")
        return out

    @staticmethod
    def _opt_names(names: Names | None) -> set[str] | None:
        if names is None or names is ALL_SET:
            return None
        if isinstance(names, str):
            return {names}
        return set(names)  # type: ignore[arg-type]

    def _check_may_wait(self, owner: Hashable, levels: dict[int, Held] | None,
                        level: int) -> None:
        """The ordering rule, and one waiting request per owner."""
        if levels is not None:
            for lvl in levels:
                if lvl >= level:
                    raise errors.ProgrammerError(
                        f"Owner {owner!r} cannot acquire {LEVEL_NAMES[Level(level)]} locks "
                        f"while holding {LEVEL_NAMES[Level(lvl)]} locks (levels must be "
                        "acquired in increasing order, each level once)")
        if owner in self._waiting:
            raise errors.ProgrammerError(
                f"Owner {owner!r} is already waiting for locks in another thread")

    def _new_held(self, owner: Hashable, levels: dict[int, Held] | None, level: int) -> Held:
        if levels is None:
            levels = self._held[owner] = {}
        held = levels[level] = Held()
        return held

    def _grant(self, lv: LevelTable, req: Request) -> None:
        """Give ``req`` what it asked for (it must be grantable and dequeued)."""
        owner = req.owner
        req.done = True
        if req.register:
            dup = lv.known.intersection(req.register)
            if dup:
                req.error = errors.OpPrereqError(
                    f"Cannot add {describe(lv.level, dup)}: already exists",
                    errors.ECODE_EXISTS)
                return
            lv.add_known(req.register)
        if owner is None:
            return
        if req.set_mode >= S:
            lv.hold_set(owner, self._new_held(owner, self._held.get(owner), lv.level),
                        req.set_mode)
            req.result = lv.known_names()
        elif req.names:
            lv.hold_names(owner, self._new_held(owner, self._held.get(owner), lv.level),
                          req.names, req.excl)
            req.result = frozenset(req.names)

    def _enqueue(self, lv: LevelTable, req: Request) -> None:
        if req.owner is not None:
            self._waiting[req.owner] = req
        lv.enqueue(req)

    def _dequeue(self, lv: LevelTable, req: Request) -> None:
        if req.owner is not None:
            self._waiting.pop(req.owner, None)
        lv.dequeue(req)

    def _release(self, lv: LevelTable, owner: Hashable, levels: dict[int, Held],
                 held: Held, todo: set[str] | None) -> list[Request]:
        changed, set_changed = lv.release(owner, held, todo)
        if held.empty():
            del levels[lv.level]
            if not levels:
                del self._held[owner]
        return self._reevaluate(lv, changed, set_changed)

    def _reevaluate(self, lv: LevelTable, names: Iterable[str],
                    set_changed: bool) -> list[Request]:
        """Grant every waiter at ``lv`` made grantable by a change to the
        named locks ``names`` (released, downgraded or no longer waited for)
        or to the set lock; returns the waiters granted (to be woken).

        Waiters are examined in key order.  Granting one never unblocks
        another (holding conflicts exactly where waiting ahead did), except
        for adds, which hold less afterwards: they come before the later
        waiters they could have blocked, which are all among the candidates.
        """
        woken: list[Request] = []
        prev = None
        for req in lv.candidates(names, set_changed):
            if req is prev or req.done:
                continue
            prev = req
            if req.opp:
                got = lv.opp_grantable(req)
                if len(got) < req.min_count:
                    continue
                self._dequeue(lv, req)
                req.names = got
            elif lv.grantable(req):
                self._dequeue(lv, req)
            else:
                continue
            self._grant(lv, req)
            if req.error is not None:   # an add that lost a race: its locks may be idle
                lv.drop_idle(req.names)
            woken.append(req)
        return woken

    @staticmethod
    def _wake(woken: list[Request]) -> None:
        for req in woken:
            req.wake.release()

    # --- waiting (mutex not held) ---
    def _wait(self, lv: LevelTable, req: Request, timeout: float | None,
              cancel_check: CancelCheck | None) -> frozenset[str]:
        deadline = None if timeout is None else time.monotonic() + timeout
        wake = req.wake
        poll = self._cancel_interval
        granted = False
        try:
            while True:
                if deadline is None:
                    slice_ = poll if cancel_check is not None else -1.0
                else:
                    slice_ = deadline - time.monotonic()
                    if slice_ <= 0:
                        break
                    if cancel_check is not None and slice_ > poll:
                        slice_ = poll
                if wake.acquire(True, slice_):
                    granted = True
                    break
                if cancel_check is not None:
                    cancel_check()
        except BaseException:
            self._abandon(lv, req)
            raise
        if not granted:
            with self._mutex:
                if not req.done:
                    woken = self._withdraw(lv, req)
                    err = self._timeout_error(lv.level, req, timeout)
                else:  # granted just as the timeout expired
                    woken, err = [], None
            self._wake(woken)
            if err is not None:
                raise err
        if req.error is not None:
            raise req.error
        return req.result

    def _withdraw(self, lv: LevelTable, req: Request) -> list[Request]:
        """Take a still waiting request out of the queues (mutex held)."""
        self._dequeue(lv, req)
        lv.drop_idle(req.names)
        return self._reevaluate(lv, req.names, req.set_mode >= S)

    def _abandon(self, lv: LevelTable, req: Request) -> None:
        """Withdraw a waiting request; if it was granted meanwhile, give back
        what it acquired (not for adds: they stand)."""
        woken: list[Request] = []
        with self._mutex:
            if not req.done:
                woken = self._withdraw(lv, req)
            elif not req.register and req.owner is not None and req.error is None:
                # the owner held nothing at this level before (ordering rule)
                levels = self._held.get(req.owner)
                held = levels.get(lv.level) if levels is not None else None
                if levels is not None and held is not None:
                    woken = self._release(lv, req.owner, levels, held, None)
        self._wake(woken)

    @staticmethod
    def _timeout_error(level: int, req: Request, timeout: float | None) -> errors.LockError:
        what = describe(level, None if req.set_mode >= S else (req.register or req.names))
        verb = "add" if req.register else "acquire"
        return errors.LockError(
            f"Could not {verb} {mode_of(req.excl).value} lock(s) {what} within {timeout} s")
