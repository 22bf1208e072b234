"""Imports every LU module so the opcode -> LU registry is complete."""

from gnt.cmdlib import (  # noqa: F401
    cluster,
    extstorage,
    group,
    instance_create,
    instance_disks,
    instance_migration,
    instance_modify,
    instance_ops,
    instance_query,
    instance_rename,
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
