"""gnt: a cluster virtualization manager keeping Ganeti's contracts."""

__version__ = "0.1.0"
