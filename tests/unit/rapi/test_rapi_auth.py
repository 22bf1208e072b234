"""HTTP Basic credentials and the access decision (Ganeti's rules)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from gnt.rapi import permissions as perm
from gnt.rapi.auth import CHALLENGE, authorize, parse_authorization
from gnt.rapi.httperror import HttpError
from gnt.rapi.routing import Endpoint
from gnt.rapi.users import UsersFile, ha1_hash

pytestmark = pytest.mark.unit


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _noop(call: object) -> None:
    return None


PUBLIC_READ = Endpoint(handler=_noop, permission=perm.INSTANCES_LIST, summary="", public=True)
WRITE = Endpoint(handler=_noop, permission=perm.INSTANCES_CREATE, summary="")
QUERY = Endpoint(handler=_noop, permission=perm.QUERY_ALL, summary="")
WAIT = Endpoint(handler=_noop, permission=perm.JOBS_WAIT, summary="")
META = Endpoint(handler=_noop, permission=None, summary="", public=True)


@pytest.fixture
def users(tmp_path: Path) -> UsersFile:
    path = tmp_path / "users"
    path.write_text(
        "writer wpw write\n"
        "reader rpw read\n"
        "plain ppw\n"
        f"hashed {{HA1}}{ha1_hash('hashed', 'hpw')} write\n"
        "ro ropw @readonly\n"
        "op oppw @readonly,+instances.create,-instances.list\n")
    return UsersFile(path)


def status(fn: object) -> int:
    try:
        fn()  # type: ignore[operator]
    except HttpError as err:
        return err.status
    return 200


def test_parse_authorization() -> None:
    creds = parse_authorization(basic("u", "p:w"))
    assert creds is not None and (creds.username, creds.password) == ("u", "p:w")
    assert parse_authorization("basic " + base64.b64encode(b"u:").decode()) is not None
    assert parse_authorization("Digest abc") is None
    assert parse_authorization("Basic !!!notbase64") is None
    assert parse_authorization("Basic " + base64.b64encode(b"nocolon").decode()) is None
    with pytest.raises(HttpError) as exc:
        parse_authorization("Basic")
    assert exc.value.status == 400


def test_anonymous(users: UsersFile) -> None:
    assert authorize(PUBLIC_READ, None, users, require_auth=False) is None
    assert authorize(META, None, users, require_auth=False) is None
    for ep in (WRITE, QUERY, WAIT):
        with pytest.raises(HttpError) as exc:
            authorize(ep, None, users, require_auth=False)
        assert exc.value.status == 401
        assert exc.value.headers["WWW-Authenticate"] == CHALLENGE
    with pytest.raises(HttpError) as exc:
        authorize(PUBLIC_READ, None, users, require_auth=True)
    assert exc.value.status == 401


def test_bad_credentials_are_always_refused(users: UsersFile) -> None:
    for header in (basic("writer", "nope"), basic("ghost", "x"), "Digest x", "Basic !!"):
        for ep in (PUBLIC_READ, WRITE, META):
            assert status(lambda e=ep, h=header: authorize(e, h, users, False)) == 401


@pytest.mark.parametrize("user,password,endpoint,require_auth,expected", [
    ("writer", "wpw", WRITE, False, 200),
    ("writer", "wpw", WAIT, False, 200),
    ("hashed", "hpw", WRITE, False, 200),
    ("reader", "rpw", WRITE, False, 403),
    ("reader", "rpw", QUERY, False, 200),
    ("reader", "rpw", WAIT, False, 403),
    ("plain", "ppw", QUERY, False, 403),
    ("plain", "ppw", PUBLIC_READ, False, 200),
    ("plain", "ppw", PUBLIC_READ, True, 200),   # older options: every read allowed
    ("ro", "ropw", PUBLIC_READ, True, 200),
    ("ro", "ropw", WRITE, True, 403),
    ("op", "oppw", WRITE, False, 200),
    ("op", "oppw", PUBLIC_READ, True, 403),     # removed explicitly, auth required
    ("op", "oppw", PUBLIC_READ, False, 200),    # anonymous could read it anyway
    ("op", "oppw", META, True, 200),
])
def test_authenticated_access(users: UsersFile, user: str, password: str, endpoint: Endpoint,
                              require_auth: bool, expected: int) -> None:
    assert status(lambda: authorize(endpoint, basic(user, password), users,
                                    require_auth)) == expected
