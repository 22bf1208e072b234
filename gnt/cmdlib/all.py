"""Imports every LU module so the opcode -> LU registry is complete."""

from gnt.cmdlib import (  # noqa: F401
    cluster,
    instance_create,
    instance_ops,
    instance_query,
    node,
    node_add,
    os,
    test,
    verify,
)
