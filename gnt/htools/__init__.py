"""gnt htools: Ganeti-compatible cluster tools (hbal, hcheck, hinfo, hspace).

Modules: ``types`` (vocabulary), ``model`` (loaded data), ``text`` (text
backend), ``state`` (numpy cluster state), ``nodeops`` (node operations),
``metrics`` (cluster score), ``moves`` (instance moves), ``search``
(vectorised move scoring), ``balance`` (hbal algorithm), ``n1`` (N+1
checks), ``alloc`` (allocation), programs ``hbal``/``hcheck``/``hinfo``/
``hspace``, ``main`` (multi-call dispatcher), ``generate`` (test clusters).
See README.md in this directory.
"""

import os as _os
import sys as _sys

# numpy's OpenBLAS starts one spinning thread per core when imported; the
# tools' few small matrix products gain nothing from it, and the tools run
# often (hail per allocation): one thread, unless the caller chose.
if "numpy" not in _sys.modules:
    _os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
