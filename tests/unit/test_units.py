"""Sizes with units: ``parse_unit`` (Ganeti's ParseUnit) and ``format_unit``."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnt import errors
from gnt.units import format_unit, parse_unit

pytestmark = pytest.mark.unit


def round_up_4(mib: int) -> int:
    return (mib + 3) // 4 * 4


# --- parse_unit: examples -----------------------------------------------------

@pytest.mark.parametrize(("text", "mib"), [
    ("512", 512),
    ("512M", 512),
    ("512m", 512),
    ("512MB", 512),
    ("512MiB", 512),
    ("512mib", 512),
    ("4G", 4096),
    ("4g", 4096),
    ("4GB", 4096),
    ("4GiB", 4096),
    ("1T", 1024 * 1024),
    ("1TB", 1024 * 1024),
    ("1tib", 1024 * 1024),
    ("1.5T", 1536 * 1024),
    ("0.5G", 512),
    ("1.5", 4),       # 1.5 MiB -> 2 MiB -> 4 MiB
    ("0.1", 4),
    ("1", 4),
    ("3", 4),
    ("4", 4),
    ("5", 8),
    ("513", 516),
    ("0", 0),
    ("0G", 0),
    (".5G", 512),
    ("1.1G", 1128),   # 1126.4 -> 1127 -> 1128
    ("  2 G  ", 2048),
])
def test_parse_unit_strings(text: str, mib: int) -> None:
    assert parse_unit(text) == mib


@pytest.mark.parametrize("value", [0, 1, 3, 513, 1025, 10**9])
def test_parse_unit_int_is_mib_unchanged(value: int) -> None:
    assert parse_unit(value) == value


def test_parse_unit_float_is_rounded_like_a_string() -> None:
    assert parse_unit(1.5) == 4
    assert parse_unit(1024.0) == 1024
    assert parse_unit(1023.2) == 1024


@pytest.mark.parametrize("value", [
    -1, "-1", "-1G", " -4M", -0.5, "-0.5",
])
def test_parse_unit_negative_rejected(value: object) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        parse_unit(value)
    assert ei.value.ecode == errors.ECODE_INVAL
    assert "Negative" in str(ei.value)


@pytest.mark.parametrize("value", [
    "", "   ", "G", "abc", "1..2", "1.2.3", "1 2", "1G2", "0x10", "1e3", "12,5",
    "1e20", "nan", "inf", float("nan"), float("inf"), 1e20,
])
def test_parse_unit_malformed_rejected(value: object) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        parse_unit(value)
    assert ei.value.ecode == errors.ECODE_INVAL
    assert "Invalid size" in str(ei.value)


@pytest.mark.parametrize("value", ["1K", "1kb", "4P", "1Gb2", "10 bytes", "1X"])
def test_parse_unit_unknown_unit_rejected(value: str) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        parse_unit(value)
    msg = str(ei.value)
    # the message tells which unit is wrong and what is allowed
    assert "Unknown unit" in msg or "Invalid size" in msg
    if "Unknown unit" in msg:
        assert "M, G, T" in msg


@pytest.mark.parametrize("value", [None, True, False, [], {}, b"12", object()])
def test_parse_unit_wrong_type_rejected(value: object) -> None:
    with pytest.raises(errors.ParameterError):
        parse_unit(value)


# --- parse_unit: properties ---------------------------------------------------

@given(st.integers(min_value=0, max_value=10**7))
def test_prop_gib(n: int) -> None:
    assert parse_unit(f"{n}G") == n * 1024
    assert parse_unit(f"{n}g") == n * 1024
    assert parse_unit(f"{n} GiB") == n * 1024


@given(st.integers(min_value=0, max_value=10**5))
def test_prop_tib(n: int) -> None:
    assert parse_unit(f"{n}T") == n * 1024 * 1024


@given(st.integers(min_value=0, max_value=10**12))
def test_prop_int_unchanged_string_rounded(n: int) -> None:
    assert parse_unit(n) == n
    assert parse_unit(str(n)) == round_up_4(n)
    assert parse_unit(f"{n}M") == round_up_4(n)


@given(st.floats(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False),
       st.sampled_from(["", "M", "G"]))
def test_prop_fraction_rounded_up_to_multiple_of_4(x: float, unit: str) -> None:
    text = f"{x:.6f}{unit}"
    exact = float(f"{x:.6f}") * {"": 1, "M": 1, "G": 1024}[unit]
    got = parse_unit(text)
    assert got % 4 == 0
    # rounded up to a whole MiB, then up to the next multiple of 4
    assert got == round_up_4(math.ceil(exact))


@given(st.integers(min_value=0, max_value=10**9))
def test_prop_parse_is_idempotent_on_its_output(n: int) -> None:
    once = parse_unit(str(n))
    assert parse_unit(str(once)) == once
    assert parse_unit(once) == once


@given(st.integers(min_value=1, max_value=10**9))
def test_prop_negative_always_rejected(n: int) -> None:
    with pytest.raises(errors.ParameterError):
        parse_unit(-n)
    with pytest.raises(errors.ParameterError):
        parse_unit(f"-{n}G")


# --- format_unit --------------------------------------------------------------

@pytest.mark.parametrize(("mib", "units", "text"), [
    (0, "h", "0M"),
    (512, "h", "512M"),
    (1023, "h", "1023M"),
    (1024, "h", "1.0G"),
    (1536, "h", "1.5G"),
    (1024 * 1024 - 1, "h", "1024.0G"),
    (1024 * 1024, "h", "1.0T"),
    (3 * 1024 * 1024 // 2, "h", "1.5T"),
    (512, "H", "512M"),
    (512, "", "512M"),
    (512, "m", "512"),
    (1536, "m", "1536"),
    (1536, "M", "1536"),
    (512, "g", "0.5"),
    (1536, "g", "1.5"),
    (1024 * 1024, "g", "1024.0"),
    (1024 * 1024, "t", "1.0"),
    (512 * 1024, "t", "0.5"),
    (100.4, "m", "100"),
    (100.6, "h", "101M"),
])
def test_format_unit(mib: float, units: str, text: str) -> None:
    assert format_unit(mib, units) == text


@given(st.integers(min_value=0, max_value=1023))
def test_prop_format_human_below_1g_is_exact_mib(n: int) -> None:
    assert format_unit(n, "h") == f"{n}M"
    assert parse_unit(format_unit(n, "h")) == round_up_4(n)


@given(st.integers(min_value=1, max_value=1023))
def test_prop_format_parse_round_trip_gib(n: int) -> None:
    # whole GiB values survive format -> parse exactly
    assert parse_unit(format_unit(n * 1024, "h")) == n * 1024
    assert format_unit(n * 1024, "g") == f"{n}.0"
