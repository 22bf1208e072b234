"""The RAPI application in-process, against a real LUXI server whose methods
are scripted here (the integration tests use the real master).

Covers: reply encoding (bare job id + newline, dotted bulk keys, Ganeti's
error body), request checks (404/405/413/415/400) with nothing submitted,
the gnt error -> HTTP status mapping, 501 for what the master lacks, 502
when no master answers.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gnt import constants as C
from gnt import errors
from gnt.luxi.server import LuxiServer, make_dispatcher
from gnt.rapi.app import RapiConfig, create_app
from gnt.rapi.luxi import LuxiAccess
from gnt.rapi.users import UsersFile

with warnings.catch_warnings():  # starlette prefers httpx2 for its test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.unit

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode(),
         "Content-Type": "application/json"}


@dataclass
class FakeMaster:
    """LUXI methods answering like a master with one instance ``inst1``."""

    submitted: list[list[dict[str, Any]]] = field(default_factory=list)

    def methods(self) -> dict[str, Any]:
        def query(what: str, fields: list[str], qfilter: Any = None) -> dict[str, Any]:
            if what != "instance":
                raise errors.OpPrereqError(f"Unknown query resource '{what}'",
                                           errors.ECODE_INVAL)
            row = {"name": "inst1.example.com", "beparams": {"maxmem": 128},
                   "nic.ips": [None], "oper_state": True, "status": "running",
                   "oper_ram": None}
            if qfilter and "nosuch" in json.dumps(qfilter):
                return {"fields": [], "data": []}
            return {"fields": [{"name": f} for f in fields],
                    "data": [[[C.RS_NORMAL, row[f]] if f in row and row[f] is not None
                              else [C.RS_UNAVAIL, None] for f in fields]]}

        def query_fields(what: str, fields: Any = None) -> dict[str, Any]:
            if what != "instance":
                raise errors.OpPrereqError("Unknown query resource", errors.ECODE_INVAL)
            return {"fields": [{"name": "name"}]}

        def submit(ops: list[dict[str, Any]]) -> int:
            self.submitted.append(ops)
            return 41 + len(self.submitted)

        def query_tags(kind: str, name: str) -> list[str]:
            if kind == "instance" and not name.startswith("inst1"):
                raise errors.OpPrereqError(f"Instance '{name}' not known", errors.ECODE_NOENT)
            return ["t1"]

        return {
            "Query": query, "QueryFields": query_fields, "SubmitJob": submit,
            "QueryTags": query_tags,
            "QueryClusterInfo": lambda: {"name": "c", "volume_group_name": "xenvg"},
            "QueryJobs": lambda ids, fields: [None for _ in ids or []],
        }


@pytest.fixture
def master(tmp_path: Path) -> Iterator[tuple[FakeMaster, Path]]:
    fake = FakeMaster()
    sock = tmp_path / "luxi.sock"
    server = LuxiServer(sock, make_dispatcher(fake.methods()))
    server.start()
    try:
        yield fake, sock
    finally:
        server.shutdown()


def make_client(tmp_path: Path, sock: Path, **config: Any) -> TestClient:
    users = tmp_path / "users"
    users.write_text("admin pw write\nreader rpw read\n")
    executor = ThreadPoolExecutor(4)
    app = create_app(UsersFile(users), LuxiAccess(sock), executor, RapiConfig(**config))
    return TestClient(app, base_url="https://rapi.test")


@pytest.fixture
def client(master: tuple[FakeMaster, Path], tmp_path: Path) -> TestClient:
    return make_client(tmp_path, master[1])


def test_job_submission_answers_the_bare_id(client: TestClient,
                                            master: tuple[FakeMaster, Path]) -> None:
    r = client.put("/2/instances/inst1/shutdown?reason=maintenance",
                   headers=ADMIN, content=json.dumps({"timeout": 0}))
    assert r.status_code == 200
    assert r.content == b"42\n"
    assert r.headers["content-type"] == "application/json"
    (op,) = master[0].submitted[0]
    assert op["OP_ID"] == "OP_INSTANCE_SHUTDOWN"
    assert op["instance_name"] == "inst1" and op["timeout"] == 0
    sources = [entry[0] for entry in op["reason"]]
    assert sources == ["gnt:user", "gnt:library:rlib2:instances_name_shutdown"]
    assert op["reason"][0][1] == "maintenance"


def test_bulk_listing_has_dotted_keys_and_memory_alias(client: TestClient) -> None:
    r = client.get("/2/instances?bulk=1")
    assert r.status_code == 200 and r.content.endswith(b"]\n")
    (inst,) = r.json()
    assert inst["nic.ips"] == [None]
    assert inst["beparams"] == {"maxmem": 128, "memory": 128}
    assert inst["oper_ram"] is None  # unavailable values are null, as in Ganeti
    assert client.get("/2/instances").json() == [
        {"id": "inst1.example.com", "uri": "/2/instances/inst1.example.com"}]


def test_info_aliases(client: TestClient) -> None:
    assert client.get("/2/info").json() == {"name": "c", "volume_group_name": "xenvg",
                                            "vg_name": "xenvg"}


@pytest.mark.parametrize("path,status", [
    ("/2/instances/nosuch", 404),        # empty query answer
    ("/2/instances/nosuch/tags", 404),   # unknown_entity from the master
    ("/2/jobs/12345", 404),
    ("/2/nowhere", 404),
    ("/2/jobs/abc", 404),                # job ids are numbers
    ("/2/groups", 501),                  # the master has no group query
    ("/2/filters", 501),                 # ... nor filter rules
])
def test_error_statuses(client: TestClient, path: str, status: int) -> None:
    r = client.get(path)
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"code", "message", "explain"} and body["code"] == status
    assert r.content.endswith(b"\n")


def test_error_message_is_html_escaped(client: TestClient) -> None:
    msg = client.get("/2/instances/nosuch/tags").json()["message"]
    assert msg == "Instance &#x27;nosuch&#x27; not known"


def test_method_not_allowed_lists_methods(client: TestClient) -> None:
    r = client.request("PATCH", "/2/instances", headers=ADMIN)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("kwargs,status", [
    ({"content": b"{bad"}, 400),
    ({"content": b"NaN"}, 400),
    ({"content": b"\xff\xfe"}, 400),
    ({"content": b"[1, 2]"}, 400),
    ({"content": b'{"__version__": 1, "bogus": 1}'}, 400),
    ({"content": b'{"instance_name": "x"}'}, 400),         # request version 0
    ({"content": b'{"__version__": 2}'}, 400),
    ({"content": b'{"__version__": 1}', "headers": {"Content-Type": "text/plain"}}, 415),
    ({"content": b" " * 5000}, 413),
])
def test_bad_creation_requests_submit_nothing(client: TestClient, kwargs: dict[str, Any],
                                              status: int, master: tuple[FakeMaster, Path],
                                              tmp_path: Path) -> None:
    small = make_client(tmp_path, master[1], max_body=4096)
    headers = {**ADMIN, **kwargs.pop("headers", {})}
    r = small.post("/2/instances", headers=headers, **kwargs)
    assert r.status_code == status, r.text
    assert master[0].submitted == []


def test_bad_query_argument_is_400(client: TestClient, master: tuple[FakeMaster, Path]) -> None:
    r = client.put("/2/instances/inst1/startup?force=yes", headers=ADMIN)
    assert r.status_code == 400
    assert r.json()["message"] == "Invalid value for the &#x27;force&#x27; parameter"
    assert master[0].submitted == []


def test_missing_opcode_is_501_with_json(client: TestClient,
                                         master: tuple[FakeMaster, Path]) -> None:
    r = client.post("/2/instances-multi-alloc", headers=ADMIN, content=b'{"instances": []}')
    assert r.status_code == 501
    assert "OP_INSTANCE_MULTI_ALLOC is not implemented" in r.json()["message"]
    assert master[0].submitted == []


def test_auth_before_anything_else(client: TestClient, master: tuple[FakeMaster, Path]) -> None:
    r = client.post("/2/instances", content=b"{bad", headers={"Content-Type": "text/plain"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="Ganeti Remote API"'
    reader = {"Authorization": "Basic " + base64.b64encode(b"reader:rpw").decode()}
    assert client.post("/2/instances", headers=reader).status_code == 403
    assert master[0].submitted == []


def test_no_master_is_502(tmp_path: Path) -> None:
    client = make_client(tmp_path, tmp_path / "no-such-socket")
    r = client.get("/2/info")
    assert r.status_code == 502
    assert "Can&#x27;t connect to master daemon" in r.json()["message"]
    assert client.get("/version").content == b"2\n"  # served without the master


def test_openapi_marks_what_is_missing(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    groups = doc["paths"]["/2/groups"]["get"]
    assert "not-implemented" in groups["tags"] and set(groups["responses"]) >= {"501"}
    create = doc["paths"]["/2/instances"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert "__version__" in body["required"] and "os" in body["properties"]
    assert "not-implemented" not in create["tags"]
    multi = doc["paths"]["/2/instances-multi-alloc"]["post"]
    assert "not-implemented" in multi["tags"]
