"""Request bodies that are not opcodes, as pydantic models.

Each model validates its body (strict JSON types, as Ganeti checks them)
and documents it in the OpenAPI document.  :func:`parse` turns a decoded
body into a model or a 400 naming the bad keys.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gnt.rapi import httperror

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    """Unknown keys are ignored, as Ganeti's handlers ignore them."""

    model_config = ConfigDict(strict=True, extra="ignore")


class WaitBody(_Body):
    """``GET /2/jobs/<id>/wait``: wait until one of ``fields`` changes from
    ``previous_job_info`` or a log entry after ``previous_log_serial`` arrives."""

    fields: list[str] = Field(description="Job fields to watch (as in /2/jobs/<id>)")
    previous_job_info: list[Any] | None = Field(
        default=None, description="The values of `fields` the client saw last")
    previous_log_serial: int | None = Field(
        default=None, description="Serial of the last log entry the client saw")


class QueryBody(_Body):
    """``PUT /2/query/<resource>``: ``fields`` (else the ``fields`` query
    argument) and an optional qlang filter (``qfilter``, or the old name
    ``filter``)."""

    fields: list[str] | None = Field(default=None, description="Fields to return")
    qfilter: Any = Field(default=None, description="Query filter (qlang list form)")
    filter: Any = Field(default=None, description="Old name of `qfilter`")


class FilterRuleBody(BaseModel):
    """``POST /2/filters``, ``PUT /2/filters/<uuid>``: a job filter rule.
    Unknown keys are refused."""

    model_config = ConfigDict(strict=True, extra="forbid")

    priority: int = Field(default=0, ge=0, description="Lower runs first")
    predicates: list[Any] = Field(default_factory=list,
                                  description="e.g. [[\"jobid\", [\">\", \"id\", 10]]]")
    action: Any = Field(default="CONTINUE",
                        description="ACCEPT, PAUSE, REJECT, CONTINUE or [\"RATE_LIMIT\", n]")
    reason: list[Any] = Field(default_factory=list, description="Reason trail entries")


class ReinstallBody(_Body):
    """``POST /2/instances/<name>/reinstall`` (request version 1)."""

    os: str | None = Field(default=None, description="OS to install (default: the current)")
    start: bool = Field(default=True, description="Start the instance afterwards")
    osparams: dict[str, Any] | None = Field(default=None, description="OS parameters")


class ErrorBody(BaseModel):
    """Every error reply."""

    code: int = Field(description="The HTTP status")
    message: str = Field(description="What went wrong (HTML-escaped)")
    explain: str = Field(description="The standard description of the status")


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(body)"
        if e["type"] == "missing":
            parts.append(f"Required parameter '{loc}' is missing")
        elif e["type"] == "extra_forbidden":
            parts.append(f"the parameter '{loc}' is not supported")
        else:
            parts.append(f"'{loc}' parameter: {e['msg']}")
    return "; ".join(parts)


def parse(model: type[M], body: Any) -> M:
    """Validate a decoded body (None: empty) against ``model``; 400 if invalid."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise httperror.bad_request(
            f"Invalid body contents: expected a JSON object, got {type(body).__name__}")
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise httperror.bad_request(f"Invalid body parameters: {_describe(err)}") from None
