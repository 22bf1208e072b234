"""Opcodes: registry, Ganeti JSON form, validation errors, summary."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, ValidationError

from gnt import constants as C
from gnt import errors
from gnt.opcodes import base
from gnt.opcodes.base import OpCode, build, from_dict, registry
from gnt.opcodes.cluster import OpClusterQuery, OpClusterVerifyGroup
from gnt.opcodes.instance import OpInstanceCreate, OpInstanceRemove, OpInstanceShutdown
from gnt.opcodes.query import OpQuery
from gnt.opcodes.test import OpTestDelay

pytestmark = pytest.mark.unit

# Opcodes every gnt build must know (Ganeti names).
EXPECTED = {
    "OP_CLUSTER_POST_INIT", "OP_CLUSTER_DESTROY", "OP_CLUSTER_QUERY",
    "OP_CLUSTER_VERIFY_CONFIG", "OP_CLUSTER_VERIFY_GROUP", "OP_CLUSTER_VERIFY",
    "OP_CLUSTER_SET_PARAMS", "OP_CLUSTER_REDIST_CONF",
    "OP_INSTANCE_CREATE", "OP_INSTANCE_REMOVE", "OP_INSTANCE_STARTUP",
    "OP_INSTANCE_SHUTDOWN", "OP_INSTANCE_REBOOT", "OP_INSTANCE_CONSOLE",
    "OP_INSTANCE_QUERY_DATA", "OP_QUERY", "OP_QUERY_FIELDS", "OP_OS_DIAGNOSE",
    "OP_TEST_DELAY",
}


def gnt_opcodes() -> dict[str, type[OpCode]]:
    """The registry without opcodes defined by tests."""
    return {k: v for k, v in registry().items() if v.__module__.startswith("gnt.")}


def _sample(annotation: Any) -> Any:
    """A valid value of a required field's type."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)[0]
    if annotation is str:
        return "x1.example.com"
    if annotation is float or annotation is int:
        return 1
    if typing.get_origin(annotation) is list:
        return [_sample(typing.get_args(annotation)[0])]
    raise AssertionError(f"no sample for {annotation!r}; extend _sample")


def minimal_params(cls: type[OpCode]) -> dict[str, Any]:
    return {name: _sample(f.annotation) for name, f in cls.model_fields.items()
            if f.is_required()}


ALL_IDS = sorted(gnt_opcodes())


def test_registry_complete() -> None:
    reg = gnt_opcodes()
    assert EXPECTED <= set(reg)
    for op_id, cls in reg.items():
        assert cls.OP_ID == op_id
        assert op_id.startswith("OP_") and op_id.upper() == op_id


@pytest.mark.parametrize("op_id", ALL_IDS)
def test_round_trip_minimal(op_id: str) -> None:
    cls = registry()[op_id]
    params = minimal_params(cls)
    op = from_dict({"OP_ID": op_id, **params})
    assert type(op) is cls
    d = op.to_dict()
    assert d["OP_ID"] == op_id
    for k, v in params.items():
        assert d[k] == v
    # generic fields always present, with Ganeti's defaults
    assert d["dry_run"] is False
    assert d["priority"] == C.OP_PRIO_DEFAULT
    assert d["depends"] is None
    assert d["reason"] == []
    # through real JSON and back
    again = from_dict(json.loads(json.dumps(d)))
    assert again == op
    assert again.to_dict() == d


@pytest.mark.parametrize("op_id", ALL_IDS)
def test_required_parameters_reported(op_id: str) -> None:
    cls = registry()[op_id]
    for name in minimal_params(cls):
        params = minimal_params(cls)
        del params[name]
        with pytest.raises(errors.ParameterError) as ei:
            from_dict({"OP_ID": op_id, **params})
        assert f"'{name}'" in str(ei.value)
        assert op_id in str(ei.value)


@pytest.mark.parametrize("op_id", ALL_IDS)
def test_unknown_parameter_rejected(op_id: str) -> None:
    cls = registry()[op_id]
    with pytest.raises(errors.ParameterError) as ei:
        from_dict({"OP_ID": op_id, **minimal_params(cls), "no_such_param": 1})
    assert "unknown parameter 'no_such_param'" in str(ei.value)
    assert ei.value.ecode == errors.ECODE_INVAL


def test_round_trip_full_instance_create() -> None:
    op = OpInstanceCreate(
        instance_name="inst1.example.com", os_type="debian+minimal", disk_template="file",
        disks=[{"size": 1024, "mode": "rw"}, {"size": "2G"}],
        nics=[{"mac": "auto", "link": "br0"}], beparams={"maxmem": 512},
        hvparams={"acpi": False}, hypervisor="kvm", pnode="node1", start=False,
        tags=["a"], priority=C.OP_PRIO_HIGH, depends=[[-1, ["success"]]],
        comment="hello", reason=[["gnt:client:gnt-instance", "add", 1234567890]],
        dry_run=True)
    d = op.to_dict()
    again = from_dict(json.loads(json.dumps(d)))
    assert again == op
    assert again.disks[1] == {"size": "2G"}
    assert again.depends == [[-1, ["success"]]]


