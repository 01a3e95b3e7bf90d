"""The DynamoDB tables' key schemas: one definition read by the CDK stack and the local cloud."""

from __future__ import annotations

from dataclasses import dataclass, field

from soorma_common.delivery import TTL_ATTRIBUTE

#: What the memory table's indexes carry besides keys: what listings filter on. Listings read the
#: items themselves (`soorma.memory.listing`), so an update of any other attribute (goal data,
#: context, version) writes nothing to an index.
LISTED_ATTRIBUTES = ("user_id", "status", "parent_plan_id", "expires_at")


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index: keys, and `projected` non-key attributes (INCLUDE), or only
    the keys when there are none (KEYS_ONLY)."""

    name: str
    partition_key: str
    sort_key: str | None = None
    projected: tuple[str, ...] = LISTED_ATTRIBUTES

    def projection(self) -> dict[str, object]:
        """The index's `Projection`, as CreateTable and CloudFormation spell it."""
        if not self.projected:
            return {"ProjectionType": "KEYS_ONLY"}
        return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(self.projected)}


@dataclass(frozen=True)
class TableSpec:
    """A table: role (`naming.TABLE_ROLES`), string keys, GSIs. TTL is always `expires_at`."""

    role: str
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[IndexSpec, ...] = field(default_factory=tuple)


#: Every table of the platform, by role.
TABLES: dict[str, TableSpec] = {
    # Registry: events (pk EVENT#<name>) and agents (pk AGENT#<name>); see docs/registry.md.
    "registry": TableSpec("registry", "pk", "sk"),
    # Memory: plans, sessions, working memory, task context, episodic memory; every key starts
    # with the tenant (see docs/memory.md).
    "memory": TableSpec(
        "memory",
        "pk",
        "sk",
        indexes=(
            # A user's plans (by status, then time of the last status change) and sessions.
            IndexSpec("by_owner", "owner_pk", "owner_sk"),
            # The plans of a session.
            IndexSpec("by_session", "session_pk", "session_sk"),
            # The child plans of a plan.
            IndexSpec("by_parent", "parent_pk", "parent_sk"),
            # Open plans by shard, then the time of their last progress (sparse: only open
            # plans carry the keys). Keys and TTL only: a step's update writes this index once
            # (its progress time changes) and nothing it does not need.
            IndexSpec("by_progress", "open_pk", "open_sk", projected=(TTL_ATTRIBUTE,)),
        ),
    ),
    # Event log: every event by correlation id (the trace tree).
    "events": TableSpec("events", "pk", "sk"),
    # Idempotency claims in Powertools' own layout (partition key `id`).
    "idempotency": TableSpec("idempotency", "id"),
}
