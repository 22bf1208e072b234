"""Imports every LU module so the opcode -> LU registry is complete."""

from gnt.cmdlib import (  # noqa: F401
    cluster,
    group,
    instance_create,
    instance_migration,
    instance_ops,
    instance_query,
    node,
    node_add,
    node_migration,
    node_query,
    os,
    renew_crypto,
    tags,
    test,
    verify,
)
