"""Imports every opcode module so the registry is complete."""

from gnt.opcodes import cluster, instance, query, test  # noqa: F401
