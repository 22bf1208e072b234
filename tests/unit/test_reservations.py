"""Temporary reservations of MAC addresses and network ports."""

from __future__ import annotations

import random
import re
import threading

import pytest

from gnt import constants as C
from gnt import errors
from gnt.config.reservations import Reservations

pytestmark = pytest.mark.unit

MAC_RE = re.compile(r"^aa:00:00(:[0-9a-f]{2}){3}$")
FIRST_PORT = C.DEFAULT_CONSOLE_PORT_POOL[0]


class ConstantRandom(random.Random):
    """Always draws the same byte: every generated MAC is identical."""

    def randint(self, a: int, b: int) -> int:
        return 0x42


class SequenceRandom(random.Random):
    """Draws the given bytes in order, then repeats them."""

    def __init__(self, values: list[int]) -> None:
        super().__init__(0)
        self._values = values
        self._i = 0

    def randint(self, a: int, b: int) -> int:
        v = self._values[self._i % len(self._values)]
        self._i += 1
        return v


def first_mac(seed: int, prefix: str = "aa:00:00") -> str:
    """The first MAC generate_mac draws with ``random.Random(seed)``."""
    return Reservations().generate_mac(prefix, [], "probe", rng=random.Random(seed))


# --- MACs -------------------------------------------------------------------------

def test_generate_mac_format() -> None:
    r = Reservations()
    for i in range(20):
        mac = r.generate_mac("aa:00:00", [], owner=f"job{i}")
        assert MAC_RE.match(mac), mac


def test_generate_mac_prefix_lowercased() -> None:
    mac = Reservations().generate_mac("AA:BB:CC", [], "job", rng=random.Random(1))
    assert mac.startswith("aa:bb:cc:")
    assert mac == mac.lower()


def test_generate_mac_deterministic_with_rng() -> None:
    assert first_mac(7) == first_mac(7)


def test_generate_mac_avoids_used_case_insensitive() -> None:
    taken = first_mac(3)
    got = Reservations().generate_mac("aa:00:00", [taken.upper()], "job",
                                      rng=random.Random(3))
    assert got != taken
    assert MAC_RE.match(got)


def test_generate_mac_unique_across_owners() -> None:
    r = Reservations()
    a = r.generate_mac("aa:00:00", [], "job1", rng=random.Random(5))
    # the same random sequence for another owner: the reserved MAC is skipped
    b = r.generate_mac("aa:00:00", [], "job2", rng=random.Random(5))
    assert a != b
    # and even for the same owner a second generated MAC is a different one
    c = r.generate_mac("aa:00:00", [], "job1", rng=random.Random(5))
    assert c not in (a, b)


def test_generated_mac_blocks_reserve_by_other_owner() -> None:
    r = Reservations()
    mac = r.generate_mac("aa:00:00", [], "job1")
    with pytest.raises(errors.OpPrereqError) as ei:
        r.reserve_mac(mac.upper(), [], "job2")
    assert ei.value.ecode == errors.ECODE_NOTUNIQUE
    r.reserve_mac(mac, [], "job1")  # the holder may reserve it again


def test_generate_mac_exhausted() -> None:
    r = Reservations()
    mac = r.generate_mac("aa:00:00", [], "job1", rng=ConstantRandom())
    assert mac == "aa:00:00:42:42:42"
    with pytest.raises(errors.OpExecError) as ei:
        r.generate_mac("aa:00:00", [], "job2", rng=ConstantRandom())
    assert ei.value.ecode == errors.ECODE_NORES
    with pytest.raises(errors.OpExecError):
        Reservations().generate_mac("aa:00:00", ["AA:00:00:42:42:42"], "job",
                                    rng=ConstantRandom())


def test_reserve_mac_used_in_config_refused() -> None:
    r = Reservations()
    with pytest.raises(errors.OpPrereqError) as ei:
        r.reserve_mac("aa:00:00:00:00:01", ["AA:00:00:00:00:01"], "job1")
    assert ei.value.ecode == errors.ECODE_NOTUNIQUE
    assert "aa:00:00:00:00:01" in str(ei.value)
    # refused reservations do not linger
    r.reserve_mac("aa:00:00:00:00:01", [], "job2")


