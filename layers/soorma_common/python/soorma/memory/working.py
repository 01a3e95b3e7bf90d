"""Plan-scoped working memory: one item per (plan, key), versioned, with TTL.

Every write is a single UpdateItem: `set` (optionally compare-and-set on the version),
`increment` (ADD), `append` (list_append), `update_dict` (SET on map paths). None reads the
item first. Each write bumps `version` and refreshes `expires_at`. Entries belong to the user who
first wrote them; another user of the tenant can neither read nor change them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from soorma.memory import keys
from soorma.memory.models import WorkingMemoryEntry
from soorma.memory.scope import ScopedMemory
from soorma.memory.table import ConditionFailed, Item, now_iso
from soorma_common.errors import TenantIsolationError, VersionConflictError

_OWNER_OK = "(attribute_not_exists(user_id) OR user_id = :user)"
_MAX_MAP_ATTEMPTS = 4


class WorkingMemoryTypeError(TypeError):
    """An atomic operation on an entry of the wrong type (e.g. `increment` on a string)."""


class WorkingMemoryOperations(ScopedMemory):
    """Working-memory calls of `MemoryClient` (every call names the plan)."""

    # ---- reading --------------------------------------------------------------------------

    async def get_entry(self, plan_id: str, key: str) -> WorkingMemoryEntry | None:
        """The entry (value and version), or None."""
        item = self.table.get(keys.plan_pk(self.tenant_id, plan_id), keys.working_memory_sk(key))
        if item is None or item.get("user_id") != self.user_id:
            return None
        return WorkingMemoryEntry(
            plan_id=plan_id,
            key=key,
            value=item.get("value"),
            version=int(item.get("version", 0)),
            updated_at=item.get("updated_at", ""),
        )

    async def get(self, plan_id: str, key: str, default: Any = None) -> Any:
        """The value stored under `key` in the plan's working memory, or `default`."""
        entry = await self.get_entry(plan_id, key)
        return default if entry is None else entry.value

    async def items(self, plan_id: str) -> dict[str, Any]:
        """Every key and value of the plan's working memory (one Query)."""
        return {i["key"]: i.get("value") for i in self._entries(plan_id)}

    def _entries(self, plan_id: str) -> list[Item]:
        return list(
            self.table.query(
                "pk = :pk AND begins_with(sk, :prefix)",
                values={
                    ":pk": keys.plan_pk(self.tenant_id, plan_id),
                    ":prefix": keys.WORKING_MEMORY_PREFIX,
                    ":user": self.user_id,
                },
                filter_expression="user_id = :user",
            )
        )

    # ---- writing --------------------------------------------------------------------------

    async def set(
        self, plan_id: str, key: str, value: Any, *, expected_version: int | None = None
    ) -> int:
        """Store `value`; returns the entry's new version.

        With `expected_version` it is a compare-and-set: it succeeds only if the entry is at that
        version (0 = must not exist yet), else `VersionConflictError` says which version it is.
        """
        condition = _OWNER_OK
        values: dict[str, Any] = {":value": value}
        if expected_version is not None:
            if expected_version == 0:
                condition += " AND attribute_not_exists(version)"
            else:
                condition += " AND version = :expected"
                values[":expected"] = expected_version
        try:
            new = self._update(plan_id, key, "SET #value = :value", values, condition)
        except VersionConflictError as conflict:
            current = conflict.__cause__
            found = (
                current.item.get("version", 0)
                if isinstance(current, _Current) and current.item
                else 0
            )
            raise VersionConflictError(
                f"working memory {key!r} of plan {plan_id!r} is at version {found}, expected "
                f"{expected_version}: it changed since it was read; read it again and retry"
            ) from None
        return int(new["version"])

    async def increment(self, plan_id: str, key: str, by: int | float = 1) -> int | float:
        """Add `by` to a number (missing = 0) atomically; returns the new value."""
        new = self._update(plan_id, key, "ADD #value :by", {":by": by}, _OWNER_OK)
        value: int | float = new["value"]
        return value

    async def append(self, plan_id: str, key: str, *values: Any) -> int:
        """Append values to a list (missing = empty) atomically; returns the list's new length."""
        new = self._update(
            plan_id,
            key,
            "SET #value = list_append(if_not_exists(#value, :empty), :items)",
            {":empty": [], ":items": list(values)},
            _OWNER_OK,
        )
        return len(new["value"])

    async def update_dict(self, plan_id: str, key: str, updates: Mapping[str, Any]) -> None:
        """Set keys of a dict entry (missing = empty) without touching its other keys.

        One UpdateItem on the map's paths when the map exists; when it does not, one conditional
        UpdateItem creates it (if another writer created it first, the path update is retried).
        """
        if not updates:
            return
        path_values: dict[str, Any] = {}
        names: dict[str, str] = {}
        assignments = []
        for n, (field, value) in enumerate(updates.items()):
            names[f"#f{n}"] = str(field)
            path_values[f":v{n}"] = value
            assignments.append(f"#value.#f{n} = :v{n}")
        for _ in range(_MAX_MAP_ATTEMPTS):
            try:
                self._update(
                    plan_id,
                    key,
                    f"SET {', '.join(assignments)}",
                    {**path_values, ":map": "M"},
                    f"{_OWNER_OK} AND attribute_type(#value, :map)",
                    extra_names=names,
                )
                return
            except VersionConflictError as conflict:
                current = conflict.__cause__
                if isinstance(current, _Current) and current.item and "value" in current.item:
                    raise WorkingMemoryTypeError(
                        f"working memory {key!r} of plan {plan_id!r} holds a "
                        f"{type(current.item['value']).__name__}, not a dict"
                    ) from None
            try:
                self._update(
                    plan_id,
                    key,
                    "SET #value = :whole",
                    {":whole": {str(k): v for k, v in updates.items()}},
                    f"{_OWNER_OK} AND attribute_not_exists(#value)",
                )
                return
            except VersionConflictError:
                continue
        raise VersionConflictError(
            f"working memory {key!r} of plan {plan_id!r} kept changing; update_dict gave up"
        )

    async def delete(self, plan_id: str, key: str) -> None:
        """Remove one key from the plan's working memory (no error if absent)."""
        try:
            self.table.delete(
                keys.plan_pk(self.tenant_id, plan_id),
                keys.working_memory_sk(key),
                condition=_OWNER_OK,
                values={":user": self.user_id},
            )
        except ConditionFailed:
            raise self._not_yours(plan_id, key) from None

    async def clear(self, plan_id: str) -> int:
        """Remove every key of the plan's working memory; returns how many were removed."""
        found = self._entries(plan_id)
        return self.table.delete_many([(i["pk"], i["sk"]) for i in found])

    # ---- the one UpdateItem behind every write -------------------------------------------

    def _update(
        self,
        plan_id: str,
        key: str,
        expression: str,
        values: dict[str, Any],
        condition: str,
        *,
        extra_names: Mapping[str, str] | None = None,
    ) -> Item:
        stamp = self.item_stamp("working")
        full = (
            f"{expression}, kind = :kind, tenant_id = :tenant, user_id = :user, plan_id = :plan, "
            "#key = :key, updated_at = :now, expires_at = :expires ADD version :one"
            if expression.startswith("SET")
            else f"{expression}, version :one SET kind = :kind, tenant_id = :tenant, "
            "user_id = :user, plan_id = :plan, #key = :key, updated_at = :now, "
            "expires_at = :expires"
        )
        try:
            return self.table.update(
                keys.plan_pk(self.tenant_id, plan_id),
                keys.working_memory_sk(key),
                full,
                names={"#value": "value", "#key": "key", **(extra_names or {})},
                values={
                    **values,
                    ":kind": stamp["kind"],
                    ":tenant": self.tenant_id,
                    ":user": self.user_id,
                    ":plan": plan_id,
                    ":key": key,
                    ":now": now_iso(),
                    ":expires": self.table.expires_at(),
                    ":one": 1,
                },
                condition=condition,
                returns="ALL_NEW",
            )
        except ConditionFailed as failed:
            current = failed.current
            if current is not None and current.get("user_id") not in (None, self.user_id):
                raise self._not_yours(plan_id, key) from None
            version = None if current is None else current.get("version")
            raise VersionConflictError(
                f"working memory {key!r} of plan {plan_id!r} is at version {version or 0}, "
                f"not the one expected; read it again and retry"
            ) from _Current(current)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationException":
                raise WorkingMemoryTypeError(
                    f"working memory {key!r} of plan {plan_id!r}: {expression.split()[0]} "
                    f"does not fit the stored value ({exc.response['Error'].get('Message')})"
                ) from None
            raise

    def _not_yours(self, plan_id: str, key: str) -> TenantIsolationError:
        return TenantIsolationError(
            f"working memory {key!r} of plan {plan_id!r} belongs to another user; user "
            f"{self.user_id!r} may not change it"
        )


class _Current(Exception):
    """Carries the item a failed condition saw (as the cause of a `VersionConflictError`)."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("current item")
        self.item = item
