"""Episodic memory: a user's interactions with agents, across plans and sessions, with TTL.

Items live in the user's partition `T#<t>#USER#<u>#EPISODES`, sorted by agent then time, so
`get_recent_history(agent_id)` is one Query read backwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from soorma.memory import keys
from soorma.memory.models import Interaction
from soorma.memory.scope import ScopedMemory
from soorma.memory.table import now_iso
from soorma_common.delivery import TTL_ATTRIBUTE


class EpisodicOperations(ScopedMemory):
    """Episodic-memory calls of `MemoryClient`."""

    async def log_interaction(
        self,
        agent_id: str,
        role: str,
        content: Any,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        interaction_id: str | None = None,
        at: datetime | None = None,
    ) -> Interaction:
        """Record one interaction of `agent_id` with this user (one PutItem).

        Pass `interaction_id` and `at` (e.g. the handled event's id and time) to make a retried
        handler overwrite its own entry instead of adding a second one.
        """
        self.scope.check(tenant_id, user_id)
        now = now_iso() if at is None else at.astimezone(UTC).isoformat(timespec="microseconds")
        interaction_id = interaction_id or str(uuid.uuid4())
        item = {
            "pk": keys.episodes_pk(self.tenant_id, self.user_id),
            "sk": keys.episode_sk(agent_id, now, keys.check_id("interaction_id", interaction_id)),
            **self.item_stamp("episode"),
            "interaction_id": interaction_id,
            "agent_id": agent_id,
            "role": role,
            "content": content,
            "metadata": dict(metadata or {}),
            "created_at": now,
            TTL_ATTRIBUTE: self._table().expires_at(),
        }
        self._table().put(item)
        return Interaction.model_validate(item)

    async def get_recent_history(
        self, agent_id: str, *, limit: int = 10, user_id: str | None = None
    ) -> list[Interaction]:
        """The user's last `limit` interactions with `agent_id`, oldest first."""
        self.scope.check(user_id=user_id)
        found = self._table().query(
            "pk = :pk AND begins_with(sk, :agent)",
            values={
                ":pk": keys.episodes_pk(self.tenant_id, self.user_id),
                ":agent": f"{keys.check_id('agent_id', agent_id)}#",
            },
            forward=False,
            limit=limit,
        )
        return list(reversed([Interaction.model_validate(i) for i in found]))