def test_from_dict_does_not_modify_input() -> None:
    data = {"OP_ID": "OP_INSTANCE_REMOVE", "instance_name": "inst1"}
    from_dict(data)
    assert data == {"OP_ID": "OP_INSTANCE_REMOVE", "instance_name": "inst1"}


# --- errors -------------------------------------------------------------------

def test_unknown_op_id() -> None:
    with pytest.raises(errors.OpCodeUnknown) as ei:
        from_dict({"OP_ID": "OP_NO_SUCH_THING"})
    assert "OP_NO_SUCH_THING" in str(ei.value)
    assert ei.value.ecode == errors.ECODE_INVAL
    # OpCodeUnknown is a ParameterError, as callers catch those
    assert isinstance(ei.value, errors.ParameterError)


@pytest.mark.parametrize("data", [None, [], "OP_CLUSTER_QUERY", {"instance_name": "x"}, 5])
def test_not_an_opcode_dict(data: Any) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        from_dict(data)
    assert not isinstance(ei.value, errors.OpCodeUnknown)
    assert "OP_ID" in str(ei.value)


@pytest.mark.parametrize(("op_id", "params", "bad"), [
    ("OP_INSTANCE_REMOVE", {"instance_name": 5}, "instance_name"),
    ("OP_INSTANCE_REMOVE", {"instance_name": ""}, "instance_name"),
    ("OP_INSTANCE_REMOVE", {"instance_name": "i", "shutdown_timeout": "soon"},
     "shutdown_timeout"),
    ("OP_INSTANCE_REMOVE", {"instance_name": "i", "shutdown_timeout": -1}, "shutdown_timeout"),
    ("OP_INSTANCE_SHUTDOWN", {"instance_name": "i", "timeout": -5}, "timeout"),
    ("OP_INSTANCE_REBOOT", {"instance_name": "i", "reboot_type": "gentle"}, "reboot_type"),
    ("OP_INSTANCE_CREATE", {"instance_name": "i", "mode": "clone"}, "mode"),
    ("OP_INSTANCE_CREATE", {"instance_name": "i", "disks": {"size": 1}}, "disks"),
    ("OP_INSTANCE_CREATE", {"instance_name": "i", "nics": ["aa:00"]}, "nics"),
    ("OP_INSTANCE_CREATE", {"instance_name": "i", "tags": "a,b"}, "tags"),
    ("OP_TEST_DELAY", {"duration": -1}, "duration"),
    ("OP_TEST_DELAY", {"duration": -0.001}, "duration"),
    ("OP_TEST_DELAY", {"duration": "long"}, "duration"),
    ("OP_TEST_DELAY", {"duration": 1, "repeat": -1}, "repeat"),
    ("OP_QUERY", {"what": "instance", "fields": "name"}, "fields"),
    ("OP_CLUSTER_QUERY", {"dry_run": "perhaps"}, "dry_run"),
    ("OP_CLUSTER_QUERY", {"debug_level": "high"}, "debug_level"),
    ("OP_CLUSTER_QUERY", {"comment": 5}, "comment"),
    ("OP_CLUSTER_QUERY", {"reason": "because"}, "reason"),
    ("OP_CLUSTER_SET_PARAMS", {"candidate_pool_size": "many"}, "candidate_pool_size"),
    ("OP_CLUSTER_SET_PARAMS", {"hvparams": {"kvm": "acpi=1"}}, "hvparams"),
])
def test_wrong_value_names_parameter(op_id: str, params: dict[str, Any], bad: str) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        from_dict({"OP_ID": op_id, **params})
    msg = str(ei.value)
    assert f"parameter '{bad}" in msg
    assert msg.startswith(f"Invalid {op_id}: ")
    assert ei.value.ecode == errors.ECODE_INVAL


def test_several_errors_all_reported() -> None:
    with pytest.raises(errors.ParameterError) as ei:
        from_dict({"OP_ID": "OP_TEST_DELAY", "duration": -1, "repeat": -1, "bogus": 1})
    msg = str(ei.value)
    assert "'duration'" in msg and "'repeat'" in msg and "unknown parameter 'bogus'" in msg


def test_build_wraps_validation_errors() -> None:
    op = build(OpTestDelay, {"duration": 0})
    assert isinstance(op, OpTestDelay) and op.duration == 0
    with pytest.raises(errors.ParameterError):
        build(OpTestDelay, {})


# --- priority -----------------------------------------------------------------

@pytest.mark.parametrize("prio", [C.OP_PRIO_HIGHEST, C.OP_PRIO_HIGH, C.OP_PRIO_NORMAL,
                                  C.OP_PRIO_LOW, C.OP_PRIO_LOWEST])
def test_priority_in_bounds(prio: int) -> None:
    op = from_dict({"OP_ID": "OP_CLUSTER_QUERY", "priority": prio})
    assert op.priority == prio


