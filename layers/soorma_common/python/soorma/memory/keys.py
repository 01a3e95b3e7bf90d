"""The memory table's keys. Every partition key begins with `T#<tenant>#`.

| item | pk | sk |
|---|---|---|
| plan | `T#<t>#PLAN#<plan_id>` | `META` |
| working memory entry | `T#<t>#PLAN#<plan_id>` | `WM#<user_id>#<key>` |
| session | `T#<t>#SESSION#<session_id>` | `META` |
| action counter, one action | `T#<t>#PLAN#<plan_id>` | `ACTIONS#<u>`, `ACTION#<u>#<n>` |
| task context (fan-in group) | `T#<t>#TASK#<agent>#<task_id>` | `META` |
| one reply of a group | `T#<t>#TASK#<agent>#<task_id>` | `REPLY#<n>` (n: the request's place) |
| sub-request -> task pointer | `T#<t>#REQUEST#<request_id>` | `META` |
| episodic interaction | `T#<t>#USER#<user_id>#EPISODES` | `<agent_id>#<time>#<id>` |

Open plans (running workflow plans, running or waiting choreography plans) also carry the
`by_progress` index keys `open_pk` = `OPEN#<shard>` (`open_pk`) and `open_sk` = the time of
their last progress, or `STALLED#<that time>` once the stall sweep reported them
(`soorma.workflows.stalls`); both are removed when the plan ends.

Ids that go into a key may not contain `#`, so no id can reach into another tenant's keys.
"""

from __future__ import annotations

import hashlib

from soorma_common.errors import PermanentError

SEPARATOR = "#"
META = "META"
WORKING_MEMORY_PREFIX = "WM#"
MAX_ID_LENGTH = 256


class InvalidMemoryIdError(PermanentError, ValueError):
    """An id that cannot be part of a memory key (empty, too long, or containing `#`)."""


def check_id(kind: str, value: str | None) -> str:
    """Return `value` if it can be part of a key, else raise `InvalidMemoryIdError`."""
    if not isinstance(value, str) or not value:
        raise InvalidMemoryIdError(f"{kind} must be a non-empty string, got {value!r}")
    if SEPARATOR in value or len(value) > MAX_ID_LENGTH:
        raise InvalidMemoryIdError(
            f"{kind} {value[:80]!r} cannot be used in a memory key: it must be at most "
            f"{MAX_ID_LENGTH} characters without '#'"
        )
    return value


def tenant_prefix(tenant_id: str) -> str:
    """The prefix every partition key of a tenant begins with."""
    return f"T#{check_id('tenant_id', tenant_id)}#"


def plan_pk(tenant_id: str, plan_id: str) -> str:
    """The partition of a plan: its record and its working memory."""
    return f"{tenant_prefix(tenant_id)}PLAN#{check_id('plan_id', plan_id)}"


def working_memory_prefix(user_id: str) -> str:
    """The sort-key prefix of one user's working-memory entries in a plan's partition."""
    return f"{WORKING_MEMORY_PREFIX}{check_id('user_id', user_id)}#"


def working_memory_sk(user_id: str, key: str) -> str:
    """The sort key of one working-memory entry: the user is part of it, so a user's writes
    can only ever reach that user's entries (no read of the plan is needed to enforce it)."""
    if not isinstance(key, str) or not key:
        raise InvalidMemoryIdError(f"a working-memory key must be a non-empty string, got {key!r}")
    return f"{working_memory_prefix(user_id)}{key}"


def actions_count_sk(user_id: str) -> str:
    """The sort key of a user's action-history counter in a plan's partition. It is outside
    `WM#`, the user's key space: no working-memory key can reach the history."""
    return f"ACTIONS#{check_id('user_id', user_id)}"


def action_prefix(user_id: str) -> str:
    """The sort-key prefix of a user's recorded actions in a plan's partition."""
    return f"ACTION#{check_id('user_id', user_id)}#"


def action_sk(user_id: str, number: int) -> str:
    """The sort key of the `number`-th action (1-based, zero-padded: sorts in order)."""
    return f"{action_prefix(user_id)}{number:010d}"


