"""The campaign's checkpointed state: small on purpose (ids and counters, no code or logs).

Everything bulky or precious lives outside the checkpoints: code in the campaign folder, results
and each hypothesis's fate in the ledger.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class CampaignState(TypedDict):
    round: int  # the round being worked on, from 0
    batch: list[str]  # hypothesis ids of this round
    stop: str  # why the campaign stopped; "" while it runs
    explore: NotRequired[bool]  # the reward model collapsed: the next round proposes novel ideas
