"""Imports every opcode module so the registry is complete."""

from gnt.opcodes import cluster, group, instance, mobility, node, query, tags, test  # noqa: F401