def test_reserve_mac_other_owner_refused_same_owner_ok() -> None:
    r = Reservations()
    r.reserve_mac("AA:00:00:00:00:02", [], "job1")
    r.reserve_mac("aa:00:00:00:00:02", [], "job1")
    with pytest.raises(errors.OpPrereqError):
        r.reserve_mac("aa:00:00:00:00:02", [], "job2")
    # generate never hands it out either: it draws 00:00:02 first, then 00:00:03
    got = r.generate_mac("aa:00:00", [], "job3", rng=SequenceRandom([0, 0, 2, 0, 0, 3]))
    assert got == "aa:00:00:00:00:03"


def test_release_frees_only_owners_reservations() -> None:
    r = Reservations()
    r.reserve_mac("aa:00:00:00:00:01", [], "job1")
    r.reserve_mac("aa:00:00:00:00:02", [], "job2")
    r.release("job1")
    r.reserve_mac("aa:00:00:00:00:01", [], "job3")
    with pytest.raises(errors.OpPrereqError):
        r.reserve_mac("aa:00:00:00:00:02", [], "job3")
    r.release("job2")
    r.reserve_mac("aa:00:00:00:00:02", [], "job3")


def test_release_unknown_owner_is_noop() -> None:
    r = Reservations()
    r.reserve_mac("aa:00:00:00:00:01", [], "job1")
    r.release("nobody")
    with pytest.raises(errors.OpPrereqError):
        r.reserve_mac("aa:00:00:00:00:01", [], "job2")


def test_concurrent_generation_unique() -> None:
    r = Reservations()
    out: list[str] = []
    lock = threading.Lock()

    def work(owner: int) -> None:
        for _ in range(50):
            mac = r.generate_mac("aa:00:00", [], owner)
            with lock:
                out.append(mac)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(out) == 400
    assert len(set(out)) == 400


# --- ports -----------------------------------------------------------------------

def test_port_sequential_from_11000_without_pool() -> None:
    r = Reservations()
    assert r.allocate_port([], [], "job1") == FIRST_PORT == 11000
    assert r.allocate_port([], [], "job2") == 11001
    assert r.allocate_port([], [], "job1") == 11002


def test_port_above_highest_used() -> None:
    r = Reservations()
    assert r.allocate_port([11000, 11005, 5901], [], "job") == 11006
    # ports below the range (e.g. VNC 5900+) do not move the start
    assert Reservations().allocate_port([5900, 5901], [], "job") == 11000


def test_port_from_pool_first() -> None:
    r = Reservations()
    pool = [12000, 12001, 12002]
    assert r.allocate_port([12000], pool, "job1") == 12001
    assert r.allocate_port([12000], pool, "job2") == 12002
    # pool exhausted: sequential above the highest used or reserved port
    assert r.allocate_port([12000], pool, "job3") == 12003
    assert pool == [12000, 12001, 12002]  # the caller's pool is not modified


def test_port_released_is_reused() -> None:
    r = Reservations()
    pool = [12000]
    assert r.allocate_port([], pool, "job1") == 12000
    assert r.allocate_port([], pool, "job2") == 12001
    r.release("job1")
    assert r.allocate_port([], pool, "job3") == 12000


def test_ports_and_macs_released_together() -> None:
    r = Reservations()
    r.allocate_port([], [], "job1")
    r.reserve_mac("aa:00:00:00:00:01", [], "job1")
    r.release("job1")
    assert r.allocate_port([], [], "job2") == 11000
    r.reserve_mac("aa:00:00:00:00:01", [], "job2")


def test_port_concurrent_unique() -> None:
    r = Reservations()
    out: list[int] = []
    lock = threading.Lock()

    def work(owner: int) -> None:
        for _ in range(25):
            p = r.allocate_port([], [11003, 11010], owner)
            with lock:
                out.append(p)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(set(out)) == len(out) == 200
