"""The RAPI users file: parsing, password schemes, permissions, reloading."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from gnt.rapi import permissions as perm
from gnt.rapi.users import UsersFile, ha1_hash, parse_users, verify_password

pytestmark = pytest.mark.unit

SAMPLE = """\
# comment line
   # indented comment

jack abc123
fred {cleartext}foo555
autocreator xyz789 write
jessica {HA1}7046452df2cbb530877058712cf17bd4 write
reader pw read
broken
ops pw @readonly,+instances.startup , +instances.shutdown
"""


def test_parse_fields_and_options() -> None:
    users = parse_users(SAMPLE)
    assert sorted(users) == ["autocreator", "fred", "jack", "jessica", "ops", "reader"]
    assert users["jack"].options == ()
    assert users["autocreator"].options == ("write",)
    assert users["ops"].options == ("@readonly", "+instances.startup", "+instances.shutdown")
    assert users["fred"].password == "{cleartext}foo555"


def test_later_line_wins() -> None:
    users = parse_users("a one write\na two read\n")
    assert users["a"].password == "two"
    assert users["a"].options == ("read",)


def test_ha1_matches_ganeti_documentation_example() -> None:
    # Ganeti's documentation: jack:Ganeti Remote API:abc123
    expected = hashlib.md5(b"jack:Ganeti Remote API:abc123").hexdigest()
    assert ha1_hash("jack", "abc123") == expected


@pytest.mark.parametrize("stored,given,ok", [
    ("abc123", "abc123", True),
    ("abc123", "abc124", False),
    ("{cleartext}foo555", "foo555", True),
    ("{CLEARTEXT}foo555", "foo555", True),
    ("{CleArText}foo555", "{cleartext}foo555", False),
    ("{unknown}x", "x", False),
    ("{}x", "x", False),
    ("{nobrace", "{nobrace", False),
])
def test_password_schemes(stored: str, given: str, ok: bool) -> None:
    user = parse_users(f"jack {stored}\n")["jack"]
    assert verify_password(user, "jack", given) is ok


def test_ha1_password_case_insensitive_prefix_and_digest() -> None:
    digest = ha1_hash("jessica", "s3cret")
    for stored in (f"{{HA1}}{digest}", f"{{ha1}}{digest.upper()}"):
        user = parse_users(f"jessica {stored} write\n")["jessica"]
        assert verify_password(user, "jessica", "s3cret")
        assert not verify_password(user, "jessica", "wrong")
    # the hash binds the user name: another name with the same password fails
    user = parse_users(f"other {{HA1}}{digest}\n")["other"]
    assert not verify_password(user, "other", "s3cret")


def test_legacy_options() -> None:
    users = parse_users("w x write\nr x read\nn x\na x all\n")
    assert users["w"].permissions == perm.ALL and users["w"].grant.legacy
    assert users["a"].permissions == perm.ALL
    assert users["r"].has_permission(perm.QUERY_ALL)
    assert users["r"].has_permission(perm.INSTANCES_QUERY_CONSOLE)
    assert not users["r"].has_permission(perm.JOBS_WAIT)
    assert not users["r"].has_permission(perm.INSTANCES_CREATE)
    assert users["n"].permissions == frozenset() and users["n"].grant.legacy


def test_roles_and_adjustments_in_any_order() -> None:
    a = perm.resolve(["@admin", "-instances.remove"])
    b = perm.resolve(["-instances.remove", "@admin"])
    assert a == b
    assert perm.INSTANCES_REMOVE not in a.permissions
    assert perm.INSTANCES_CREATE in a.permissions
    assert not a.legacy
    ro = perm.resolve(["@readonly", "+jobs.cancel", "-cluster.info"])
    assert perm.JOBS_CANCEL in ro.permissions
    assert perm.CLUSTER_INFO not in ro.permissions
    assert perm.INSTANCES_LIST in ro.permissions
    assert perm.INSTANCES_STARTUP not in ro.permissions
    explicit = perm.resolve(["instances.startup", "jobs.query"])
    assert explicit.permissions == {perm.INSTANCES_STARTUP, perm.JOBS_QUERY}


def test_unknown_role_or_permission_grants_nothing(caplog: pytest.LogCaptureFixture) -> None:
    g = perm.resolve(["@superuser", "instances.explode", "+nope"], "mallory")
    assert g.permissions == frozenset()
    assert "unknown role '@superuser'" in caplog.text
    assert "unknown permission 'instances.explode'" in caplog.text


def test_permission_catalogue() -> None:
    assert len(perm.ALL) == 66
    assert perm.READONLY < perm.ALL
    assert all("." in p for p in perm.ALL)


def _bump(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_users_file_reload_on_change_and_on_demand(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rapi" / "users"
    uf = UsersFile(path)
    assert uf.get("anyone") is None  # missing file: no users
    path.parent.mkdir()
    path.write_text("alice pw1 write\n")
    assert uf.reload() is True
    assert uf.get("alice") is not None
    # a changed file is picked up without a reload once the recheck interval passed
    monkeypatch.setattr("gnt.rapi.users.RECHECK_INTERVAL", 0.0)
    _bump(path, "bob pw2 read\n")
    time.sleep(0.01)
    assert uf.get("alice") is None
    bob = uf.get("bob")
    assert bob is not None and verify_password(bob, "bob", "pw2")
    path.unlink()
    assert uf.reload() is False
    assert uf.get("bob") is None
