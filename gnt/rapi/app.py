"""The RAPI ASGI application (Starlette).

For each request, in this order:

1. find the resource (404) and the method's endpoint (405 with ``Allow``);
2. authenticate and authorize (401 with the Basic challenge, 403);
3. read the body: at most ``max_body`` bytes (413) within
   ``request_timeout`` seconds (408); a non-empty body must be
   ``application/json`` (415) and valid JSON (400);
4. run the endpoint's handler in a worker thread (LUXI calls block);
5. answer its result as JSON followed by a newline.

Errors become Ganeti's JSON error body (:mod:`gnt.rapi.httperror`); an
unexpected exception is logged and answered 500.  ``GET /openapi.json``
serves the OpenAPI document (:mod:`gnt.rapi.openapi`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from gnt import errors
from gnt.rapi import auth, httperror, openapi, routing
from gnt.rapi.constants import DEFAULT_MAX_CLIENTS, MAX_BODY_SIZE, REQUEST_TIMEOUT
from gnt.rapi.luxi import LuxiAccess
from gnt.rapi.routing import Call, Endpoint
from gnt.rapi.users import UsersFile

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
_METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"]


@dataclass(frozen=True)
class RapiConfig:
    """Behaviour switches of the application."""

    require_auth: bool = False
    max_clients: int = DEFAULT_MAX_CLIENTS
    max_body: int = MAX_BODY_SIZE
    request_timeout: float = REQUEST_TIMEOUT


class _Disconnected(Exception):
    """The client went away while sending its request."""


def json_response(value: Any, status: int = 200) -> Response:
    return Response(httperror.encode_json(value), status_code=status, media_type=JSON_TYPE)


def error_response(err: httperror.HttpError, close: bool = False) -> Response:
    headers = dict(err.headers)
    if close:
        headers["Connection"] = "close"
    return Response(err.body(), status_code=err.status, media_type=JSON_TYPE, headers=headers)


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The request body; 413 past ``limit`` bytes, 408 after ``timeout`` s."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise httperror.bad_request("Invalid Content-Length header") from None
        if declared > limit:
            raise httperror.HttpError(413, f"Request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0

    async def collect() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise httperror.HttpError(413, f"Request body larger than {limit} bytes")
            chunks.append(chunk)

    try:
        await asyncio.wait_for(collect(), timeout)
    except TimeoutError:
        raise httperror.HttpError(408, "Timeout while reading the request body") from None
    except ClientDisconnect:
        raise _Disconnected() from None
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_body(raw: bytes, content_type: str | None) -> Any:
    """The decoded JSON body (None when empty); 415/400 when unusable."""
    if not raw:
        return None
    media = (content_type or "application/octet-stream").split(";", 1)[0].strip().lower()
    if media != JSON_TYPE:
        raise httperror.HttpError(415, "Request bodies must be sent as application/json")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise httperror.bad_request("Unable to parse JSON data") from None


def parse_query(query_string: bytes) -> dict[str, list[str]]:
    try:
        return parse_qs(query_string.decode("utf-8"), keep_blank_values=True,
                        errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise httperror.bad_request("Invalid query string") from None


def run_handler(endpoint: Endpoint, call: Call) -> Any:
    """Run a handler in a worker thread, turning gnt errors into HTTP ones."""
    try:
        return endpoint.handler(call)
    except errors.GntError as err:
        raise httperror.from_gnt_error(err) from err


def create_app(users: UsersFile, luxi: LuxiAccess, executor: Executor,
               config: RapiConfig | None = None) -> Starlette:
    """The RAPI application: handlers run in ``executor`` with LUXI access
    through ``luxi``; ``users`` authenticates."""
    cfg = config or RapiConfig()
    docs = openapi.DocumentCache(luxi)

    async def dispatch(request: Request) -> Response:
        start = time.monotonic()
        status = 500
        try:
            response = await _serve(request)
        except _Disconnected:
            response = Response(status_code=400)
            log.info("%s %s: client disconnected", request.method, request.url.path)
        except httperror.HttpError as err:
            response = error_response(err, close=err.status in (408, 413))
        except Exception:
            log.exception("Unexpected error serving %s %s", request.method, request.url.path)
            response = error_response(httperror.HttpError(500, "Internal server error"))
        status = response.status_code
        client = request.client.host if request.client else "-"
        log.info("%s %s %s -> %d (%.1f ms)", client, request.method, request.url.path, status,
                 (time.monotonic() - start) * 1000)
        return response

    async def _serve(request: Request) -> Response:
        path = request.url.path
        found = routing.match(path)
        if found is None:
            if path == openapi.DOC_PATH:
                return await _openapi(request)
            raise httperror.HttpError(404)
        res, params = found
        endpoint = res.methods.get(request.method)
        if endpoint is None:
            raise httperror.HttpError(
                405, f"Method {request.method} is unsupported for path {path}",
                headers={"Allow": ", ".join(sorted(res.methods))})
        user = auth.authorize(endpoint, request.headers.get("authorization"), users,
                              cfg.require_auth)
        query = parse_query(request.scope.get("query_string", b""))
        raw = await read_body(request, cfg.max_body, cfg.request_timeout)
        body = decode_body(raw, request.headers.get("content-type"))
        call = Call(method=request.method, path=path, resource=res, params=params,
                    query=query, body=body, luxi=luxi, user=user.name if user else None)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(executor, run_handler, endpoint, call)
        try:
            return json_response(result)
        except (TypeError, ValueError) as err:
            log.error("Result of %s %s is not JSON: %s", request.method, path, err)
            raise httperror.HttpError(500, "Internal error: result is not JSON") from err

    async def _openapi(request: Request) -> Response:
        if request.method != "GET":
            raise httperror.HttpError(405, headers={"Allow": "GET"})
        auth.authorize(openapi.DOC_ENDPOINT, request.headers.get("authorization"), users,
                       cfg.require_auth)
        loop = asyncio.get_running_loop()
        doc = await loop.run_in_executor(executor, docs.get)
        return json_response(doc)

    return Starlette(routes=[Route("/{path:path}", dispatch, methods=_METHODS)])
