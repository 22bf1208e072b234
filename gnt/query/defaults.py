"""Default fields of the ``gnt-* list`` commands (Ganeti's), importable without the
config objects: the CLI needs them before it talks to the master."""

INSTANCE = ["name", "hypervisor", "os", "pnode", "status", "oper_ram"]
NODE = ["name", "dtotal", "dfree", "mtotal", "mnode", "mfree", "pinst_cnt", "sinst_cnt"]
GROUP = ["name", "node_cnt", "pinst_cnt", "alloc_policy", "ndparams"]
JOB = ["id", "status", "summary"]
