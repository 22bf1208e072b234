"""Imports every opcode module so the registry is complete."""

from gnt.opcodes import (  # noqa: F401
    cluster,
    extstorage,
    group,
    instance,
    instance_modify,
    mobility,
    node,
    query,
    tags,
    test,
)
