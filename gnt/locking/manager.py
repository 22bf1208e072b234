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
already holds (:class:`~gnt.errors.ProgrammerError` otherwise).  Two
exceptions never wait: registering names the owner already holds
exclusively (or under ALL_SET exclusive), and releases/downgrades.

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
a few microseconds.  Each waiter sleeps on its own private lock, woken
exactly once (granted) by the thread that made it grantable: no polling
except the ``cancel_check`` interval, no thundering herd.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import operator
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from gnt import constants as C
from gnt import errors
from gnt.locking.levels import ALL_SET, BGL, LEVEL_NAMES, LOCKSET_NAME, AllSet, Level, Mode

log = logging.getLogger(__name__)

Names = str | Iterable[str] | AllSet
CancelCheck = Callable[[], None]

#: Longest sleep between two calls of a waiter's ``cancel_check`` (seconds).
CANCEL_POLL_INTERVAL = 0.1

# set-lock modes
_IS, _IX, _S, _X = 0, 1, 2, 3
_COMPAT = (
    (True, True, True, False),
    (True, True, False, False),
    (True, False, True, False),
    (False, False, False, False),
)
_PRIO_BITS = 48
_KEY = operator.attrgetter("key")


class _Lock:
    """One named lock in use (held or waited for)."""

    __slots__ = ("excl", "queue", "shared")

    def __init__(self) -> None:
        self.excl: Hashable | None = None          # exclusive holder
        self.shared: dict[Hashable, None] = {}     # shared holders, in grant order
        self.queue: list[_Request] = []            # waiters, sorted by key


class _Request:
    """One waiting request (created only when a request has to wait)."""

    __slots__ = (
        "done",
        "error",
        "excl",
        "key",
        "min_count",
        "names",
        "opp",
        "owner",
        "register",
        "result",
        "set_mode",
        "wake",
    )

    def __init__(self, owner: Hashable | None, names: tuple[str, ...], excl: bool,
                 set_mode: int, key: int, register: tuple[str, ...] = (),
                 opp: bool = False, min_count: int = 0) -> None:
        self.owner = owner            # None: anonymous registration (add)
        self.names = names            # named locks wanted (empty for ALL_SET)
        self.excl = excl              # mode of the named locks
        self.set_mode = set_mode      # _IS/_IX/_S/_X on the set lock
        self.key = key                # (priority, arrival) packed in one int
        self.register = register      # names to make known when granted (add)
        self.opp = opp                # opportunistic
        self.min_count = min_count    # opportunistic: grant when this many are free
        self.wake = threading.Lock()  # released exactly once, by the granter
        self.wake.acquire()
        self.done = False
        self.result: frozenset[str] = frozenset()
        self.error: errors.GntError | None = None


class _Held:
    """What one owner holds at one level."""

    __slots__ = ("names", "set_mode")

    def __init__(self) -> None:
        self.names: dict[str, bool] = {}  # name -> exclusive?
        self.set_mode: int | None = None  # _S / _X when holding ALL_SET


class _LevelState:
    __slots__ = (
        "is_waiters",
        "ix_waiters",
        "known",
        "level",
        "locks",
        "n_excl",
        "n_shared",
        "opp_waiters",
        "set_excl",
        "set_shared",
        "set_waiters",
    )

    def __init__(self, level: Level, known: Iterable[str]) -> None:
        self.level = level
        self.known: set[str] = set(known)
        self.locks: dict[str, _Lock] = {}         # only locks in use
        self.set_excl: Hashable | None = None     # ALL_SET exclusive holder
        self.set_shared: dict[Hashable, None] = {}  # ALL_SET shared holders
        self.n_shared = 0                         # shared named holds (IS intentions)
        self.n_excl = 0                           # exclusive named holds (IX intentions)
        self.set_waiters: list[_Request] = []     # ALL_SET waiters (S/X), by key
        self.is_waiters: list[_Request] = []      # named shared waiters, by key
        self.ix_waiters: list[_Request] = []      # named exclusive waiters and adds, by key
        self.opp_waiters: list[_Request] = []     # opportunistic waiters

    def waiters_of(self, mode: int) -> list[_Request]:
        if mode == _IS:
            return self.is_waiters
        if mode == _IX:
            return self.ix_waiters
        return self.set_waiters


