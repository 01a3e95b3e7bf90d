"""A plan's action history: what a planner did, for its circuit breaker (`MAX_TOTAL_ACTIONS`).

Each action is an item of its own, `ACTION#<user>#<n>` in the plan's partition, numbered by a
counter item `ACTIONS#<user>`: recording one is an UpdateItem on the counter (returns n) and a
PutItem of the action, so it costs the same at the 10th action and at the 10,000th. Neither key
is in `WM#`, the user's working-memory key space: `set("_actions", ...)` cannot touch it.
"""

from __future__ import annotations

from soorma.memory import keys
from soorma.memory.scope import ScopedMemory
from soorma.memory.table import now_iso
from soorma_common.delivery import TTL_ATTRIBUTE


class ActionHistoryOperations(ScopedMemory):
    """Action-history calls of `MemoryClient` (every call names the plan)."""

    async def record_action(self, plan_id: str, action: str) -> int:
        """Append `action` to the plan's history; returns the history's new length.

        Two writes of constant size. Not idempotent: a retried handler records again.
        """
        table = self._table()
        pk = keys.plan_pk(self.tenant_id, plan_id)
        item = {
            **self.item_stamp("action"),
            "plan_id": plan_id,
            "action": action,
            "at": now_iso(),
            TTL_ATTRIBUTE: table.expires_at(),
        }
        table.check({"pk": pk, "sk": keys.action_sk(self.user_id, 1), **item})  # before counting
        counted = table.update(
            pk,
            keys.actions_count_sk(self.user_id),
            "SET kind = :kind, tenant_id = :tenant, user_id = :user, plan_id = :plan, "
            f"{TTL_ATTRIBUTE} = :expires ADD actions :one",
            values={
                ":kind": "actions",
                ":tenant": self.tenant_id,
                ":user": self.user_id,
                ":plan": plan_id,
                ":expires": table.expires_at(),
                ":one": 1,
            },
            returns="UPDATED_NEW",
        )
        number = int(counted["actions"])
        table.put({"pk": pk, "sk": keys.action_sk(self.user_id, number), **item})
        return number

    async def action_count(self, plan_id: str) -> int:
        """How many actions the plan's history holds (one GetItem)."""
        found = self._table().get(
            keys.plan_pk(self.tenant_id, plan_id), keys.actions_count_sk(self.user_id)
        )
        return 0 if found is None else int(found.get("actions", 0))

    async def action_history(self, plan_id: str) -> list[str]:
        """Every action recorded, in order (one Query)."""
        found = self._table().query(
            "pk = :pk AND begins_with(sk, :prefix)",
            values={
                ":pk": keys.plan_pk(self.tenant_id, plan_id),
                ":prefix": keys.action_prefix(self.user_id),
            },
        )
        return [str(i["action"]) for i in found]

    async def clear_actions(self, plan_id: str) -> int:
        """Delete the plan's action history (its counter too); returns the items deleted."""
        table = self._table()
        pk = keys.plan_pk(self.tenant_id, plan_id)
        found = [
            (i["pk"], i["sk"])
            for i in table.query(
                "pk = :pk AND begins_with(sk, :prefix)",
                values={":pk": pk, ":prefix": keys.action_prefix(self.user_id)},
                projection="pk, sk",
            )
        ]
        if table.get(pk, keys.actions_count_sk(self.user_id)) is not None:
            found.append((pk, keys.actions_count_sk(self.user_id)))
        return table.delete_many(found)
