"""The config store: load, verify, atomic write, serials, reservations, ssconf."""

from gnt.config.store import ConfigWriter, load_config_file, write_config_file

__all__ = ["ConfigWriter", "load_config_file", "write_config_file"]
