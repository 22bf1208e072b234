"""Node daemon procedures, one module per area.

Every module in this package is imported when the node daemon starts
(:func:`gnt.noded.registry.load_procedures`); define procedures with
:func:`gnt.noded.registry.procedure`.  No other registration is needed.
"""
