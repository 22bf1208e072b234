"""HTTP Basic authentication and the access decision for one request.

Rules (Ganeti's):

- no ``Authorization`` header: allowed for public endpoints (the reads
  Ganeti serves anonymously) unless the daemon runs with
  ``--require-authentication``; otherwise 401 with the Basic challenge;
- a header is always checked, even where it is not needed: a wrong user or
  password is 401 with the challenge;
- an authenticated user may use an endpoint when it holds the endpoint's
  permission, when the endpoint needs none, or when it is a public read and
  the user either could read anonymously anyway or has Ganeti's older
  ``read``/``write`` options (they allowed every read); otherwise 403.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass

from gnt.rapi import httperror
from gnt.rapi.constants import AUTH_REALM
from gnt.rapi.routing import Endpoint
from gnt.rapi.users import User, UsersFile, verify_password

log = logging.getLogger(__name__)

CHALLENGE = f'Basic realm="{AUTH_REALM}"'


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def parse_authorization(header: str) -> Credentials | None:
    """Credentials from an ``Authorization`` header value.

    Returns None for unusable credentials (another scheme, bad Base64, no
    colon) and raises 400 for ``Basic`` without credentials.
    """
    parts = header.strip().split(None, 1)
    if not parts or parts[0].lower() != "basic":
        return None
    if len(parts) < 2:
        raise httperror.bad_request("Basic authentication requires credentials")
    try:
        decoded = base64.b64decode(parts[1].strip().encode("ascii"), validate=True)
        text = decoded.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    if ":" not in text:
        return None
    username, password = text.split(":", 1)
    return Credentials(username, password)


def unauthorized() -> httperror.HttpError:
    """401 with the Basic challenge."""
    return httperror.HttpError(401, headers={"WWW-Authenticate": CHALLENGE})


def authorize(endpoint: Endpoint, header: str | None, users: UsersFile,
              require_auth: bool) -> User | None:
    """Decide whether a request may use ``endpoint``.

    Returns the authenticated user (None for an anonymous request) or
    raises :class:`httperror.HttpError` 401/403 (400 for a malformed
    header).
    """
    if header is None:
        if endpoint.public and not require_auth:
            return None
        raise unauthorized()
    creds = parse_authorization(header)
    if creds is None:
        raise unauthorized()
    user = users.get(creds.username)
    if user is None or not verify_password(user, creds.username, creds.password):
        log.info("Authentication failed for user '%s'", creds.username)
        raise unauthorized()
    if endpoint.permission is None or user.has_permission(endpoint.permission):
        return user
    if endpoint.public and (not require_auth or user.grant.legacy):
        return user
    log.warning("User '%s' lacks the permission for this request", user.name)
    raise httperror.forbidden()