@pytest.mark.parametrize("prio", [C.OP_PRIO_HIGHEST - 1, C.OP_PRIO_LOWEST + 1, -1000, 1000,
                                  "high"])
def test_priority_out_of_bounds(prio: Any) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        from_dict({"OP_ID": "OP_CLUSTER_QUERY", "priority": prio})
    assert "'priority'" in str(ei.value)


@given(st.integers(min_value=-100, max_value=100))
def test_prop_priority_bounds(prio: int) -> None:
    ok = C.OP_PRIO_HIGHEST <= prio <= C.OP_PRIO_LOWEST
    try:
        op = from_dict({"OP_ID": "OP_CLUSTER_QUERY", "priority": prio})
    except errors.ParameterError:
        assert not ok
    else:
        assert ok and op.priority == prio


def test_priority_validated_on_assignment() -> None:
    op = OpClusterQuery()
    op.priority = C.OP_PRIO_LOW
    with pytest.raises(ValidationError):
        op.priority = C.OP_PRIO_LOWEST + 1
    assert op.priority == C.OP_PRIO_LOW


# --- depends ------------------------------------------------------------------

@pytest.mark.parametrize("deps", [
    None,
    [],
    [[1, ["success"]]],
    [[-1, ["success", "error"]], [-2, []]],
    [["123", ["canceled"]]],
    [[7, list(C.JOBS_FINALIZED)]],
])
def test_depends_valid(deps: Any) -> None:
    op = from_dict({"OP_ID": "OP_CLUSTER_QUERY", "depends": deps})
    assert op.depends == deps
    assert from_dict(op.to_dict()).depends == deps


@pytest.mark.parametrize("deps", [
    [[1]],
    [[1, ["success"], "extra"]],
    [[1, "success"]],
    [[1, ["running"]]],
    [[1, ["queued"]]],
    [[1, ["bogus"]]],
    [[None, ["success"]]],
    [[1.5, ["success"]]],
    [[[1], ["success"]]],
    [1],
    "1",
    [[1, ["success"]], [2, ["waiting"]]],
])
def test_depends_invalid(deps: Any) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        from_dict({"OP_ID": "OP_CLUSTER_QUERY", "depends": deps})
    assert "'depends" in str(ei.value)


# --- summary ------------------------------------------------------------------

def test_summary_with_dsc_field() -> None:
    assert OpInstanceCreate(instance_name="inst1").summary() == "INSTANCE_CREATE(inst1)"
    assert OpInstanceRemove(instance_name="i.example.com").summary() == \
        "INSTANCE_REMOVE(i.example.com)"
    assert OpInstanceShutdown(instance_name="x").summary() == "INSTANCE_SHUTDOWN(x)"
    assert OpClusterVerifyGroup(group_name="default").summary() == \
        "CLUSTER_VERIFY_GROUP(default)"
    assert OpQuery(what="instance", fields=["name"]).summary() == "QUERY(instance)"
    assert OpTestDelay(duration=2.5).summary() == "TEST_DELAY(2.5)"


def test_summary_without_dsc_field() -> None:
    assert OpClusterQuery().summary() == "CLUSTER_QUERY"


def test_summary_list_value_joined() -> None:
    class OpTestUnitSummaryList(OpCode):
        OP_ID = "OP_TEST_UNIT_SUMMARY_LIST"
        OP_DSC_FIELD = "names"
        names: list[str] = Field(default_factory=list)

    try:
        assert registry()["OP_TEST_UNIT_SUMMARY_LIST"] is OpTestUnitSummaryList
        op = OpTestUnitSummaryList(names=["a", "b", "c"])
        assert op.summary() == "TEST_UNIT_SUMMARY_LIST(a,b,c)"
        assert OpTestUnitSummaryList().summary() == "TEST_UNIT_SUMMARY_LIST()"
    finally:
        base._REGISTRY.pop("OP_TEST_UNIT_SUMMARY_LIST", None)


@pytest.mark.parametrize("op_id", ALL_IDS)
def test_summary_every_opcode(op_id: str) -> None:
    cls = registry()[op_id]
    op = cls(**minimal_params(cls))
    value = getattr(op, cls.OP_DSC_FIELD) if cls.OP_DSC_FIELD else None
    if value is None:
        assert op.summary() == op_id[3:]
    else:
        if isinstance(value, list):
            value = ",".join(map(str, value))
        assert op.summary() == f"{op_id[3:]}({value})"


def test_format_validation_error_shape() -> None:
    try:
        OpInstanceRemove(instance_name=1, extra=2)  # type: ignore[arg-type,call-arg]
    except ValidationError as err:
        msg = base.format_validation_error("OP_INSTANCE_REMOVE", err)
    else:
        raise AssertionError("no validation error")
    assert msg.startswith("Invalid OP_INSTANCE_REMOVE: ")
    assert "parameter 'instance_name'" in msg
    assert "unknown parameter 'extra'" in msg
