"""The opcode base model and registry.

An opcode is a typed, validated request (pydantic).  Its JSON form is
Ganeti's: a dict with ``OP_ID`` plus the parameters, so CLI, LUXI, RAPI and
the job queue all exchange the same thing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gnt import constants as C
from gnt import errors

_REGISTRY: dict[str, type[OpCode]] = {}


class OpCode(BaseModel):
    """Base of every opcode.  Carries Ganeti's generic fields.

    Subclasses set ``OP_ID`` (e.g. ``"OP_INSTANCE_CREATE"``) and optionally
    ``OP_DSC_FIELD`` (the parameter shown in the job summary).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)

    OP_ID: ClassVar[str] = ""
    OP_DSC_FIELD: ClassVar[str | None] = None
    WITH_LU: ClassVar[bool] = True

    dry_run: bool = False
    debug_level: int = 0
    priority: int = Field(default=C.OP_PRIO_DEFAULT, ge=C.OP_PRIO_HIGHEST,
                          le=C.OP_PRIO_LOWEST)
    depends: list[list[Any]] | None = None
    comment: str | None = None
    reason: list[list[Any]] = Field(default_factory=list)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.OP_ID:
            _REGISTRY[cls.OP_ID] = cls

    @field_validator("depends")
    @classmethod
    def _check_depends(cls, v: list[list[Any]] | None) -> list[list[Any]] | None:
        if v is None:
            return v
        for dep in v:
            if (len(dep) != 2 or not isinstance(dep[0], (int, str))
                    or not isinstance(dep[1], list)
                    or any(s not in C.JOBS_FINALIZED for s in dep[1])):
                raise ValueError(f"invalid dependency {dep!r}: expected [job_id, [statuses]]")
        return v

    def to_dict(self) -> dict[str, Any]:
        """Ganeti's JSON form: parameters plus ``OP_ID``."""
        out = self.model_dump(mode="json")
        out["OP_ID"] = self.OP_ID
        return out

    def summary(self) -> str:
        """Short description, as Ganeti's ``OpCode.Summary``: ``INSTANCE_CREATE(name)``."""
        name = self.OP_ID[3:] if self.OP_ID.startswith("OP_") else self.OP_ID
        if self.OP_DSC_FIELD:
            value = getattr(self, self.OP_DSC_FIELD, None)
            if value is not None:
                if isinstance(value, (list, tuple)):
                    value = ",".join(str(v) for v in value)
                name = f"{name}({value})"
        return name


def registry() -> dict[str, type[OpCode]]:
    """OP_ID -> opcode class, for every defined opcode."""
    import gnt.opcodes.all  # noqa: F401 - registers the opcode classes

    return _REGISTRY


def from_dict(data: dict[str, Any]) -> OpCode:
    """Build an opcode from its JSON form.

    Raises :class:`errors.OpCodeUnknown` for an unknown ``OP_ID`` and
    :class:`errors.ParameterError` (naming each bad parameter) on validation
    errors.
    """
    if not isinstance(data, dict) or "OP_ID" not in data:
        raise errors.ParameterError("Invalid opcode: expected a dict with 'OP_ID'")
    body = dict(data)
    op_id = body.pop("OP_ID")
    cls = registry().get(op_id)
    if cls is None:
        raise errors.OpCodeUnknown(f"Unknown opcode '{op_id}'", errors.ECODE_INVAL)
    return build(cls, body)


def build(cls: type[OpCode], params: dict[str, Any]) -> OpCode:
    """Instantiate ``cls`` with ``params``; validation errors become ParameterError."""
    try:
        return cls(**params)
    except ValidationError as err:
        raise errors.ParameterError(format_validation_error(cls.OP_ID, err),
                                    errors.ECODE_INVAL) from None


def format_validation_error(op_id: str, err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(opcode)"
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown parameter '{loc}'")
        else:
            parts.append(f"parameter '{loc}': {e['msg']}")
    return f"Invalid {op_id}: " + "; ".join(parts)
