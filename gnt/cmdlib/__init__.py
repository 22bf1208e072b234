"""Logical units: one module per area, the LU lifecycle in :mod:`gnt.cmdlib.base`."""
