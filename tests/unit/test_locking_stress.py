"""Lock manager under load (many threads, random requests) and against a model.

* ``test_stress_*``: seeded random workloads across all levels, in order,
  with timeouts, cancellations, priorities, ALL_SET, downgrades and partial
  releases.  They must finish within a bound (no deadlock) and an
  independent counter table must never see two conflicting holders.
* ``TestAgainstModel``: hypothesis drives single-threaded operations with
  ``timeout=0`` and compares every outcome and every owner's locks with a
  small reference model of the compatibility rules.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gnt import errors
from gnt.locking import ALL_SET, BGL, Level, LockManager, Mode

pytestmark = pytest.mark.unit

UNIVERSE: dict[Level, list[str]] = {
    Level.CLUSTER: [BGL],
    Level.NODEGROUP: ["g1", "g2", "g3"],
    Level.INSTANCE: [f"i{k}" for k in range(8)],
    Level.NODE: [f"n{k}" for k in range(6)],
    Level.NODE_RES: [f"n{k}" for k in range(6)],
    Level.NETWORK: ["net1", "net2"],
}


def new_manager(cancel_interval: float = 0.1) -> LockManager:
    return LockManager(instances=UNIVERSE[Level.INSTANCE], nodegroups=UNIVERSE[Level.NODEGROUP],
                       nodes=UNIVERSE[Level.NODE], networks=UNIVERSE[Level.NETWORK],
                       cancel_interval=cancel_interval)


class Cancelled(Exception):
    pass


class Checker:
    """Independent bookkeeping of who holds what; fails on any conflict."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.excl: dict[tuple[Level, str], Any] = {}
        self.shared: dict[tuple[Level, str], set[Any]] = {}
        self.violations: list[str] = []
        self.max_shared = 0

    def take(self, owner: Any, level: Level, names: Iterable[str], excl: bool) -> None:
        with self.mutex:
            for name in names:
                key = (level, name)
                other = self.excl.get(key)
                sharers = self.shared.setdefault(key, set())
                if other is not None or (excl and sharers):
                    self.violations.append(
                        f"{owner} got {key} {'excl' if excl else 'shared'} while held by "
                        f"{other} / {sharers}")
                if excl:
                    self.excl[key] = owner
                else:
                    sharers.add(owner)
                    self.max_shared = max(self.max_shared, len(sharers))

    def drop(self, owner: Any, level: Level, names: Iterable[str]) -> None:
        with self.mutex:
            for name in names:
                key = (level, name)
                if self.excl.get(key) == owner:
                    del self.excl[key]
                else:
                    self.shared[key].discard(owner)

    def downgrade(self, owner: Any, level: Level, names: Iterable[str]) -> None:
        with self.mutex:
            for name in names:
                key = (level, name)
                if self.excl.get(key) == owner:
                    del self.excl[key]
                    self.shared.setdefault(key, set()).add(owner)


def run_threads(target: Any, n: int, bound: float, m: LockManager) -> None:
    failures: list[BaseException] = []

    def wrapper(k: int) -> None:
        try:
            target(k)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=wrapper, args=(k,), daemon=True) for k in range(n)]
    deadline = time.monotonic() + bound
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t for t in threads if t.is_alive()]
    if alive:
        dump = "\n".join(f"{i.name}: {i.mode} {i.owners} pending={i.pending}"
                         for i in m.list_locks(active_only=True))
        pytest.fail(f"{len(alive)} threads still running after {bound} s "
                    f"(deadlock?); locks:\n{dump}")
    if failures:
        raise failures[0]


