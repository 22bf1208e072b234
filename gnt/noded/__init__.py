"""The node daemon (``gnt-noded``): node-local work for the master over mutual TLS.

- :mod:`gnt.noded.registry`: the ``@procedure`` decorator and the catalogue;
- :mod:`gnt.noded.procs`: the procedures, one module per area;
- :mod:`gnt.noded.server`: the HTTPS server speaking Ganeti's noded protocol;
- :mod:`gnt.noded.daemon`: the ``gnt-noded`` command.
"""
