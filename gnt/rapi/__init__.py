"""gnt's RAPI v2 server (``gnt-rapi``): Ganeti's remote API over HTTPS.

A thin layer over LUXI: reads are LUXI queries, writes build an opcode from
the request (the opcode model validates it) and submit it as a job.  The
parts, one concept per module:

- :mod:`gnt.rapi.constants`: wire constants (realm, features, bulk fields);
- :mod:`gnt.rapi.httperror`: HTTP errors and the one mapping from gnt error
  codes to HTTP statuses, with Ganeti's JSON error body;
- :mod:`gnt.rapi.permissions`, :mod:`gnt.rapi.users`, :mod:`gnt.rapi.auth`:
  the users file, its permissions and HTTP Basic authentication;
- :mod:`gnt.rapi.opfill`: request bodies to opcodes (renamed, forbidden
  and static parameters);
- :mod:`gnt.rapi.bodies`: the pydantic models of the bodies that are not
  opcodes (job wait, query, filter rules, reinstall, create envelope);
- :mod:`gnt.rapi.luxi`: LUXI access from worker threads;
- :mod:`gnt.rapi.routing` and :mod:`gnt.rapi.resources`: the resources;
- :mod:`gnt.rapi.app`, :mod:`gnt.rapi.server`, :mod:`gnt.rapi.daemon`: the
  ASGI application, the HTTPS server and the daemon command;
- :mod:`gnt.rapi.openapi`: the OpenAPI document served at ``/openapi.json``.
"""
