"""Imports every LU module so the opcode -> LU registry is complete."""

from gnt.cmdlib import cluster, instance_create, instance_ops, instance_query, os, test, verify  # noqa: F401