def test_stress_random_requests_in_level_order() -> None:
    m = new_manager(cancel_interval=0.0005)
    chk = Checker()
    stats = {"granted": 0, "timeouts": 0, "cancelled": 0}
    stats_mutex = threading.Lock()
    n_threads, n_jobs = 16, 120

    def worker(tid: int) -> None:
        rnd = random.Random(1000 + tid)
        for job in range(n_jobs):
            owner = ("job", tid, job)
            prio = rnd.choice((-20, -10, 0, 0, 0, 10, 19))
            held: dict[Level, tuple[set[str], bool]] = {}
            try:
                for level in Level:
                    if rnd.random() < 0.45:
                        continue
                    universe = UNIVERSE[level]
                    excl = rnd.random() < 0.5
                    if level != Level.CLUSTER and rnd.random() < 0.1:
                        names: Any = ALL_SET
                    else:
                        names = rnd.sample(universe, rnd.randint(1, min(3, len(universe))))
                    opp = level != Level.CLUSTER and names is not ALL_SET and rnd.random() < 0.1
                    r = rnd.random()
                    timeout = None if r < 0.5 else rnd.uniform(0, 0.01) if r < 0.8 else 0
                    cancel_p = 0.2 if rnd.random() < 0.2 else 0.0

                    def cancel_check(p: float = cancel_p) -> None:
                        if rnd.random() < p:
                            raise Cancelled()

                    try:
                        got = m.acquire(owner, level, names, shared=not excl, timeout=timeout,
                                        priority=prio, cancel_check=cancel_check,
                                        opportunistic=opp, opportunistic_count=1)
                    except errors.LockError:
                        with stats_mutex:
                            stats["timeouts"] += 1
                        assert not m.is_owned(owner, level)
                        continue
                    except Cancelled:
                        with stats_mutex:
                            stats["cancelled"] += 1
                        assert not m.is_owned(owner, level)
                        continue
                    assert names is ALL_SET or got <= set(names)
                    if names is ALL_SET:
                        assert got == set(universe)
                    chk.take(owner, level, got, excl)
                    held[level] = (set(got), excl)
                    with stats_mutex:
                        stats["granted"] += 1
                    if rnd.random() < 0.3:
                        time.sleep(rnd.uniform(0, 0.001))
                    if excl and rnd.random() < 0.15:
                        part = set(rnd.sample(sorted(got), max(1, len(got) // 2)))
                        chk.downgrade(owner, level, part)
                        m.downgrade(owner, level, part)
                        held[level] = (set(got), False) if part == got else held[level]
                        excl = part != got and excl
                    if rnd.random() < 0.15 and len(got) > 1:
                        part = set(rnd.sample(sorted(got), len(got) // 2))
                        chk.drop(owner, level, part)
                        m.release(owner, level, part)
                        held[level] = (set(got) - part, held[level][1])
                        assert set(m.owned(owner, level)) == set(got) - part
            finally:
                for level, (names_held, _) in held.items():
                    chk.drop(owner, level, names_held)
                m.release_all(owner)

    run_threads(worker, n_threads, 60.0, m)
    assert not chk.violations, chk.violations[:5]
    assert stats["granted"] > n_threads * n_jobs  # the workload did real work
    assert stats["timeouts"] > 0 and stats["cancelled"] > 0
    assert m.list_locks(active_only=True) == []
    assert m._held == {} and m._waiting == {}


def test_stress_add_remove_while_all_set_held() -> None:
    """Holders of ALL_SET never see the set of names change under them."""
    m = new_manager()
    chk = Checker()
    counter = iter(range(10**9))
    counter_mutex = threading.Lock()

    def worker(tid: int) -> None:
        rnd = random.Random(77 + tid)
        for job in range(100):
            owner = ("job", tid, job)
            try:
                kind = rnd.random()
                if kind < 0.35:
                    excl = rnd.random() < 0.3
                    got = m.acquire(owner, Level.NODE, ALL_SET, shared=not excl,
                                    priority=rnd.choice((0, 5)))
                    before = m.names(Level.NODE)
                    assert got == before
                    chk.take(owner, Level.NODE, ["*set*"], excl)
                    time.sleep(rnd.uniform(0, 0.0005))
                    assert m.names(Level.NODE) == before
                    assert set(m.owned(owner, Level.NODE)) == before
                    chk.drop(owner, Level.NODE, ["*set*"])
                elif kind < 0.7:
                    with counter_mutex:
                        name = f"new{next(counter)}"
                    # lock the new name, "create", then make it known
                    m.acquire(owner, Level.NODE, name)
                    m.add(Level.NODE, name, owner=owner)
                    assert name in m.names(Level.NODE)
                elif kind < 0.85:
                    with counter_mutex:
                        name = f"anon{next(counter)}"
                    m.add(Level.NODE, name, timeout=rnd.choice((None, 0.002)))
                else:
                    victims = sorted(n for n in m.names(Level.NODE)
                                     if n.startswith(("new", "anon")))
                    if victims:
                        name = rnd.choice(victims)
                        m.acquire(owner, Level.NODE, name)
                        m.remove(owner, Level.NODE, name)
                        assert name not in m.names(Level.NODE)
            except errors.LockError:
                pass
            finally:
                m.release_all(owner)

    run_threads(worker, 12, 60.0, m)
    assert not chk.violations, chk.violations[:5]
    assert m.list_locks(active_only=True) == []


# ------------------------------------------------------------------ model test
OWNERS = ("a", "b", "c")
POOL = {lvl: [*names[:3], "zz"] if lvl != Level.CLUSTER else [BGL] for lvl, names in
        UNIVERSE.items()}
levels_st = st.sampled_from(list(Level))


class Model:
    """Reference semantics with no waiting: grant iff compatible."""

    def __init__(self) -> None:
        self.known = {lvl: set(names) for lvl, names in UNIVERSE.items()}
        # owner -> level -> ("set", excl) | ("names", {name: excl})
        self.holds: dict[str, dict[Level, tuple[str, Any]]] = {o: {} for o in OWNERS}

    def conflicts(self, owner: str, level: Level, names: set[str] | None, excl: bool,
                  set_ix: bool = False) -> bool:
        """Whether a request of ``owner`` conflicts with another owner's holds;
        ``names`` None means ALL_SET; ``set_ix``: registering names (add)."""
        for other, levels in self.holds.items():
            if other == owner or level not in levels:
                continue
            kind, val = levels[level]
            if kind == "set":
                # ALL_SET exclusive excludes everything; ALL_SET shared excludes
                # exclusive requests and adds
                if val or excl or set_ix:
                    return True
            elif names is None:
                # ALL_SET exclusive needs an empty level, shared no exclusive name
                if excl or any(val.values()):
                    return True
            elif any(excl or val[n] for n in names & val.keys()):
                return True
        return False

    def owned(self, owner: str, level: Level) -> dict[str, Mode]:
        h = self.holds[owner].get(level)
        if h is None:
            return {}
        kind, val = h
        if kind == "set":
            return dict.fromkeys(self.known[level], Mode.EXCLUSIVE if val else Mode.SHARED)
        return {n: Mode.EXCLUSIVE if ex else Mode.SHARED for n, ex in val.items()}

    def materialize(self, owner: str, level: Level) -> None:
        kind, val = self.holds[owner][level]
        if kind == "set":
            self.holds[owner][level] = ("names", dict.fromkeys(self.known[level], val))


class ModelMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.m = new_manager()
        self.model = Model()

    def outcome(self, fn: Any) -> tuple[str, Any]:
        try:
            return "ok", fn()
        except errors.LockError:
            return "lock", None
        except errors.OpPrereqError:
            return "prereq", None
        except errors.ProgrammerError:
            return "programmer", None

    @rule(owner=st.sampled_from(OWNERS), level=levels_st, data=st.data(),
          shared=st.booleans())
    def acquire(self, owner: str, level: Level, data: st.DataObject, shared: bool) -> None:
        all_set = level != Level.CLUSTER and data.draw(st.booleans())
        names = None if all_set else set(data.draw(
            st.lists(st.sampled_from(POOL[level]), min_size=1, max_size=3)))
        request: Any = ALL_SET if names is None else names
        got = self.outcome(lambda: self.m.acquire(owner, level, request, shared=shared,
                                                  timeout=0))
        mo = self.model
        if any(lvl >= level for lvl in mo.holds[owner]):
            assert got[0] == "programmer"
        elif mo.conflicts(owner, level, names, not shared):
            assert got[0] == "lock"
        else:
            assert got[0] == "ok"
            if names is None:
                assert got[1] == mo.known[level]
                mo.holds[owner][level] = ("set", not shared)
            else:
                assert got[1] == names
                mo.holds[owner][level] = ("names", dict.fromkeys(names, not shared))

    @rule(owner=st.sampled_from(OWNERS), level=levels_st, data=st.data())
    def release(self, owner: str, level: Level, data: st.DataObject) -> None:
        mo = self.model
        names = data.draw(st.none() | st.sets(st.sampled_from(POOL[level]), min_size=1))
        got = self.outcome(lambda: self.m.release(owner, level, names))
        h = mo.holds[owner].get(level)
        if names is None:
            assert got[0] == "ok"
            mo.holds[owner].pop(level, None)
            return
        if h is None or (h[0] == "names" and not names <= h[1].keys()):
            assert got[0] == "programmer"
            return
        assert got[0] == "ok"
        mo.materialize(owner, level)
        left = {n: ex for n, ex in mo.holds[owner][level][1].items() if n not in names}
        if left:
            mo.holds[owner][level] = ("names", left)
        else:
            del mo.holds[owner][level]

    @rule(owner=st.sampled_from(OWNERS), level=levels_st, data=st.data())
    def downgrade(self, owner: str, level: Level, data: st.DataObject) -> None:
        mo = self.model
        names = data.draw(st.none() | st.sets(st.sampled_from(POOL[level]), min_size=1))
        got = self.outcome(lambda: self.m.downgrade(owner, level, names))
        h = mo.holds[owner].get(level)
        if h is None:
            assert got[0] == "programmer"
            return
        kind, val = h
        if names is None:
            assert got[0] == "ok"
            mo.holds[owner][level] = (("set", False) if kind == "set"
                                      else ("names", dict.fromkeys(val, False)))
            return
        if kind == "set":
            if names - mo.known[level]:
                assert got[0] == "programmer"
                return
            if not val:
                assert got[0] == "ok"
                return
            mo.materialize(owner, level)
        held = mo.holds[owner][level][1]
        if not names <= held.keys():
            assert got[0] == "programmer"
            return
        assert got[0] == "ok"
        for n in names:
            held[n] = False

    @rule(owner=st.sampled_from((None, *OWNERS)), level=levels_st, data=st.data(),
          shared=st.booleans())
    def add(self, owner: str | None, level: Level, data: st.DataObject, shared: bool) -> None:
        mo = self.model
        names = set(data.draw(st.lists(st.sampled_from([*POOL[level], "new1", "new2"]),
                                       min_size=1, max_size=2)))
        got = self.outcome(lambda: self.m.add(level, names, owner=owner, shared=shared,
                                              timeout=0))
        if level == Level.CLUSTER:
            assert got[0] == "programmer"
            return
        if names & mo.known[level]:
            assert got[0] == "prereq"
            return
        if owner is None:
            if mo.conflicts("-", level, set(), False, set_ix=True):
                assert got[0] == "lock"
            else:
                assert got[0] == "ok"
                mo.known[level] |= names
            return
        h = mo.holds[owner].get(level)
        if h is not None and ((h[0] == "set" and h[1])
                              or (h[0] == "names" and all(h[1].get(n) for n in names))):
            assert got[0] == "ok"
            mo.known[level] |= names
            return
        if any(lvl >= level for lvl in mo.holds[owner]):
            assert got[0] == "programmer"
        elif mo.conflicts(owner, level, names, not shared, set_ix=True):
            assert got[0] == "lock"
        else:
            assert got[0] == "ok"
            mo.known[level] |= names
            mo.holds[owner][level] = ("names", dict.fromkeys(names, not shared))

    @rule(owner=st.sampled_from(OWNERS), level=levels_st, data=st.data())
    def remove(self, owner: str, level: Level, data: st.DataObject) -> None:
        mo = self.model
        names = set(data.draw(st.lists(st.sampled_from([*POOL[level], "new1"]), min_size=1,
                                       max_size=2)))
        got = self.outcome(lambda: self.m.remove(owner, level, names))
        if level == Level.CLUSTER:
            assert got[0] == "programmer"
            return
        gone = names & mo.known[level]
        if not gone:
            assert got[0] == "ok"
            return
        h = mo.holds[owner].get(level)
        if h is None or not ((h[0] == "set" and h[1])
                             or (h[0] == "names" and all(h[1].get(n) for n in gone))):
            assert got[0] == "programmer"
            return
        assert got[0] == "ok"
        mo.known[level] -= gone

    @rule(owner=st.sampled_from(OWNERS))
    def release_all(self, owner: str) -> None:
        self.m.release_all(owner)
        self.model.holds[owner] = {}

    @invariant()
    def same_state(self) -> None:
        for level in Level:
            assert self.m.names(level) == self.model.known[level]
            for owner in OWNERS:
                assert self.m.owned(owner, level) == self.model.owned(owner, level), \
                    (owner, level)
        assert self.m._waiting == {}

    def teardown(self) -> None:
        for owner in OWNERS:
            self.m.release_all(owner)
        assert self.m.list_locks(active_only=True) == []


ModelMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestAgainstModel = ModelMachine.TestCase