@dataclass(frozen=True, slots=True)
class LockInfo:
    """One lock as ``gnt-debug locks`` shows it.

    ``name`` is Ganeti's lock name (``"instance/inst1"``, ``"node/[lockset]"``
    for ALL_SET, ``"cluster/BGL"``); ``mode`` is None when nobody holds it;
    ``owners`` are the owner objects; ``pending`` lists the waiting requests
    in the order they will be served, consecutive shared ones grouped:
    ``((Mode.EXCLUSIVE, (owner,)), (Mode.SHARED, (owner, owner)), ...)``.
    """

    name: str
    level: Level
    mode: Mode | None
    owners: tuple[Hashable, ...]
    pending: tuple[tuple[Mode, tuple[Hashable, ...]], ...]


def _mode(excl: bool) -> Mode:
    return Mode.EXCLUSIVE if excl else Mode.SHARED


def _describe(level: Level, names: Iterable[str] | None, limit: int = 5) -> str:
    lvl = LEVEL_NAMES[level]
    if names is None:
        return f"{lvl}/{LOCKSET_NAME}"
    items = sorted(names)
    shown = ", ".join(f"{lvl}/{n}" for n in items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


class LockManager:
    """Shared/exclusive locks by level for the job executor's worker threads.

    ``instances``, ``nodegroups``, ``nodes`` and ``networks`` are the initially
    known names (instance names, group UUIDs, node UUIDs - for both NODE and
    NODE_RES - and network UUIDs).  The cluster level knows only ``"BGL"``.
    Thread-safe; see the module documentation for semantics and guarantees.
    """

    def __init__(self, *, instances: Iterable[str] = (), nodegroups: Iterable[str] = (),
                 nodes: Iterable[str] = (), networks: Iterable[str] = ()) -> None:
        nodes = list(nodes)
        initial: dict[Level, Iterable[str]] = {
            Level.CLUSTER: (BGL,), Level.NODEGROUP: nodegroups, Level.INSTANCE: instances,
            Level.NODE: nodes, Level.NODE_RES: nodes, Level.NETWORK: networks,
        }
        self._mutex = threading.Lock()
        self._levels: dict[int, _LevelState] = {
            lvl: _LevelState(lvl, self._check_names(initial[lvl])) for lvl in Level}
        self._held: dict[Hashable, dict[int, _Held]] = {}
        self._waiting: dict[Hashable, _Request] = {}
        self._seq = itertools.count()

    # ------------------------------------------------------------------ acquire
    def acquire(self, owner: Hashable, level: Level, names: Names, shared: bool = False,
                timeout: float | None = None, priority: int = C.OP_PRIO_DEFAULT,
                cancel_check: CancelCheck | None = None, *, opportunistic: bool = False,
                opportunistic_count: int = 1) -> frozenset[str]:
        """Acquire ``names`` (one name, an iterable of names, or ``ALL_SET``)
        at ``level`` for ``owner``, all at once, shared or exclusive.

        Waits up to ``timeout`` seconds (None: forever, 0: do not wait).
        ``priority``: -20 (highest) .. 19 (lowest).  ``cancel_check`` is
        called at least every :data:`CANCEL_POLL_INTERVAL` seconds while
        waiting; if it raises, the wait is abandoned, nothing is acquired and
        the exception propagates.

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
        key = self._key(priority)
        if level == Level.CLUSTER and wanted is not None and wanted != (BGL,):
            raise errors.ProgrammerError(
                f"The cluster level has only the lock {BGL!r}, not {sorted(wanted)!r}")
        excl = not shared
        with self._mutex:
            levels = self._held.get(owner)
            if levels is not None:
                self._check_order(owner, levels, level)
            if owner in self._waiting:
                raise errors.ProgrammerError(
                    f"Owner {owner!r} is already waiting for locks in another thread")
            if opportunistic:
                if wanted is None:
                    wanted = tuple(lv.known)
                req = _Request(owner, wanted, excl, _IX if excl else _IS, key, opp=True,
                               min_count=max(0, min(opportunistic_count, len(wanted))))
                got = self._opp_grantable(lv, req)
                if len(got) >= req.min_count:
                    req.names = got
                    self._grant(lv, req, levels)
                    return req.result
            elif wanted is None:
                mode = _X if excl else _S
                if self._set_ok(lv, mode, key):
                    self._hold_set(lv, owner, levels, mode)
                    return frozenset(lv.known)
                req = _Request(owner, (), excl, mode, key)
            else:
                mode = _IX if excl else _IS
                if self._set_ok(lv, mode, key) and self._names_ok(lv, wanted, excl, key):
                    self._hold_names(lv, owner, levels, wanted, excl)
                    return frozenset(wanted)
                req = _Request(owner, wanted, excl, mode, key)
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
        :class:`~gnt.errors.ProgrammerError`.
        """
        lv = self._level(level)
        todo = self._opt_names(names)
        if todo is not None and not todo:
            return
        with self._mutex:
            levels = self._held.get(owner)
            held = levels.get(level) if levels is not None else None
            if held is None or levels is None:
                if todo is None:
                    return
                raise errors.ProgrammerError(
                    f"Cannot release {_describe(level, todo)}: not owned by {owner!r}")
            woken = self._release(lv, owner, levels, held, todo)
        self._wake(woken)

    def release_all(self, owner: Hashable) -> None:
        """Release every lock ``owner`` holds, at every level."""
        woken: list[_Request] = []
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

        Raises :class:`~gnt.errors.ProgrammerError` when a name is not held
        (a name covered only by ALL_SET must be a known name to be
        downgraded on its own).
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
                    f"Cannot downgrade {_describe(level, todo)}: not owned by {owner!r}")
            set_changed = False
            changed: list[str] = []
            if todo is None:
                if held.set_mode == _X:
                    lv.set_excl = None
                    lv.set_shared[owner] = None
                    held.set_mode = _S
                    set_changed = True
                changed = [n for n, ex in held.names.items() if ex]
            else:
                if held.set_mode is not None:
                    unknown = todo - lv.known
                    if unknown:
                        raise errors.ProgrammerError(
                            f"Cannot downgrade {_describe(level, unknown)} on its own: "
                            "held only through ALL_SET and not a known name")
                    if held.set_mode == _S:
                        return
                    self._materialize(lv, owner, held)
                    set_changed = True
                missing = [n for n in todo if n not in held.names]
                if missing:
                    raise errors.ProgrammerError(
                        f"Cannot downgrade {_describe(level, missing)}: not owned by {owner!r}")
                changed = [n for n in todo if held.names[n]]
            locks = lv.locks
            for name in changed:
                lk = locks[name]
                lk.excl = None
                lk.shared[owner] = None
                held.names[name] = False
            lv.n_excl -= len(changed)
            lv.n_shared += len(changed)
            woken = self._reevaluate(lv, changed, set_changed)
        self._wake(woken)

    # ------------------------------------------------------------ add / remove
    def add(self, level: Level, names: str | Iterable[str], owner: Hashable | None = None, *,
            shared: bool = False, timeout: float | None = None,
            priority: int = C.OP_PRIO_DEFAULT, cancel_check: CancelCheck | None = None) -> None:
        """Make ``names`` known at ``level`` (a new instance, node, ...).

        With ``owner``, ``owner`` also holds them afterwards (exclusive, or
        shared with ``shared=True``).  Adding waits while another owner holds
        ALL_SET at ``level`` (so its view of "all names" stays true); it does
        not wait when ``owner`` already holds every name exclusively or holds
        ALL_SET exclusively - the usual case: lock the new name, create the
        object, then add it.  Otherwise ``owner`` must hold nothing at
        ``level`` or above, as for :meth:`acquire`.  ``timeout``,
        ``priority`` and ``cancel_check`` work as for :meth:`acquire`; if
        the add was granted just as ``cancel_check`` raised, it stands.

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
                    f"Cannot add {_describe(level, dup)}: already exists", errors.ECODE_EXISTS)
            names_t = tuple(new)
            levels: dict[int, _Held] | None = None
            if owner is None:
                req = _Request(None, (), True, _IX, key, register=names_t)
            else:
                levels = self._held.get(owner)
                held = levels.get(level) if levels is not None else None
                if held is not None and (held.set_mode == _X
                                         or all(held.names.get(n) for n in names_t)):
                    lv.known |= new
                    return
                if levels is not None:
                    self._check_order(owner, levels, level)
                if owner in self._waiting:
                    raise errors.ProgrammerError(
                        f"Owner {owner!r} is already waiting for locks in another thread")
                req = _Request(owner, names_t, excl, _IX, key, register=names_t)
            if self._set_ok(lv, _IX, key) and self._names_ok(lv, req.names, excl, key):
                self._grant(lv, req, levels)
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
            if held is None or (held.set_mode != _X
                                and not all(held.names.get(n) for n in gone)):
                raise errors.ProgrammerError(
                    f"Cannot remove {_describe(level, gone)}: {owner!r} must hold them "
                    "exclusively")
            lv.known -= gone

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
                mode = _mode(held.set_mode == _X)
                return dict.fromkeys(lv.known, mode)
            return {n: _mode(ex) for n, ex in held.names.items()}

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
                return shared is None or shared == (held.set_mode == _S)
            if names is ALL_SET:
                return False
            if names is None:
                items: Iterable[bool] = held.names.values()
            else:
                todo = (names,) if isinstance(names, str) else names
                items = []
                for n in todo:
                    ex = held.names.get(n)
                    if ex is None:
                        return False
                    items.append(ex)
            return shared is None or all(ex != shared for ex in items)

    def held_levels(self, owner: Hashable) -> list[Level]:
        """The levels at which ``owner`` holds locks, in order."""
        with self._mutex:
            return sorted(Level(lvl) for lvl in self._held.get(owner, ()))

    def names(self, level: Level) -> frozenset[str]:
        """The known names at ``level``."""
        lv = self._level(level)
        with self._mutex:
            return frozenset(lv.known)

    def list_locks(self, levels: Iterable[Level] | None = None,
                   active_only: bool = False) -> list[LockInfo]:
        """Every lock (known names, locks in use and each level's set lock),
        in level order, set lock first, then by name - what ``gnt-debug
        locks`` shows.  ``active_only``: only locks held or waited for."""
        out: list[LockInfo] = []
        with self._mutex:
            for level in sorted(Level if levels is None else set(levels)):
                lv = self._level(level)
                out.extend(self._level_info(lv, active_only))
        return out

    # ----------------------------------------------------------------- internals
    def _level(self, level: Level) -> _LevelState:
        try:
            return self._levels[level]
        except (KeyError, TypeError):
            raise errors.ProgrammerError(f"Invalid lock level {level!r}") from None

    def _key(self, priority: int) -> int:
        """Pack (priority, arrival) into one int: lower keys are served first."""
        if not C.OP_PRIO_HIGHEST <= priority <= C.OP_PRIO_LOWEST:
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

    @staticmethod
    def _check_order(owner: Hashable, levels: dict[int, _Held], level: int) -> None:
        for lvl in levels:
            if lvl >= level:
                raise errors.ProgrammerError(
                    f"Owner {owner!r} cannot acquire {LEVEL_NAMES[Level(level)]} locks while "
                    f"holding {LEVEL_NAMES[Level(lvl)]} locks (levels must be acquired in "
                    "increasing order, each level once)")

    # --- compatibility checks (mutex held) ---
    @staticmethod
    def _set_ok(lv: _LevelState, mode: int, key: int) -> bool:
        """Whether set-lock ``mode`` is compatible with the set-lock holders
        (including intentions) and with the set-level waiters ahead of ``key``."""
        if lv.set_excl is not None:
            return False
        if mode == _IX:
            if lv.set_shared:
                return False
        elif mode == _S:
            if lv.n_excl:
                return False
            ixw = lv.ix_waiters
            if ixw and ixw[0].key < key:
                return False
        elif mode == _X:
            if lv.set_shared or lv.n_excl or lv.n_shared:
                return False
            ixw, isw = lv.ix_waiters, lv.is_waiters
            if (ixw and ixw[0].key < key) or (isw and isw[0].key < key):
                return False
        if lv.set_waiters:
            compat = _COMPAT[mode]
            for w in lv.set_waiters:
                if w.key >= key:
                    break
                if not compat[w.set_mode]:
                    return False
        return True

    @staticmethod
    def _name_ok(lk: _Lock, excl: bool, key: int) -> bool:
        if lk.excl is not None:
            return False
        if excl:
            if lk.shared:
                return False
            q = lk.queue
            return not q or q[0].key >= key
        for w in lk.queue:
            if w.key >= key:
                return True
            if w.excl:
                return False
        return True

    def _names_ok(self, lv: _LevelState, names: tuple[str, ...], excl: bool,
                  key: int) -> bool:
        locks = lv.locks
        name_ok = self._name_ok
        for name in names:
            lk = locks.get(name)
            if lk is not None and not name_ok(lk, excl, key):
                return False
        return True

    def _opp_grantable(self, lv: _LevelState, req: _Request) -> tuple[str, ...]:
        if not self._set_ok(lv, req.set_mode, req.key):
            return ()
        locks = lv.locks
        return tuple(n for n in req.names
                     if (lk := locks.get(n)) is None or self._name_ok(lk, req.excl, req.key))

    # --- state changes (mutex held) ---
    def _owner_held(self, owner: Hashable, levels: dict[int, _Held] | None,
                    level: int) -> _Held:
        if levels is None:
            levels = self._held[owner] = {}
        held = levels[level] = _Held()
        return held

    def _hold_set(self, lv: _LevelState, owner: Hashable, levels: dict[int, _Held] | None,
                  mode: int) -> None:
        if mode == _X:
            lv.set_excl = owner
        else:
            lv.set_shared[owner] = None
        self._owner_held(owner, levels, lv.level).set_mode = mode

    def _hold_names(self, lv: _LevelState, owner: Hashable, levels: dict[int, _Held] | None,
                    names: tuple[str, ...], excl: bool) -> None:
        held = self._owner_held(owner, levels, lv.level).names
        locks = lv.locks
        for name in names:
            lk = locks.get(name)
            if lk is None:
                lk = locks[name] = _Lock()
            if excl:
                lk.excl = owner
            else:
                lk.shared[owner] = None
            held[name] = excl
        if excl:
            lv.n_excl += len(names)
        else:
            lv.n_shared += len(names)

    def _grant(self, lv: _LevelState, req: _Request,
               levels: dict[int, _Held] | None) -> None:
        """Give ``req`` what it asked for (it must be grantable and dequeued)."""
        owner = req.owner
        if req.register:
            dup = lv.known.intersection(req.register)
            if dup:
                req.error = errors.OpPrereqError(
                    f"Cannot add {_describe(lv.level, dup)}: already exists",
                    errors.ECODE_EXISTS)
                req.done = True
                return
            lv.known.update(req.register)
        if owner is not None:
            if req.set_mode >= _S:
                self._hold_set(lv, owner, levels, req.set_mode)
                req.result = frozenset(lv.known)
            elif req.names:
                self._hold_names(lv, owner, levels, req.names, req.excl)
                req.result = frozenset(req.names)
        req.done = True

    def _enqueue(self, lv: _LevelState, req: _Request) -> None:
        if req.owner is not None:
            self._waiting[req.owner] = req
        if req.opp:
            lv.opp_waiters.append(req)
            return
        locks = lv.locks
        for name in req.names:
            lk = locks.get(name)
            if lk is None:
                lk = locks[name] = _Lock()
            bisect.insort(lk.queue, req, key=_KEY)
        bisect.insort(lv.waiters_of(req.set_mode), req, key=_KEY)

    def _dequeue(self, lv: _LevelState, req: _Request) -> None:
        if req.owner is not None:
            self._waiting.pop(req.owner, None)
        if req.opp:
            lv.opp_waiters.remove(req)
            return
        locks = lv.locks
        for name in req.names:
            locks[name].queue.remove(req)
        lv.waiters_of(req.set_mode).remove(req)

    @staticmethod
    def _drop_idle(lv: _LevelState, names: Iterable[str]) -> None:
        locks = lv.locks
        for name in names:
            lk = locks.get(name)
            if lk is not None and lk.excl is None and not lk.shared and not lk.queue:
                del locks[name]

    def _materialize(self, lv: _LevelState, owner: Hashable, held: _Held) -> None:
        """Turn an ALL_SET hold into holds on every known name (same mode)."""
        excl = held.set_mode == _X
        if excl:
            lv.set_excl = None
        else:
            del lv.set_shared[owner]
        held.set_mode = None
        locks = lv.locks
        for name in lv.known:
            lk = locks.get(name)
            if lk is None:
                lk = locks[name] = _Lock()
            if excl:
                lk.excl = owner
            else:
                lk.shared[owner] = None
            held.names[name] = excl
        if excl:
            lv.n_excl += len(lv.known)
        else:
            lv.n_shared += len(lv.known)

    def _release(self, lv: _LevelState, owner: Hashable, levels: dict[int, _Held],
                 held: _Held, todo: set[str] | None) -> list[_Request]:
        set_changed = False
        if todo is None:
            if held.set_mode is not None:
                if held.set_mode == _X:
                    lv.set_excl = None
                else:
                    del lv.set_shared[owner]
                held.set_mode = None
                set_changed = True
            names: Iterable[str] = held.names
        else:
            if held.set_mode is not None:
                self._materialize(lv, owner, held)
                set_changed = True
                todo &= held.names.keys()   # unknown names were covered only by ALL_SET
            else:
                missing = [n for n in todo if n not in held.names]
                if missing:
                    raise errors.ProgrammerError(
                        f"Cannot release {_describe(lv.level, missing)}: not owned by "
                        f"{owner!r}")
            names = todo
        locks = lv.locks
        held_names = held.names
        changed = []
        for name in names:
            lk = locks[name]
            if held_names[name]:
                lk.excl = None
                lv.n_excl -= 1
            else:
                del lk.shared[owner]
                lv.n_shared -= 1
            if lk.queue:
                changed.append(name)
            elif not lk.shared and lk.excl is None:
                del locks[name]
        if todo is None:
            held_names.clear()
        else:
            for name in todo:
                del held_names[name]
        if not held_names and held.set_mode is None:
            del levels[lv.level]
            if not levels:
                del self._held[owner]
        return self._reevaluate(lv, changed, set_changed)

    def _reevaluate(self, lv: _LevelState, names: Iterable[str],
                    set_changed: bool) -> list[_Request]:
        """Grant every waiter at ``lv`` made grantable by a change to the
        named locks ``names`` (released, downgraded or no longer waited for)
        or to the set lock; returns the waiters granted (to be woken).

        Waiters are examined in key order.  Granting one never unblocks
        another (holding conflicts exactly where waiting ahead did), except
        for adds, which hold nothing afterwards - they are examined before
        the later waiters they could have blocked.
        """
        if set_changed:
            cands = lv.set_waiters + lv.is_waiters + lv.ix_waiters
        else:
            cands = []
            locks = lv.locks
            for name in names:
                lk = locks.get(name)
                if lk is not None and lk.queue:
                    cands.extend(lk.queue)

        cands.extend(lv.opp_waiters)
        if not cands:
            return []
        if len(cands) > 1:
            cands.sort(key=_KEY)
        woken: list[_Request] = []
        prev = None
        for req in cands:
            if req is prev or req.done:
                continue
            prev = req
            if req.opp:
                got = self._opp_grantable(lv, req)
                if len(got) < req.min_count:
                    continue
                self._dequeue(lv, req)
                req.names = got
            else:
                if not (self._set_ok(lv, req.set_mode, req.key)
                        and self._names_ok(lv, req.names, req.excl, req.key)):
                    continue
                self._dequeue(lv, req)
            self._grant(lv, req, self._held.get(req.owner) if req.owner is not None else None)
            woken.append(req)
        return woken

    @staticmethod
    def _wake(woken: list[_Request]) -> None:
        for req in woken:
            req.wake.release()

    # --- waiting (mutex not held) ---
    def _wait(self, lv: _LevelState, req: _Request, timeout: float | None,
              cancel_check: CancelCheck | None) -> frozenset[str]:
        deadline = None if timeout is None else time.monotonic() + timeout
        wake = req.wake
        granted = False
        try:
            while True:
                if deadline is None:
                    slice_ = CANCEL_POLL_INTERVAL if cancel_check is not None else -1.0
                else:
                    slice_ = deadline - time.monotonic()
                    if slice_ <= 0:
                        break
                    if cancel_check is not None and slice_ > CANCEL_POLL_INTERVAL:
                        slice_ = CANCEL_POLL_INTERVAL
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
                    self._dequeue(lv, req)
                    self._drop_idle(lv, req.names)
                    woken = self._reevaluate(lv, req.names, req.set_mode >= _S)
                    err = self._timeout_error(lv.level, req, timeout)
                else:  # granted just as the timeout expired
                    woken, err = [], None
            self._wake(woken)
            if err is not None:
                raise err
        return self._outcome(req)

    @staticmethod
    def _outcome(req: _Request) -> frozenset[str]:
        if req.error is not None:
            raise req.error
        return req.result

    def _abandon(self, lv: _LevelState, req: _Request) -> None:
        """Withdraw a waiting request; if it was granted meanwhile, give back
        what it acquired (not for adds: they stand)."""
        with self._mutex:
            if not req.done:
                self._dequeue(lv, req)
                self._drop_idle(lv, req.names)
                woken = self._reevaluate(lv, req.names, req.set_mode >= _S)
            elif not req.register and req.owner is not None and req.error is None:
                levels = self._held.get(req.owner)
                held = levels.get(lv.level) if levels is not None else None
                woken = (self._release(lv, req.owner, levels, held, None)
                         if levels is not None and held is not None else [])
            else:
                woken = []
        self._wake(woken)

    @staticmethod
    def _timeout_error(level: int, req: _Request, timeout: float | None) -> errors.LockError:
        what = _describe(Level(level), None if req.set_mode >= _S else
                         (req.register or req.names))
        verb = "add" if req.register else "acquire"
        return errors.LockError(
            f"Could not {verb} {_mode(req.excl).value} lock(s) {what} within {timeout} s")

    # --- introspection ---
    def _level_info(self, lv: _LevelState, active_only: bool) -> list[LockInfo]:
        level = lv.level
        prefix = LEVEL_NAMES[level] + "/"
        out = []
        # the set lock: ALL_SET holders, ALL_SET waiters and adds
        pend = sorted(lv.set_waiters + [w for w in lv.ix_waiters if w.register], key=_KEY)
        if lv.set_excl is not None:
            mode: Mode | None = Mode.EXCLUSIVE
            owners: tuple[Hashable, ...] = (lv.set_excl,)
        elif lv.set_shared:
            mode, owners = Mode.SHARED, tuple(lv.set_shared)
        else:
            mode, owners = None, ()
        if not active_only or owners or pend:
            out.append(LockInfo(prefix + LOCKSET_NAME, level, mode, owners,
                                self._pending(pend, lambda w: w.set_mode != _S)))
        names = set(lv.locks) if active_only else lv.known | lv.locks.keys()
        for name in sorted(names):
            lk = lv.locks.get(name)
            if lk is None:
                out.append(LockInfo(prefix + name, level, None, (), ()))
                continue
            if lk.excl is not None:
                mode, owners = Mode.EXCLUSIVE, (lk.excl,)
            elif lk.shared:
                mode, owners = Mode.SHARED, tuple(lk.shared)
            else:
                mode, owners = None, ()
            pend = lk.queue + [w for w in lv.opp_waiters if name in w.names]
            out.append(LockInfo(prefix + name, level, mode, owners,
                                self._pending(pend, lambda w: w.excl)))
        return out

    @staticmethod
    def _pending(reqs: list[_Request], is_excl: Callable[[_Request], bool]
                 ) -> tuple[tuple[Mode, tuple[Hashable, ...]], ...]:
        groups: list[tuple[Mode, list[Hashable]]] = []
        for w in reqs:
            mode = _mode(is_excl(w))
            if mode is Mode.SHARED and groups and groups[-1][0] is Mode.SHARED:
                groups[-1][1].append(w.owner)
            else:
                groups.append((mode, [w.owner]))
        return tuple((m, tuple(o)) for m, o in groups)
