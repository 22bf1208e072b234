"""gnt htools: Ganeti-compatible cluster tools (hbal, hcheck, hinfo, hspace).

Modules: ``types`` (vocabulary), ``model`` (loaded data), ``text`` (text
backend), ``state`` (numpy cluster state), ``nodeops`` (node operations),
``metrics`` (cluster score), ``moves`` (instance moves), ``search``
(vectorised move scoring), ``balance`` (hbal algorithm), ``n1`` (N+1
checks), ``alloc`` (allocation), programs ``hbal``/``hcheck``/``hinfo``/
``hspace``, ``main`` (multi-call dispatcher), ``generate`` (test clusters).
See README.md in this directory.
"""
