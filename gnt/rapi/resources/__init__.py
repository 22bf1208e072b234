"""The RAPI resources; importing this package registers all of them
(:func:`gnt.rapi.routing.resource`)."""

from gnt.rapi.resources import (  # noqa: F401 - registration side effects
    cluster,
    filters,
    groups,
    instances,
    jobs,
    networks,
    nodes,
    query,
)
