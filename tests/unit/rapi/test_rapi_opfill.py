"""Request bodies to opcodes: renamed, forbidden, static and unknown keys,
types, missing opcodes; and the body schema documented for the same."""

from __future__ import annotations

from typing import Any

import pytest

from gnt.opcodes.instance import OpInstanceCreate, OpInstanceShutdown
from gnt.rapi import bodies, opfill
from gnt.rapi.httperror import HttpError
from gnt.rapi.resources.instances import CREATE_RENAME, convert_usb_devices

pytestmark = pytest.mark.unit


def err_of(fn: Any) -> HttpError:
    with pytest.raises(HttpError) as exc:
        fn()
    return exc.value


def test_fill_with_static_and_renames() -> None:
    op = opfill.fill_opcode("OP_INSTANCE_CREATE",
                            {"name": "web1", "os": "image+raw", "disk_template": "diskless",
                             "disks": [{"size": "8G"}], "nics": [{}]},
                            {"dry_run": True}, rename=CREATE_RENAME)
    assert isinstance(op, OpInstanceCreate)
    assert (op.instance_name, op.os_type, op.dry_run) == ("web1", "image+raw", True)
    assert op.disks == [{"size": "8G"}]  # sizes with units are parsed by the LU


def test_renamed_key_given_twice() -> None:
    err = err_of(lambda: opfill.fill_opcode(
        "OP_INSTANCE_CREATE", {"name": "a", "instance_name": "b"}, {}, rename=CREATE_RENAME))
    assert err.status == 400
    assert "'name' was renamed to 'instance_name', but both are specified" in err.message


def test_static_parameters_cannot_be_overwritten() -> None:
    err = err_of(lambda: opfill.fill_opcode(
        "OP_INSTANCE_SHUTDOWN", {"instance_name": "other"}, {"instance_name": "inst1"}))
    assert err.status == 400 and "static parameters ['instance_name']" in err.message


def test_unknown_keys_and_wrong_types_are_400() -> None:
    err = err_of(lambda: opfill.fill_opcode("OP_INSTANCE_SHUTDOWN", {"bogus": 1},
                                            {"instance_name": "x"}))
    assert err.status == 400 and "unknown parameter 'bogus'" in err.message
    err = err_of(lambda: opfill.fill_opcode("OP_INSTANCE_SHUTDOWN", {"timeout": "soon"},
                                            {"instance_name": "x"}))
    assert err.status == 400 and "timeout" in err.message
    err = err_of(lambda: opfill.fill_opcode("OP_INSTANCE_SHUTDOWN", {"timeout": -1},
                                            {"instance_name": "x"}))
    assert err.status == 400
    op = opfill.fill_opcode("OP_INSTANCE_SHUTDOWN", {"timeout": 5}, {"instance_name": "x"})
    assert isinstance(op, OpInstanceShutdown) and op.timeout == 5


@pytest.mark.parametrize("body", [[1, 2], "text", 3, True])
def test_body_must_be_an_object(body: Any) -> None:
    err = err_of(lambda: opfill.fill_opcode("OP_INSTANCE_SHUTDOWN", body,
                                            {"instance_name": "x"}))
    assert err.status == 400 and "but 'dict' is expected" in err.message


def test_forbidden_parameters_are_403() -> None:
    for body, query in (({"compression_tools": ["gzip"]}, ()), ({}, ("compression_tools",))):
        err = err_of(lambda b=body, q=query: opfill.fill_opcode(
            "OP_CLUSTER_SET_PARAMS", b, {}, forbidden=("compression_tools",), query_args=q))
        assert err.status == 403
        assert "compression_tools cannot be set via RAPI" in err.message
    # forbidden under its old name too
    err = err_of(lambda: opfill.fill_opcode("OP_INSTANCE_CREATE", {"name": "x"}, {},
                                            rename=CREATE_RENAME, forbidden=("instance_name",)))
    assert err.status == 403


def test_missing_opcode_is_501_before_the_body_is_looked_at() -> None:
    err = err_of(lambda: opfill.fill_opcode("OP_NOT_THERE_YET", "garbage", {}))
    assert err.status == 501 and "OP_NOT_THERE_YET is not implemented" in err.message
    assert opfill.body_schema("OP_NOT_THERE_YET") is None


def test_body_schema_from_the_opcode_model() -> None:
    schema = opfill.body_schema("OP_INSTANCE_CREATE", static=["dry_run"], rename=CREATE_RENAME)
    assert schema is not None
    props = schema["properties"]
    assert "instance_name" in props and "name" in props and "os" in props
    assert "dry_run" not in props and "reason" not in props
    assert schema["additionalProperties"] is False
    assert "instance_name" in schema["required"]
    shutdown = opfill.body_schema("OP_INSTANCE_SHUTDOWN", static=["instance_name"])
    assert shutdown is not None
    assert "instance_name" not in shutdown["properties"]
    assert "required" not in shutdown


def test_usb_devices_spaces_become_commas() -> None:
    data = {"hvparams": {"usb_devices": "a b c", "other": 1}}
    convert_usb_devices(data)
    assert data["hvparams"] == {"usb_devices": "a,b,c", "other": 1}
    untouched = {"hvparams": "not a dict"}
    convert_usb_devices(untouched)
    assert untouched == {"hvparams": "not a dict"}


def test_non_opcode_bodies() -> None:
    wait = bodies.parse(bodies.WaitBody, {"fields": ["status"], "previous_job_info": None,
                                          "previous_log_serial": 3, "extra": "ignored"})
    assert wait.fields == ["status"] and wait.previous_log_serial == 3
    for bad, text in (({}, "Required parameter 'fields' is missing"),
                      ({"fields": "status"}, "fields"),
                      ({"fields": [], "previous_log_serial": "3"}, "previous_log_serial"),
                      ({"fields": [], "previous_job_info": {}}, "previous_job_info")):
        err = err_of(lambda b=bad: bodies.parse(bodies.WaitBody, b))
        assert err.status == 400 and text in err.message
    rule = bodies.parse(bodies.FilterRuleBody, None)
    assert (rule.priority, rule.predicates, rule.action) == (0, [], "CONTINUE")
    err = err_of(lambda: bodies.parse(bodies.FilterRuleBody, {"priority": 1, "colour": "red"}))
    assert err.status == 400 and "'colour' is not supported" in err.message
    err = err_of(lambda: bodies.parse(bodies.QueryBody, ["name"]))
    assert err.status == 400


@pytest.mark.parametrize("params", [
    {"start": "yes"}, {"ip_check": 1}, {"disks": {"size": 1}}, {"beparams": []},
    {"mode": "clone"},
])
def test_types_are_checked_strictly_as_ganeti_does(params: dict[str, Any]) -> None:
    err = err_of(lambda: opfill.build_opcode("OP_INSTANCE_CREATE",
                                             {"instance_name": "x", **params}))
    assert err.status == 400 and next(iter(params)) in err.message


def test_numbers_are_numbers() -> None:
    assert opfill.build_opcode("OP_TEST_DELAY", {"duration": 1}).duration == 1.0
    err = err_of(lambda: opfill.build_opcode("OP_TEST_DELAY", {"duration": "1"}))
    assert err.status == 400
    err = err_of(lambda: opfill.build_opcode("OP_INSTANCE_SHUTDOWN",
                                             {"instance_name": "x", "timeout": True}))
    assert err.status == 400
