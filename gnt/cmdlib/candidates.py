"""The master candidate pool: how many candidates, and whom to promote.

Ganeti's rule: the cluster keeps ``candidate_pool_size`` master candidates
(the master counts as one) among the nodes that can be: online, not
drained, ``master_capable``.
"""

from __future__ import annotations

from gnt.objects import ConfigData, Node


def can_be_candidate(node: Node) -> bool:
    return node.master_capable and not node.offline and not node.drained


def candidate_stats(data: ConfigData, exclude: set[str] | None = None) -> tuple[int, int, int]:
    """``(current, desired, possible)`` candidate counts, ignoring ``exclude`` (UUIDs).

    ``desired`` is ``min(candidate_pool_size, possible)``.
    """
    exclude = exclude or set()
    nodes = [n for n in data.nodes.values() if n.uuid not in exclude]
    current = sum(1 for n in nodes if n.master_candidate)
    possible = sum(1 for n in nodes if can_be_candidate(n))
    return current, min(data.cluster.candidate_pool_size, possible), possible


def promote_candidates(data: ConfigData, exclude: set[str] | None = None) -> list[Node]:
    """Promote nodes (by name order) until the pool is full; returns those promoted.

    Changes the nodes in place; the caller writes the config.
    """
    exclude = exclude or set()
    current, desired, _ = candidate_stats(data, exclude)
    promoted: list[Node] = []
    for node in sorted(data.nodes.values(), key=lambda n: n.name):
        if current >= desired:
            break
        if node.uuid in exclude or node.master_candidate or not can_be_candidate(node):
            continue
        node.master_candidate = True
        promoted.append(node)
        current += 1
    return promoted
