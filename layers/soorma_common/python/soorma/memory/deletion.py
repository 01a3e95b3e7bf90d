"""The right to be forgotten: delete every memory item of a user, or of a whole tenant.

Every item of the table carries `tenant_id` and `user_id`, and every partition key starts with
`T#<tenant>#`; deletion scans for them, so no kind of item can be missed. A scan reads the whole
table (see docs/memory.md for the cost): indexing every item by user instead would add a GSI
write to every working-memory update, the hottest path, to speed up a rare operation.
"""

from __future__ import annotations

from soorma.memory import keys
from soorma.memory.scope import ScopedMemory


class DeletionOperations(ScopedMemory):
    """Deletion calls of `MemoryClient` (the handled event's user, or its whole tenant)."""

    async def forget_user(self) -> int:
        """Delete every item of this user in this tenant; returns how many were deleted."""
        found = self.table.scan(
            "begins_with(pk, :tenant) AND user_id = :user",
            values={":tenant": keys.tenant_prefix(self.tenant_id), ":user": self.user_id},
            projection="pk, sk",
        )
        return self.table.delete_many([(i["pk"], i["sk"]) for i in found])

    async def forget_tenant(self) -> int:
        """Delete every item of this tenant (all users); returns how many were deleted."""
        found = self.table.scan(
            "begins_with(pk, :tenant)",
            values={":tenant": keys.tenant_prefix(self.tenant_id)},
            projection="pk, sk",
        )
        return self.table.delete_many([(i["pk"], i["sk"]) for i in found])