REPLY_PREFIX = "REPLY#"


def reply_sk(index: int) -> str:
    """The sort key of the reply to a group's `index`-th request (0-based, in delegation order)."""
    return f"{REPLY_PREFIX}{index:08d}"


def session_pk(tenant_id: str, session_id: str) -> str:
    """The partition of a session record."""
    return f"{tenant_prefix(tenant_id)}SESSION#{check_id('session_id', session_id)}"


def task_pk(tenant_id: str, agent: str, task_id: str) -> str:
    """The partition of a task context (a group of delegated sub-requests) of one agent.

    The agent is part of the key: two agents handling the same event (whose id is the task id)
    have two groups, never one.
    """
    return (
        f"{tenant_prefix(tenant_id)}TASK#{check_id('agent', agent)}#{check_id('task_id', task_id)}"
    )


def request_pk(tenant_id: str, request_id: str) -> str:
    """The partition of the pointer from a sub-request id to its task context."""
    return f"{tenant_prefix(tenant_id)}REQUEST#{check_id('request_id', request_id)}"


def episodes_pk(tenant_id: str, user_id: str) -> str:
    """The partition of a user's episodic memory (every agent's interactions with the user)."""
    return f"{tenant_prefix(tenant_id)}USER#{check_id('user_id', user_id)}#EPISODES"


def episode_sk(agent_id: str, at: str, interaction_id: str) -> str:
    """The sort key of one interaction: by agent, then time."""
    return f"{check_id('agent_id', agent_id)}#{at}#{interaction_id}"


#: The user of work whose events name none (`soorma.memory.scope.DEFAULT_USER`).
OWNERLESS_USER = "anonymous"
#: User-less plans and sessions are spread over this many `by_owner` partitions (by id), so a
#: tenant's user-less work never shares one index partition (1,000 writes/s each on AWS).
OWNERLESS_SHARDS = 8


def owner_pk(tenant_id: str, user_id: str, item_id: str) -> str:
    """The `by_owner` index partition of a plan or session (`item_id`): the user's own, or for
    user-less work one of `OWNERLESS_SHARDS`, chosen by the id."""
    owner = f"{tenant_prefix(tenant_id)}USER#{check_id('user_id', user_id)}"
    if user_id != OWNERLESS_USER:
        return owner
    shard = int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:4], "big") % OWNERLESS_SHARDS
    return f"{owner}#S{shard}"


def owner_pks(tenant_id: str, user_id: str) -> list[str]:
    """Every `by_owner` partition of a user's plans and sessions (what a listing queries)."""
    owner = f"{tenant_prefix(tenant_id)}USER#{check_id('user_id', user_id)}"
    if user_id != OWNERLESS_USER:
        return [owner]
    return [f"{owner}#S{shard}" for shard in range(OWNERLESS_SHARDS)]


def plan_owner_sk(status: str, created_at: str, plan_id: str) -> str:
    """`by_owner` sort key of a plan: status first, so plans can be listed by status."""
    return f"PLAN#{status}#{created_at}#{plan_id}"


def session_owner_sk(created_at: str, session_id: str) -> str:
    """`by_owner` sort key of a session."""
    return f"SESSION#{created_at}#{session_id}"


#: Open plans are spread over this many `by_progress` partitions (by plan partition), so that
#: every plan's step writes to one of 16 index partitions, never to one hot partition.
OPEN_SHARDS = 16
#: `open_sk` of a plan the stall sweep reported: sorts after every time (digits), so a sweep's
#: `open_sk < cutoff` never reads it again until the plan progresses.
STALLED_PREFIX = "STALLED#"


def open_pk(item_pk: str) -> str:
    """The `by_progress` partition of an open plan (by its partition key)."""
    shard = int.from_bytes(hashlib.sha256(item_pk.encode()).digest()[:4], "big") % OPEN_SHARDS
    return f"OPEN#{shard:02d}"


def open_pks() -> list[str]:
    """Every `by_progress` partition (what the stall sweep queries)."""
    return [f"OPEN#{shard:02d}" for shard in range(OPEN_SHARDS)]
