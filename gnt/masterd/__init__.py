"""The master daemon: LUXI server, job queue, processor, config owner."""
