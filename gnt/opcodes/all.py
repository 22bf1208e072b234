"""Imports every opcode module so the registry is complete."""

from gnt.opcodes import cluster, instance, node, query, test  # noqa: F401
