"""Lock manager semantics: modes, ordering, atomicity, fairness, ALL_SET, add/remove."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from gnt import errors
from gnt.locking import ALL_SET, BGL, Level, LockManager, Mode

pytestmark = pytest.mark.unit

I, N, G = Level.INSTANCE, Level.NODE, Level.NODEGROUP
EX, SH = Mode.EXCLUSIVE, Mode.SHARED


def make() -> LockManager:
    return LockManager(instances=["i1", "i2", "i3", "i4"], nodes=["n1", "n2", "n3"],
                       nodegroups=["g1"], networks=["net1"])


def wait_until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


def pending(m: LockManager, lockname: str) -> list[tuple[Mode, tuple[Any, ...]]]:
    for info in m.list_locks(active_only=True):
        if info.name == lockname:
            return list(info.pending)
    return []


def n_waiting(m: LockManager, lockname: str) -> int:
    return sum(len(owners) for _, owners in pending(m, lockname))


class Waiter(threading.Thread):
    """Acquires in a thread, records the outcome, holds until ``done`` is set."""

    def __init__(self, m: LockManager, owner: Any, level: Level, names: Any, *,
                 hold: bool = True, log: list[Any] | None = None, **kw: Any) -> None:
        super().__init__(daemon=True)
        self.m, self.owner, self.level, self.names, self.kw = m, owner, level, names, kw
        self.hold, self.log = hold, log
        self.got: frozenset[str] | None = None
        self.exc: BaseException | None = None
        self.acquired = threading.Event()
        self.finished = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.got = self.m.acquire(self.owner, self.level, self.names, **self.kw)
            if self.log is not None:
                self.log.append(self.owner)
            self.acquired.set()
            if self.hold:
                self.done.wait(10)
            self.m.release(self.owner, self.level)
        except BaseException as exc:  # noqa: BLE001 - recorded for the test
            self.exc = exc
        finally:
            self.finished.set()

    def finish(self) -> None:
        self.done.set()
        self.join(5)
        assert not self.is_alive()


def start(m: LockManager, owner: Any, level: Level, names: Any, lockname: str,
          **kw: Any) -> Waiter:
    """Start a waiter and return once it is queued on ``lockname``."""
    before = n_waiting(m, lockname)
    w = Waiter(m, owner, level, names, **kw)
    w.start()
    wait_until(lambda: n_waiting(m, lockname) > before or w.finished.is_set())
    assert w.exc is None and not w.acquired.is_set(), "expected the request to wait"
    return w


def assert_idle(m: LockManager) -> None:
    assert m.list_locks(active_only=True) == []
    assert m._held == {} and m._waiting == {}  # internal tables are cleaned up
    for lv in m._levels.values():
        assert lv.locks == {} and lv.n_excl == 0 and lv.n_shared == 0


# --------------------------------------------------------------------------- basics
def test_levels_order_and_names() -> None:
    assert [lvl.name for lvl in Level] == [
        "CLUSTER", "NODEGROUP", "INSTANCE", "NODE", "NODE_RES", "NETWORK"]
    assert [lvl.lock_name for lvl in Level] == [
        "cluster", "nodegroup", "instance", "node", "node-res", "network"]
    m = make()
    assert m.names(Level.CLUSTER) == {BGL}
    assert m.names(Level.NODE_RES) == {"n1", "n2", "n3"}


def test_shared_locks_coexist_exclusive_excludes() -> None:
    m = make()
    assert m.acquire("a", I, ["i1", "i2"], shared=True) == {"i1", "i2"}
    assert m.acquire("b", I, "i1", shared=True) == {"i1"}
    with pytest.raises(errors.LockError) as ei:
        m.acquire("c", I, "i1", timeout=0)
    assert ei.value.ecode == errors.ECODE_TEMP_NORES
    assert m.acquire("c", I, "i3", timeout=0) == {"i3"}
    assert m.owned("a", I) == {"i1": SH, "i2": SH}
    assert m.owned("c", I) == {"i3": EX}
    m.release("a", I)
    with pytest.raises(errors.LockError):
        m.acquire("d", I, "i1", timeout=0)  # b still shares it
    m.release("b", I, ["i1"])
    assert m.acquire("d", I, "i1", timeout=0) == {"i1"}
    with pytest.raises(errors.LockError):
        m.acquire("e", I, "i1", shared=True, timeout=0)
    for o in "cd":
        m.release_all(o)
    assert_idle(m)


def test_unknown_names_can_be_locked() -> None:
    """A job creating an object locks its name before the object exists."""
    m = make()
    assert m.acquire("a", I, "new-inst") == {"new-inst"}
    with pytest.raises(errors.LockError):
        m.acquire("b", I, "new-inst", timeout=0)
    assert "new-inst" not in m.names(I)
    m.release_all("a")
    assert_idle(m)


def test_is_owned_and_held_levels() -> None:
    m = make()
    m.acquire("a", Level.CLUSTER, BGL, shared=True)
    m.acquire("a", I, ["i1", "i2"])
    m.acquire("a", N, ALL_SET, shared=True)
    assert m.held_levels("a") == [Level.CLUSTER, I, N]
    assert m.is_owned("a", I) and m.is_owned("a", I, "i1") and m.is_owned("a", I, ["i1", "i2"])
    assert m.is_owned("a", I, ["i1"], shared=False) and not m.is_owned("a", I, "i1", shared=True)
    assert not m.is_owned("a", I, ["i1", "i3"]) and not m.is_owned("a", I, ALL_SET)
    assert m.is_owned("a", N, ALL_SET) and m.is_owned("a", N, "anything", shared=True)
    assert not m.is_owned("a", N, "n1", shared=False)
    assert not m.is_owned("b", I) and m.owned("b", I) == {}
    assert m.owned("a", N) == {"n1": SH, "n2": SH, "n3": SH}
    m.release_all("a")
    assert m.held_levels("a") == []
    assert_idle(m)


# ----------------------------------------------------------------- level order
def test_level_order_enforced() -> None:
    m = make()
    m.acquire("a", I, "i1")
    with pytest.raises(errors.ProgrammerError):
        m.acquire("a", G, "g1")          # lower level
    with pytest.raises(errors.ProgrammerError):
        m.acquire("a", I, "i2")          # same level again
    with pytest.raises(errors.ProgrammerError):
        m.acquire("a", Level.CLUSTER, BGL)
    m.acquire("a", N, "n1")
    m.release("a", N)
    m.acquire("a", N, "n2")              # allowed again once released
    m.release("a", I)
    with pytest.raises(errors.ProgrammerError):
        m.acquire("a", I, "i2")          # still holds a higher level
    m.release_all("a")
    m.acquire("a", G, "g1")
    m.release_all("a")
    assert_idle(m)


def test_bad_arguments() -> None:
    m = make()
    with pytest.raises(errors.ProgrammerError):
        m.acquire("a", 17, "x")  # type: ignore[arg-type]
    with pytest.raises(errors.ProgrammerError):
        m.acquire("a", I, "i1", priority=20)
    with pytest.raises(errors.ProgrammerError):
        m.acquire("a", I, "i1", priority=-21)
    with pytest.raises(errors.ProgrammerError):
        m.acquire(None, I, "i1")
    with pytest.raises(errors.ProgrammerError):
        m.acquire("a", Level.CLUSTER, "bgl")
    with pytest.raises(errors.ProgrammerError):
        m.release("a", I, "i1")          # not owned
    m.release("a", I)                    # nothing owned, nothing to do
    m.acquire("a", I, "i1")
    with pytest.raises(errors.ProgrammerError):
        m.release("a", I, ["i1", "i2"])  # i2 not owned: nothing released
    assert m.owned("a", I) == {"i1": EX}
    assert m.acquire("a", N, []) == frozenset()
    assert m.held_levels("a") == [I]
    m.release_all("a")
    assert_idle(m)


def test_owner_waiting_in_another_thread_cannot_acquire() -> None:
    m = make()
    m.acquire("a", I, "i1")
    w = start(m, "b", I, "i1", "instance/i1")
    with pytest.raises(errors.ProgrammerError):
        m.acquire("b", N, "n1")
    m.release_all("a")
    w.finish()
    assert w.exc is None and w.got == {"i1"}
    assert_idle(m)


# ------------------------------------------------------------------ atomicity
def test_multi_name_request_is_atomic() -> None:
    m = make()
    m.acquire("a", I, "i2")
    w = start(m, "b", I, ["i1", "i2", "i3"], "instance/i2")
    # b holds nothing while waiting, but has reserved its place on i1 and i3
    assert m.owned("b", I) == {}
    assert pending(m, "instance/i1") == [(EX, ("b",))]
    with pytest.raises(errors.LockError):
        m.acquire("c", I, "i1", timeout=0)
    assert m.acquire("c", I, "i4", timeout=0) == {"i4"}  # unrelated names are free
    m.release_all("a")
    assert w.acquired.wait(5) and w.got == {"i1", "i2", "i3"}
    assert m.owned("b", I) == {"i1": EX, "i2": EX, "i3": EX}
    w.finish()
    m.release_all("c")
    assert_idle(m)


def test_timeout_acquires_nothing() -> None:
    m = make()
    m.acquire("a", I, "i2", shared=True)
    t0 = time.monotonic()
    with pytest.raises(errors.LockError) as ei:
        m.acquire("b", I, ["i1", "i2", "i3"], timeout=0.2)
    assert 0.19 <= time.monotonic() - t0 < 2
    assert "instance/i2" in str(ei.value)
    assert m.owned("b", I) == {} and m.held_levels("b") == []
    assert [i.name for i in m.list_locks(active_only=True)] == ["instance/i2"]
    assert pending(m, "instance/i2") == []
    # b's reservations are gone: c gets i1 and i3 immediately
    assert m.acquire("c", I, ["i1", "i3"], timeout=0) == {"i1", "i3"}
    m.release_all("a")
    m.release_all("c")
    assert_idle(m)


def test_timeout_unblocks_waiters_behind() -> None:
    """An exclusive waiter that times out lets the shared waiters behind it in."""
    m = make()
    m.acquire("a", I, "i1", shared=True)
    ex = start(m, "b", I, "i1", "instance/i1", timeout=0.3)
    sh = start(m, "c", I, "i1", "instance/i1", shared=True)
    ex.join(5)
    assert isinstance(ex.exc, errors.LockError)
    assert sh.acquired.wait(5) and sh.got == {"i1"}
    sh.finish()
    m.release_all("a")
    assert_idle(m)


# --------------------------------------------------------------- cancel_check
def test_cancel_check_abandons_wait() -> None:
    m = make()
    m.acquire("a", I, "i1", shared=True)
    cancelled = threading.Event()
    calls = []

    class Cancelled(Exception):
        pass

    def check() -> None:
        calls.append(time.monotonic())
        if cancelled.is_set():
            raise Cancelled()

    w = start(m, "b", I, ["i1", "i2"], "instance/i1", cancel_check=check)
    sh = start(m, "c", I, "i1", "instance/i1", shared=True)   # queued behind b
    wait_until(lambda: len(calls) >= 3)       # polled while waiting
    t0 = time.monotonic()
    cancelled.set()
    w.join(5)
    assert isinstance(w.exc, Cancelled)
    assert time.monotonic() - t0 < 2
    assert m.owned("b", I) == {}
    assert sh.acquired.wait(5)                # b no longer blocks c
    sh.finish()
    m.release_all("a")
    assert_idle(m)


def test_cancel_check_interval() -> None:
    m = LockManager(instances=["i1"], cancel_interval=0.01)
    m.acquire("a", I, "i1")
    calls: list[float] = []
    t0 = time.monotonic()
    with pytest.raises(errors.LockError):
        m.acquire("b", I, "i1", timeout=0.3, cancel_check=lambda: calls.append(time.monotonic()))
    elapsed = time.monotonic() - t0
    assert 0.3 <= elapsed < 2
    assert 5 <= len(calls) <= 31             # about every 0.01 s, never busy-looping
    # each wait lasts the full interval, except the last, cut short by the deadline
    assert all(b - a >= 0.009 for a, b in itertools.pairwise(calls[:-1]))
    m.release_all("a")
    with pytest.raises(errors.ProgrammerError):
        LockManager(cancel_interval=0)
    assert_idle(m)


def test_cancel_race_after_grant_gives_locks_back() -> None:
    """If the grant lands just before cancel_check raises, the locks are returned."""
    m = make()
    m.acquire("a", I, "i1")
    released = threading.Event()

    def check() -> None:
        m.release_all("a")           # grants i1 to b ...
        released.set()
        raise KeyError("cancelled")  # ... but b is being cancelled

    with pytest.raises(KeyError):
        m.acquire("b", I, "i1", cancel_check=check)
    assert released.is_set()
    assert m.owned("b", I) == {}
    assert_idle(m)


# -------------------------------------------------------- fairness / priority
def test_fifo_within_priority() -> None:
    m = make()
    m.acquire("holder", I, "i1")
    order: list[Any] = []
    ws = [start(m, f"w{k}", I, "i1", "instance/i1", hold=False, log=order) for k in range(6)]
    assert [o for _, (o,) in pending(m, "instance/i1")] == [f"w{k}" for k in range(6)]
    m.release_all("holder")
    for w in ws:
        w.join(5)
        assert w.exc is None
    assert order == [f"w{k}" for k in range(6)]
    assert_idle(m)


def test_higher_priority_goes_first() -> None:
    m = make()
    m.acquire("holder", I, "i1")
    order: list[Any] = []
    prios = [("low1", 10), ("norm1", 0), ("high1", -10), ("low2", 10), ("high2", -10),
             ("top", -20), ("norm2", 0)]
    ws = [start(m, name, I, "i1", "instance/i1", hold=False, log=order, priority=p)
          for name, p in prios]
    expected = ["top", "high1", "high2", "norm1", "norm2", "low1", "low2"]
    assert [o for _, (o,) in pending(m, "instance/i1")] == expected
    m.release_all("holder")
    for w in ws:
        w.join(5)
    assert order == expected
    assert_idle(m)


def test_higher_priority_overtakes_multi_name_reservation() -> None:
    m = make()
    m.acquire("a", I, "i1")
    start(m, "b", I, ["i1", "i2"], "instance/i1")  # normal priority, reserves i2
    with pytest.raises(errors.LockError):
        m.acquire("c", I, "i2", timeout=0)            # same priority: behind b
    assert m.acquire("d", I, "i2", timeout=0, priority=-5) == {"i2"}  # higher: first
    m.release_all("d")
    m.release_all("a")
    wait_until(lambda: m.is_owned("b", I, ["i1", "i2"]))
    m.release_all("b")
    assert_idle(m)


def test_shared_waiters_granted_together_exclusive_blocks_later_shared() -> None:
    m = make()
    m.acquire("x", I, "i1")
    s1 = start(m, "s1", I, "i1", "instance/i1", shared=True)
    s2 = start(m, "s2", I, "i1", "instance/i1", shared=True)
    e = start(m, "e", I, "i1", "instance/i1")
    s3 = start(m, "s3", I, "i1", "instance/i1", shared=True)
    assert pending(m, "instance/i1") == [(SH, ("s1", "s2")), (EX, ("e",)), (SH, ("s3",))]
    m.release_all("x")
    assert s1.acquired.wait(5) and s2.acquired.wait(5)
    info = next(i for i in m.list_locks() if i.name == "instance/i1")
    assert info.mode is SH and set(info.owners) == {"s1", "s2"}
    assert not e.acquired.is_set() and not s3.acquired.is_set()
    # a newcomer in shared mode must queue behind the exclusive waiter too
    with pytest.raises(errors.LockError):
        m.acquire("s4", I, "i1", shared=True, timeout=0)
    s1.finish()
    assert not e.acquired.wait(0.05)
    s2.finish()
    assert e.acquired.wait(5) and not s3.acquired.is_set()
    e.finish()
    assert s3.acquired.wait(5)
    s3.finish()
    assert_idle(m)


def test_no_writer_starvation_under_stream_of_readers() -> None:
    m = make()
    stop = threading.Event()
    errors_seen: list[BaseException] = []

    def reader(k: int) -> None:
        try:
            while not stop.is_set():
                m.acquire(("r", k), I, "i1", shared=True)
                time.sleep(0.002)
                m.release(("r", k), I)
        except BaseException as exc:  # noqa: BLE001
            errors_seen.append(exc)

    readers = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(8)]
    for t in readers:
        t.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    assert m.acquire("writer", I, "i1", timeout=5) == {"i1"}
    assert time.monotonic() - t0 < 1
    m.release_all("writer")
    stop.set()
    for t in readers:
        t.join(5)
    assert not errors_seen
    assert_idle(m)


# -------------------------------------------------------------------- ALL_SET
def test_all_set_exclusive_excludes_every_name() -> None:
    m = make()
    assert m.acquire("a", I, ALL_SET) == {"i1", "i2", "i3", "i4"}
    for names in ("i1", "brand-new", ["i2", "i3"]):
        with pytest.raises(errors.LockError):
            m.acquire("b", I, names, shared=True, timeout=0)
    with pytest.raises(errors.LockError):
        m.acquire("b", I, ALL_SET, shared=True, timeout=0)
    assert m.acquire("b", N, "n1", timeout=0) == {"n1"}  # other levels unaffected
    m.release_all("a")
    m.release_all("b")
    assert_idle(m)


def test_all_set_versus_named_locks() -> None:
    m = make()
    m.acquire("a", I, "i1", shared=True)
    assert m.acquire("b", I, ALL_SET, shared=True, timeout=0) == m.names(I)
    with pytest.raises(errors.LockError):
        m.acquire("c", I, ALL_SET, timeout=0)
    with pytest.raises(errors.LockError):
        m.acquire("c", I, "i2", timeout=0)   # exclusive name vs ALL_SET shared
    assert m.acquire("c", I, "i2", shared=True, timeout=0) == {"i2"}
    for o in "abc":
        m.release_all(o)
    m.acquire("a", I, "i1")
    with pytest.raises(errors.LockError):
        m.acquire("b", I, ALL_SET, shared=True, timeout=0)
    m.release_all("a")
    assert_idle(m)


def test_all_set_waiter_not_starved_by_named_requests() -> None:
    m = make()
    m.acquire("a", I, "i1", shared=True)
    w = start(m, "all", I, ALL_SET, "instance/[lockset]")
    assert pending(m, "instance/[lockset]") == [(EX, ("all",))]
    with pytest.raises(errors.LockError):
        m.acquire("b", I, "i2", shared=True, timeout=0)  # would overtake the ALL_SET waiter
    m.release_all("a")
    assert w.acquired.wait(5) and w.got == {"i1", "i2", "i3", "i4"}
    w.finish()
    assert_idle(m)


def test_all_set_blocks_add_until_released() -> None:
    m = make()
    m.acquire("a", I, ALL_SET, shared=True)
    with pytest.raises(errors.LockError):
        m.add(I, "i9", timeout=0.05)
    assert "i9" not in m.names(I)
    adder = threading.Thread(target=m.add, args=(I, ["i9"]), daemon=True)
    adder.start()
    wait_until(lambda: n_waiting(m, "instance/[lockset]") == 1)
    assert pending(m, "instance/[lockset]") == [(EX, (None,))]
    assert "i9" not in m.owned("a", I)
    m.release_all("a")
    adder.join(5)
    assert "i9" in m.names(I)
    assert "i9" in m.acquire("b", I, ALL_SET)
    m.release_all("b")
    assert_idle(m)


def test_add_by_owner_and_by_all_set_holder() -> None:
    m = make()
    # the create pattern: lock the new name, create the object, then make it known
    m.acquire("creator", I, "i9")
    m.acquire("creator", N, "n1")
    m.add(I, "i9", owner="creator")                  # no wait, no order problem
    assert "i9" in m.names(I) and m.owned("creator", I) == {"i9": EX}
    with pytest.raises(errors.OpPrereqError) as ei:
        m.add(I, "i9")
    assert ei.value.ecode == errors.ECODE_EXISTS
    m.release_all("creator")
    # an owner holding nothing at the level adds and acquires in one go
    m.add(I, ["i10", "i11"], owner="b", shared=True)
    assert m.owned("b", I) == {"i10": SH, "i11": SH}
    m.release_all("b")
    # an ALL_SET exclusive holder adds and removes freely
    m.acquire("c", I, ALL_SET)
    m.add(I, "i12", owner="c")
    m.remove("c", I, ["i1", "i12"])
    assert m.owned("c", I) == {n: EX for n in ("i2", "i3", "i4", "i9", "i10", "i11")}
    m.release_all("c")
    # adding with locks at a higher level breaks the order rule
    m.acquire("d", N, "n1")
    with pytest.raises(errors.ProgrammerError):
        m.add(I, "i13", owner="d")
    with pytest.raises(errors.ProgrammerError):
        m.add(Level.CLUSTER, "x")
    m.release_all("d")
    assert_idle(m)


def test_remove_requires_exclusive_ownership() -> None:
    m = make()
    m.acquire("a", I, "i1", shared=True)
    with pytest.raises(errors.ProgrammerError):
        m.remove("a", I, "i1")
    with pytest.raises(errors.ProgrammerError):
        m.remove("b", I, "i2")
    m.release_all("a")
    m.acquire("a", I, ["i1", "i2"])
    m.remove("a", I, ["i1", "gone-already"])
    assert "i1" not in m.names(I)
    assert m.owned("a", I) == {"i1": EX, "i2": EX}    # still held until released
    w = start(m, "b", I, "i1", "instance/i1")            # waiters keep waiting
    m.release_all("a")
    assert w.acquired.wait(5)
    w.finish()
    with pytest.raises(errors.ProgrammerError):
        m.remove("a", Level.CLUSTER, BGL)
    assert_idle(m)


def test_partial_release_of_all_set() -> None:
    m = make()
    m.acquire("a", N, ALL_SET)
    m.release("a", N, ["n1", "unknown"])
    assert m.owned("a", N) == {"n2": EX, "n3": EX}
    assert not m.is_owned("a", N, ALL_SET)
    assert m.acquire("b", N, "n1", timeout=0) == {"n1"}
    with pytest.raises(errors.LockError):
        m.acquire("c", N, "n2", shared=True, timeout=0)
    m.add(N, "n4", timeout=0)          # no longer blocked: a holds names, not the set
    m.release_all("a")
    m.release_all("b")
    assert_idle(m)


def test_partial_release_of_shared_all_set() -> None:
    m = make()
    m.acquire("a", N, ALL_SET, shared=True)
    m.release("a", N, "n1")
    assert m.owned("a", N) == {"n2": SH, "n3": SH}
    assert m.acquire("b", N, ["n2", "n3"], shared=True, timeout=0) == {"n2", "n3"}
    assert m.acquire("c", N, "n1", timeout=0) == {"n1"}
    with pytest.raises(errors.LockError):
        m.acquire("d", N, "n2", timeout=0)
    for o in "abc":
        m.release_all(o)
    assert_idle(m)


def test_downgrade() -> None:
    m = make()
    m.acquire("a", I, ["i1", "i2"])
    w_sh = start(m, "b", I, "i1", "instance/i1", shared=True)
    m.downgrade("a", I, "i1")
    assert w_sh.acquired.wait(5)
    assert m.owned("a", I) == {"i1": SH, "i2": EX}
    with pytest.raises(errors.LockError):
        m.acquire("c", I, "i1", timeout=0)
    with pytest.raises(errors.ProgrammerError):
        m.downgrade("a", I, "i3")
    m.downgrade("a", I)                 # everything; i1 already shared
    assert m.owned("a", I) == {"i1": SH, "i2": SH}
    w_sh.finish()
    m.release_all("a")
    with pytest.raises(errors.ProgrammerError):
        m.downgrade("a", I)
    assert_idle(m)


def test_downgrade_all_set() -> None:
    m = make()
    m.acquire("a", N, ALL_SET)
    w = start(m, "b", N, ALL_SET, "node/[lockset]", shared=True)
    m.downgrade("a", N)
    assert w.acquired.wait(5) and m.owned("a", N) == {"n1": SH, "n2": SH, "n3": SH}
    w.finish()
    m.release_all("a")
    m.acquire("a", N, ALL_SET)
    m.downgrade("a", N, ["n2"])
    assert m.owned("a", N) == {"n1": EX, "n2": SH, "n3": EX}
    with pytest.raises(errors.ProgrammerError):
        m.downgrade("a", N, ["not-known"])
    assert m.acquire("b", N, "n2", shared=True, timeout=0) == {"n2"}
    m.release_all("a")
    m.release_all("b")
    assert_idle(m)


# --------------------------------------------------------------- opportunistic
def test_opportunistic() -> None:
    m = make()
    m.acquire("a", N, ["n1", "n2"])
    got = m.acquire("b", N, ALL_SET, opportunistic=True, opportunistic_count=0, timeout=0)
    assert got == {"n3"} and m.owned("b", N) == {"n3": EX}
    m.release_all("b")
    with pytest.raises(errors.LockError):
        m.acquire("b", N, ["n1", "n2", "n3"], opportunistic=True, opportunistic_count=2,
                  timeout=0)
    w = Waiter(m, "b", N, ["n1", "n2", "n3"], opportunistic=True, opportunistic_count=2)
    w.start()
    wait_until(lambda: pending(m, "node/n1") == [(EX, ("b",))])
    assert not w.acquired.is_set()
    m.release("a", N, "n2")
    assert w.acquired.wait(5) and w.got == {"n2", "n3"}
    w.finish()
    m.release_all("a")
    assert_idle(m)


def test_opportunistic_does_not_hold_others_back() -> None:
    m = make()
    m.acquire("a", N, "n1")
    w = Waiter(m, "b", N, ["n1", "n2"], opportunistic=True, opportunistic_count=2)
    w.start()
    wait_until(lambda: n_waiting(m, "node/n1") == 1)
    assert m.acquire("c", N, "n2", timeout=0) == {"n2"}
    m.release_all("a")
    assert not w.acquired.wait(0.05)
    m.release_all("c")
    assert w.acquired.wait(5) and w.got == {"n1", "n2"}
    w.finish()
    assert_idle(m)


# -------------------------------------------------------------- introspection
def test_list_locks() -> None:
    m = make()
    m.acquire("a", Level.CLUSTER, BGL, shared=True)
    m.acquire("b", Level.CLUSTER, BGL, shared=True)
    m.acquire("a", I, "i1")
    m.acquire("b", N, ALL_SET, shared=True)
    w = start(m, "c", I, ["i1", "i2"], "instance/i1", shared=True)
    infos = {i.name: i for i in m.list_locks()}
    assert list(infos)[:3] == ["cluster/[lockset]", "cluster/BGL", "nodegroup/[lockset]"]
    assert infos["cluster/BGL"].mode is SH and infos["cluster/BGL"].owners == ("a", "b")
    assert infos["instance/i1"].mode is EX and infos["instance/i1"].owners == ("a",)
    assert infos["instance/i1"].pending == ((SH, ("c",)),)
    assert infos["instance/i2"].mode is None and infos["instance/i2"].pending == ((SH, ("c",)),)
    assert infos["instance/i3"].mode is None and infos["instance/i3"].owners == ()
    assert infos["node/[lockset]"].mode is SH and infos["node/[lockset]"].owners == ("b",)
    assert infos["node/n1"].mode is None                  # covered by the set lock only
    assert "network/net1" in infos and "node-res/n2" in infos
    active = [i.name for i in m.list_locks(active_only=True)]
    assert active == ["cluster/BGL", "instance/i1", "instance/i2", "node/[lockset]"]
    assert [i.name for i in m.list_locks(levels=[N], active_only=True)] == ["node/[lockset]"]
    m.release_all("a")
    w.finish()
    m.release_all("b")
    assert_idle(m)


def names_arg(names: Iterable[str]) -> list[str]:
    return list(names)


def test_duplicate_names_and_iterables() -> None:
    m = make()
    assert m.acquire("a", I, iter(["i1", "i1", "i2"])) == {"i1", "i2"}
    assert m.owned("a", I) == {"i1": EX, "i2": EX}
    m.release("a", I, names_arg(["i1", "i1"]))
    assert m.owned("a", I) == {"i2": EX}
    m.release_all("a")
    assert_idle(m)
