"""Opcodes: one typed model per operation (Ganeti OP_* names)."""
