"""The RAPI users file (Ganeti's ``/var/lib/ganeti/rapi/users``).

One user per line: ``<name> <password> [<options>]``, fields separated by
whitespace, options comma separated (see :mod:`gnt.rapi.permissions`).
Empty lines and lines starting with ``#`` are ignored, as are lines with
fewer than two fields (logged).

Passwords: clear text (must not start with ``{``), ``{CLEARTEXT}<pw>``, or
``{HA1}<md5 hex of "<name>:Ganeti Remote API:<pw>">``; scheme prefixes
are case-insensitive.

:class:`UsersFile` keeps the parsed file: it is read at start-up, again on
:meth:`UsersFile.reload` (SIGHUP) and whenever the file changes (checked
at most once a second), like Ganeti which watches the file.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gnt import paths
from gnt.rapi import permissions
from gnt.rapi.constants import AUTH_REALM

log = logging.getLogger(__name__)

SCHEME_CLEARTEXT = "{CLEARTEXT}"
SCHEME_HA1 = "{HA1}"

#: Seconds between two checks whether the users file changed.
RECHECK_INTERVAL = 1.0


def users_file_path() -> Path:
    """``<data_dir>/rapi/users`` under this process's root."""
    return paths.get().data_dir / "rapi" / "users"


@dataclass(frozen=True)
class User:
    """One users file entry; ``password`` as written, scheme included."""

    name: str
    password: str
    options: tuple[str, ...]
    grant: permissions.Grant

    @property
    def permissions(self) -> frozenset[str]:
        return self.grant.permissions

    def has_permission(self, permission: str) -> bool:
        return permission in self.grant.permissions


def parse_users(text: str) -> dict[str, User]:
    """Parse a users file's content; returns name -> :class:`User`.

    A later line for the same name replaces an earlier one.
    """
    users: dict[str, User] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2:
            log.warning("Users file line %d ignored: fewer than two fields", lineno)
            continue
        name, password = parts[0], parts[1]
        options = tuple(o.strip() for o in parts[2].split(",") if o.strip()) \
            if len(parts) == 3 else ()
        users[name] = User(name, password, options, permissions.resolve(options, name))
    return users


def ha1_hash(username: str, password: str, realm: str = AUTH_REALM) -> str:
    """The ``{HA1}`` hash (without prefix) of a user's password."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()


def verify_password(user: User, username: str, password: str,
                    realm: str = AUTH_REALM) -> bool:
    """Whether ``password`` (as sent by the client) matches ``user``'s entry."""
    expected = user.password
    if not expected.startswith("{"):
        expected = SCHEME_CLEARTEXT + expected
    end = expected.find("}", 1)
    if end <= 1:
        log.warning("Invalid password scheme for user '%s'", username)
        return False
    scheme = expected[:end + 1].upper()
    stored = expected[end + 1:]
    if scheme == SCHEME_CLEARTEXT:
        return hmac.compare_digest(password.encode(), stored.encode())
    if scheme == SCHEME_HA1:
        return hmac.compare_digest(ha1_hash(username, password, realm).encode(),
                                   stored.lower().encode())
    log.warning("Unknown password scheme '%s' for user '%s'", scheme, username)
    return False


class UsersFile:
    """The users of ``path`` (default :func:`users_file_path`), kept current.

    A missing or unreadable file means no users (every authentication
    fails); the reason is logged.  Thread-safe.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else users_file_path()
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._checked = 0.0
        self.reload()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def reload(self) -> bool:
        """Read the file again; True if it could be read."""
        stamp = self._file_stamp()
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            log.warning("No RAPI users file at %s", self.path)
            users: dict[str, User] = {}
            ok = False
        except OSError as err:
            log.warning("Cannot read RAPI users file %s: %s", self.path, err)
            users, ok = {}, False
        else:
            users, ok = parse_users(text), True
            log.info("Read %d RAPI user(s) from %s", len(users), self.path)
        with self._lock:
            self._users = users
            self._stamp = stamp
            self._checked = time.monotonic()
        return ok

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._checked < RECHECK_INTERVAL:
                return
            self._checked = now
            old = self._stamp
        if self._file_stamp() != old:
            self.reload()

    def get(self, name: str) -> User | None:
        """The user called ``name``, or None."""
        self._maybe_reload()
        with self._lock:
            return self._users.get(name)
