"""Property-based fuzzing of gnt-rapi from its own OpenAPI document
(schemathesis): every implemented operation, with generated parameters
and bodies, authenticated as a write user, must never answer a server
error (5xx); every answer is JSON ending in a newline, errors in Ganeti's
shape.

Bounded: a few examples per operation, a dedicated throw-away cluster on
loopback.  Operations tagged ``not-implemented`` (their documented answer
is 501 until gnt has what they need) are left out.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings

from gnt.rapi.devserver import RapiDaemon
from gnt.rapi.openapi import NOT_IMPLEMENTED_TAG
from tests.support.cluster import TestCluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

AUTH = ("fuzzer", "fuzzpw")
MAX_EXAMPLES = 10


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RapiDaemon]:
    cluster = TestCluster(tmp_path_factory.mktemp("rapifuzz"))
    daemon = RapiDaemon(cluster)
    try:
        cluster.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
                     "file,diskless")
        daemon.write_users(f"{AUTH[0]} {AUTH[1]} write\n")
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        cluster.destroy()


def check_answer(case: Any, daemon: RapiDaemon) -> None:
    """One generated request: no 5xx; JSON and a newline; errors in Ganeti's shape."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self-signed certificate, name not checked
        response = case.call(base_url=daemon.url, verify=False, auth=AUTH, timeout=60)
    where = f"{case.method} {case.formatted_path} {case.query} {case.body!r:.300}"
    assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text}"
    raw = response.content
    assert raw.endswith(b"\n"), f"{where}: {raw[-200:]!r}"
    body = json.loads(raw)
    if response.status_code >= 400:
        assert set(body) == {"code", "message", "explain"}, where
        assert body["code"] == response.status_code, where


def test_no_server_errors(fuzz_daemon: RapiDaemon) -> None:
    doc = httpx.get(f"{fuzz_daemon.url}/openapi.json",
                    verify=fuzz_daemon.ssl_context()).json()
    schema = schemathesis.openapi.from_dict(doc).exclude(tag=NOT_IMPLEMENTED_TAG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    failures: list[str] = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            check_answer(case, fuzz_daemon)

        try:
            run()
        except AssertionError as err:
            failures.append(f"{operation.label}: {err}")
    assert not failures, "\n".join(failures)
