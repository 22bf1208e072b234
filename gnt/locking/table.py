"""One level's lock table: holders, wait queues and the compatibility rules.

Internal to :mod:`gnt.locking`; every method expects the manager's mutex to
be held.  See :mod:`gnt.locking.manager` for the model (named locks plus a
set lock with intention modes) and the fairness rule implemented by
:meth:`LevelTable.set_ok` and :meth:`LevelTable.names_ok`: a request is
compatible when it conflicts with no holder and with no waiting request
ahead of it (smaller key).
"""

from __future__ import annotations

import bisect
import operator
import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from gnt import errors
from gnt.locking.levels import LEVEL_NAMES, LOCKSET_NAME, Level, Mode

# modes on the set lock: intention shared/exclusive (named locks), ALL_SET shared/exclusive
IS, IX, S, X = 0, 1, 2, 3
_COMPAT = (
    (True, True, True, False),
    (True, True, False, False),
    (True, False, True, False),
    (False, False, False, False),
)
KEY = operator.attrgetter("key")


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


def mode_of(excl: bool) -> Mode:
    return Mode.EXCLUSIVE if excl else Mode.SHARED


def describe(level: int, names: Iterable[str] | None, limit: int = 5) -> str:
    """``instance/a, instance/b and 3 more`` (None: the set lock), for messages."""
    lvl = LEVEL_NAMES[Level(level)]
    if names is None:
        return f"{lvl}/{LOCKSET_NAME}"
    items = sorted(names)
    shown = ", ".join(f"{lvl}/{n}" for n in items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


class Lock:
    """One named lock in use (held or waited for)."""

    __slots__ = ("excl", "queue", "shared")

    def __init__(self) -> None:
        self.excl: Hashable | None = None          # exclusive holder
        self.shared: dict[Hashable, None] = {}     # shared holders, in grant order
        self.queue: list[Request] = []             # waiters, sorted by key

    def idle(self) -> bool:
        return self.excl is None and not self.shared and not self.queue


class Request:
    """One request that has to wait (or an opportunistic one being decided)."""

    __slots__ = ("done", "error", "excl", "key", "min_count", "names", "opp", "owner",
                 "register", "result", "set_mode", "wake")

    def __init__(self, owner: Hashable | None, names: tuple[str, ...], excl: bool,
                 set_mode: int, key: int, register: tuple[str, ...] = (),
                 opp: bool = False, min_count: int = 0) -> None:
        self.owner = owner            # None: anonymous registration (add)
        self.names = names            # named locks wanted (empty for ALL_SET)
        self.excl = excl              # mode of the named locks
        self.set_mode = set_mode      # IS/IX/S/X on the set lock
        self.key = key                # (priority, arrival) packed in one int
        self.register = register      # names to make known when granted (add)
        self.opp = opp                # opportunistic
        self.min_count = min_count    # opportunistic: grant when this many are free
        self.wake = threading.Lock()  # released exactly once, by the granter
        self.wake.acquire()
        self.done = False
        self.result: frozenset[str] = frozenset()
        self.error: errors.GntError | None = None


class Held:
    """What one owner holds at one level."""

    __slots__ = ("names", "set_mode")

    def __init__(self) -> None:
        self.names: dict[str, bool] = {}  # name -> exclusive?
        self.set_mode: int | None = None  # S / X when holding ALL_SET

    def empty(self) -> bool:
        return not self.names and self.set_mode is None


class LevelTable:
    """Known names, held locks and waiting requests of one level."""

    __slots__ = ("frozen", "is_waiters", "ix_waiters", "known", "level", "locks", "n_excl",
                 "n_shared", "opp_waiters", "set_excl", "set_shared", "set_waiters")

    def __init__(self, level: Level, known: Iterable[str]) -> None:
        self.level = level
        self.known: set[str] = set(known)
        self.frozen: frozenset[str] | None = None  # cached frozenset(known)
        self.locks: dict[str, Lock] = {}          # only locks in use
        self.set_excl: Hashable | None = None     # ALL_SET exclusive holder
        self.set_shared: dict[Hashable, None] = {}  # ALL_SET shared holders
        self.n_shared = 0                         # shared named holds (IS intentions)
        self.n_excl = 0                           # exclusive named holds (IX intentions)
        self.set_waiters: list[Request] = []      # ALL_SET waiters (S/X), by key
        self.is_waiters: list[Request] = []       # named shared waiters, by key
        self.ix_waiters: list[Request] = []       # named exclusive waiters and adds, by key
        self.opp_waiters: list[Request] = []      # opportunistic waiters

    # --- known names ---
    def known_names(self) -> frozenset[str]:
        """The known names, as a frozenset cached until they change."""
        if self.frozen is None:
            self.frozen = frozenset(self.known)
        return self.frozen

    def add_known(self, names: Iterable[str]) -> None:
        self.known.update(names)
        self.frozen = None

    def remove_known(self, names: Iterable[str]) -> None:
        self.known.difference_update(names)
        self.frozen = None

    # --- compatibility ---
    def set_ok(self, mode: int, key: int) -> bool:
        """Whether set-lock ``mode`` is compatible with the set-lock holders
        (intentions included) and the set-level waiters ahead of ``key``."""
        if self.set_excl is not None:
            return False
        if mode == IX:
            if self.set_shared:
                return False
        elif mode == S:
            if self.n_excl:
                return False
            ixw = self.ix_waiters
            if ixw and ixw[0].key < key:
                return False
        elif mode == X:
            if self.set_shared or self.n_excl or self.n_shared:
                return False
            ixw, isw = self.ix_waiters, self.is_waiters
            if (ixw and ixw[0].key < key) or (isw and isw[0].key < key):
                return False
        if self.set_waiters:
            compat = _COMPAT[mode]
            for w in self.set_waiters:
                if w.key >= key:
                    break
                if not compat[w.set_mode]:
                    return False
        return True

    @staticmethod
    def name_ok(lk: Lock, excl: bool, key: int) -> bool:
        """Whether ``lk`` can be granted in mode ``excl`` to the request ``key``."""
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

    def names_ok(self, names: tuple[str, ...], excl: bool, key: int) -> bool:
        locks = self.locks
        name_ok = self.name_ok
        for name in names:
            lk = locks.get(name)
            if lk is not None and not name_ok(lk, excl, key):
                return False
        return True

    def grantable(self, req: Request) -> bool:
        return self.set_ok(req.set_mode, req.key) and self.names_ok(req.names, req.excl, req.key)

    def opp_grantable(self, req: Request) -> tuple[str, ...]:
        """The names of an opportunistic request that could be granted now."""
        if not self.set_ok(req.set_mode, req.key):
            return ()
        locks, name_ok = self.locks, self.name_ok
        return tuple(n for n in req.names
                     if (lk := locks.get(n)) is None or name_ok(lk, req.excl, req.key))

    # --- holding ---
    def hold_set(self, owner: Hashable, held: Held, mode: int) -> None:
        if mode == X:
            self.set_excl = owner
        else:
            self.set_shared[owner] = None
        held.set_mode = mode

    def hold_names(self, owner: Hashable, held: Held, names: Iterable[str], excl: bool) -> None:
        locks = self.locks
        held_names = held.names
        n = 0
        for name in names:
            lk = locks.get(name)
            if lk is None:
                lk = locks[name] = Lock()
            if excl:
                lk.excl = owner
            else:
                lk.shared[owner] = None
            held_names[name] = excl
            n += 1
        if excl:
            self.n_excl += n
        else:
            self.n_shared += n

    def materialize(self, owner: Hashable, held: Held) -> None:
        """Turn an ALL_SET hold into holds on every known name (same mode)."""
        excl = held.set_mode == X
        self._drop_set(owner, held)
        self.hold_names(owner, held, self.known, excl)

    def _drop_set(self, owner: Hashable, held: Held) -> None:
        if held.set_mode == X:
            self.set_excl = None
        else:
            del self.set_shared[owner]
        held.set_mode = None

    def release(self, owner: Hashable, held: Held, todo: set[str] | None
                ) -> tuple[list[str], bool]:
        """Release ``todo`` (None: everything) of ``owner``'s holds; returns
        the released names others wait for, and whether the set lock changed.
        Raises ProgrammerError, changing nothing, for names not held."""
        set_changed = held.set_mode is not None
        if todo is None:
            if set_changed:
                self._drop_set(owner, held)
            names: Iterable[str] = list(held.names)
        else:
            if set_changed:
                self.materialize(owner, held)
                todo &= held.names.keys()   # unknown names were covered only by ALL_SET
            else:
                missing = todo - held.names.keys()
                if missing:
                    raise errors.ProgrammerError(
                        f"Cannot release {describe(self.level, missing)}: not owned by "
                        f"{owner!r}")
            names = todo
        locks = self.locks
        held_names = held.names
        changed = []
        for name in names:
            lk = locks[name]
            if held_names.pop(name):
                lk.excl = None
                self.n_excl -= 1
            else:
                del lk.shared[owner]
                self.n_shared -= 1
            if lk.queue:
                changed.append(name)
            elif not lk.shared and lk.excl is None:
                del locks[name]
        return changed, set_changed

    def downgrade(self, owner: Hashable, held: Held, todo: set[str] | None
                  ) -> tuple[list[str], bool]:
        """Make ``todo`` (None: everything) of ``owner``'s exclusive holds
        shared; returns the names changed and whether the set lock changed.
        Raises ProgrammerError, changing nothing, for names not held."""
        set_changed = False
        if todo is None:
            if held.set_mode == X:
                self.set_excl = None
                self.set_shared[owner] = None
                held.set_mode = S
                set_changed = True
            changed = [n for n, ex in held.names.items() if ex]
        else:
            if held.set_mode is not None:
                unknown = todo - self.known
                if unknown:
                    raise errors.ProgrammerError(
                        f"Cannot downgrade {describe(self.level, unknown)} on its own: held "
                        "only through ALL_SET and not a known name")
                if held.set_mode == S:
                    return [], False
                self.materialize(owner, held)
                set_changed = True
            missing = todo - held.names.keys()
            if missing:
                raise errors.ProgrammerError(
                    f"Cannot downgrade {describe(self.level, missing)}: not owned by "
                    f"{owner!r}")
            changed = [n for n in todo if held.names[n]]
        locks = self.locks
        for name in changed:
            lk = locks[name]
            lk.excl = None
            lk.shared[owner] = None
            held.names[name] = False
        self.n_excl -= len(changed)
        self.n_shared += len(changed)
        return changed, set_changed

    # --- waiting ---
    def _waiters_of(self, mode: int) -> list[Request]:
        if mode == IS:
            return self.is_waiters
        if mode == IX:
            return self.ix_waiters
        return self.set_waiters

    def enqueue(self, req: Request) -> None:
        if req.opp:
            self.opp_waiters.append(req)
            return
        locks = self.locks
        for name in req.names:
            lk = locks.get(name)
            if lk is None:
                lk = locks[name] = Lock()
            bisect.insort(lk.queue, req, key=KEY)
        bisect.insort(self._waiters_of(req.set_mode), req, key=KEY)

    def dequeue(self, req: Request) -> None:
        if req.opp:
            self.opp_waiters.remove(req)
            return
        locks = self.locks
        for name in req.names:
            locks[name].queue.remove(req)
        self._waiters_of(req.set_mode).remove(req)

    def drop_idle(self, names: Iterable[str]) -> None:
        locks = self.locks
        for name in names:
            lk = locks.get(name)
            if lk is not None and lk.idle():
                del locks[name]

    def candidates(self, names: Iterable[str], set_changed: bool) -> list[Request]:
        """The waiters a change to the named locks ``names`` or (if
        ``set_changed``) to the set lock may have unblocked, in key order
        (a request may appear more than once)."""
        if not (set_changed or names or self.set_waiters or self.opp_waiters):
            return []
        if set_changed:
            cands = self.set_waiters + self.is_waiters + self.ix_waiters
        else:
            cands = []
            locks = self.locks
            for name in names:
                lk = locks.get(name)
                if lk is not None and lk.queue:
                    cands.extend(lk.queue)
            cands.extend(self.set_waiters)
        cands.extend(self.opp_waiters)
        if len(cands) > 1:
            cands.sort(key=KEY)
        return cands

    # --- introspection ---
    def info(self, active_only: bool) -> list[LockInfo]:
        """The set lock, then every named lock by name (``active_only``: only
        those held or waited for)."""
        level = self.level
        prefix = LEVEL_NAMES[level] + "/"
        out = []
        # the set lock: ALL_SET holders, ALL_SET waiters and adds
        pend = sorted(self.set_waiters + [w for w in self.ix_waiters if w.register], key=KEY)
        if self.set_excl is not None:
            mode: Mode | None = Mode.EXCLUSIVE
            owners: tuple[Hashable, ...] = (self.set_excl,)
        elif self.set_shared:
            mode, owners = Mode.SHARED, tuple(self.set_shared)
        else:
            mode, owners = None, ()
        if not active_only or owners or pend:
            out.append(LockInfo(prefix + LOCKSET_NAME, level, mode, owners,
                                _pending(pend, lambda w: w.set_mode != S)))
        names = set(self.locks) if active_only else self.known | self.locks.keys()
        for name in sorted(names):
            lk = self.locks.get(name)
            if lk is None:
                out.append(LockInfo(prefix + name, level, None, (), ()))
                continue
            if lk.excl is not None:
                mode, owners = Mode.EXCLUSIVE, (lk.excl,)
            elif lk.shared:
                mode, owners = Mode.SHARED, tuple(lk.shared)
            else:
                mode, owners = None, ()
            pend = lk.queue + [w for w in self.opp_waiters if name in w.names]
            out.append(LockInfo(prefix + name, level, mode, owners,
                                _pending(pend, lambda w: w.excl)))
        return out


def _pending(reqs: list[Request], is_excl: Callable[[Request], bool]
             ) -> tuple[tuple[Mode, tuple[Hashable, ...]], ...]:
    groups: list[tuple[Mode, list[Hashable]]] = []
    for w in reqs:
        mode = mode_of(is_excl(w))
        if mode is Mode.SHARED and groups and groups[-1][0] is Mode.SHARED:
            groups[-1][1].append(w.owner)
        else:
            groups.append((mode, [w.owner]))
    return tuple((m, tuple(o)) for m, o in groups)
