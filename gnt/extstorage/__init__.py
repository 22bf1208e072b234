"""Ganeti's ExtStorage interface: external storage through provider scripts.

* :mod:`~gnt.extstorage.provider`: finding and validating providers in the
  ExtStorage search path (``/srv/ganeti/extstorage`` under the node's root);
* :mod:`~gnt.extstorage.environment`: the scripts' environment
  (``VOL_NAME``, ``VOL_SIZE``, ``EXTP_<PARAM>``, ...);
* :mod:`~gnt.extstorage.runner`: running one script with logs and timeouts;
* :mod:`~gnt.extstorage.attach`: parsing ``attach`` output (device path,
  userspace URIs);
* :mod:`~gnt.extstorage.diskparams`: the ``--disk`` dict of an ext disk
  (master side); :mod:`~gnt.extstorage.query`: ``gnt-storage`` fields.

The ``ext`` disk template built on it is :mod:`gnt.storage.ext`.
"""

from gnt.extstorage.attach import AttachInfo
from gnt.extstorage.environment import extp_var, volume_env
from gnt.extstorage.provider import Provider, diagnose, find, get, load_from_dir
from gnt.extstorage.runner import run_action

__all__ = ["AttachInfo", "Provider", "diagnose", "extp_var", "find", "get",
           "load_from_dir", "run_action", "volume_env"]
