"""Master voting: do the nodes agree on who the master is?

Ganeti's rule (``CheckAgreement``/``GatherMasterVotes``): every other node
says whom its ssconf names as master; the node asking may act as master
only if the nodes that answered agree in majority.  Used by the master
daemon at start-up and periodically (a master that lost the vote steps
down), and by ``gnt-cluster master-failover`` (the old master must have a
majority before a new one takes over, unless ``--no-voting``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from gnt.objects import ConfigData
from gnt.rpc.client import RpcClient

log = logging.getLogger(__name__)

VOTE_TIMEOUT = 5.0


@dataclass
class Votes:
    """Who the answering nodes name as master, and their config serials."""

    masters: Counter[str] = field(default_factory=Counter)
    serials: dict[str, int | None] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(self.masters.values())

    def winner(self) -> tuple[str | None, int]:
        """The most named master and its vote count (None, 0 without votes)."""
        if not self.masters:
            return None, 0
        name, count = self.masters.most_common(1)[0]
        return name, count


def gather(client: RpcClient, data: ConfigData, exclude: str | None = None,
           timeout: float = VOTE_TIMEOUT) -> Votes:
    """Ask every online node except ``exclude`` (a node name) for its vote."""
    nodes = {n.name: n.primary_ip for n in data.nodes.values()
             if not n.offline and n.name != exclude}
    votes = Votes()
    if not nodes:
        return votes
    for name, res in client.call_many(nodes, "master_vote", [], timeout=timeout).items():
        if res.fail_msg or not isinstance(res.data, dict):
            votes.unreachable.append(name)
            continue
        master = res.data.get("master")
        if master:
            votes.masters[master] += 1
        votes.serials[name] = res.data.get("serial")
    return votes


def others_agree(votes: Votes, me: str) -> bool:
    """Whether ``me`` may act as master: no node answered, or more than half
    of those that answered name ``me``."""
    if votes.answered == 0:
        return True
    return votes.masters.get(me, 0) * 2 > votes.answered
