"""The ``sharedfile`` disk template: a file per disk in a directory every node sees.

Same files and ``logical_id`` (``[file_driver, path]``) as :mod:`gnt.storage.file`,
below the cluster's ``shared_file_storage_dir`` (NFS or a cluster file
system in production; one common directory on a test machine).  Because
every node sees the file, any node can run the instance: the template moves
by live migration and failover without copying data.
"""

from __future__ import annotations

from gnt import constants as C
from gnt.storage.file import FileStorage


class SharedFileStorage(FileStorage):
    """Disks as sparse files (``size`` MiB) in the shared file storage directory."""

    dev_type = C.DT_SHARED_FILE


BLOCKDEV_CLASS = SharedFileStorage
