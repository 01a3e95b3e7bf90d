"""Plan-scoped working memory: one item per (plan, key), versioned, with TTL.

Every write is a single UpdateItem: `set` (optionally compare-and-set on the version),
`increment` (ADD), `append` (list_append), `update_dict` (SET on map paths). None reads the
item first. Each write bumps `version` and refreshes `expires_at`.

The user is part of an entry's key (`WM#<user>#<key>` in the plan's partition), so a user can
only ever read or write their own entries of a plan: another user of the tenant who uses the
same plan id and key writes to an entry of their own, which the plan's owner never sees and
which cannot block the owner's writes. Proving that the caller owns the plan on every write
would take a read (or a transaction) per write; the key makes it unnecessary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from soorma.memory import keys
from soorma.memory.models import WorkingMemoryEntry
from soorma.memory.scope import ScopedMemory
from soorma.memory.table import ConditionFailed, Item, now_iso
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.errors import VersionConflictError

_MAX_MAP_ATTEMPTS = 4


class WorkingMemoryTypeError(TypeError):
    """An atomic operation on an entry of the wrong type (e.g. `increment` on a string)."""


class WorkingMemoryOperations(ScopedMemory):
    """Working-memory calls of `MemoryClient` (every call names the plan)."""

    # ---- reading --------------------------------------------------------------------------

    async def get_entry(self, plan_id: str, key: str) -> WorkingMemoryEntry | None:
        """The entry (value and version), or None."""
        item = self._table().get(
            keys.plan_pk(self.tenant_id, plan_id), keys.working_memory_sk(self.user_id, key)
        )
        if item is None:
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
            self._table().query(
                "pk = :pk AND begins_with(sk, :prefix)",
                values={
                    ":pk": keys.plan_pk(self.tenant_id, plan_id),
                    ":prefix": keys.working_memory_prefix(self.user_id),
                },
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
        condition = None
        values: dict[str, Any] = {":value": value}
        if expected_version is not None:
            if expected_version == 0:
                condition = "attribute_not_exists(version)"
            else:
                condition = "version = :expected"
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

    async def increment(self, plan_id: str, key: str, delta: int | float = 1) -> int | float:
        """Add `delta` to a number (missing = 0) atomically; returns the new value."""
        new = self._update(plan_id, key, "ADD #value :by", {":by": delta})
        value: int | float = new["value"]
        return value

    async def append(self, plan_id: str, key: str, *values: Any) -> int:
        """Append values to a list (missing = empty) atomically; returns the list's new length."""
        return len(await self.extend(plan_id, key, values))

    async def extend(self, plan_id: str, key: str, values: Iterable[Any]) -> list[Any]:
        """Append every value of `values` to a list (missing = empty) atomically; returns the
        list as it is now."""
        new = self._update(
            plan_id,
            key,
            "SET #value = list_append(if_not_exists(#value, :empty), :items)",
            {":empty": [], ":items": list(values)},
        )
        return list(new["value"])

    async def update_dict(
        self, plan_id: str, key: str, updates: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Set keys of a dict entry (missing = empty) without touching its other keys.

        One UpdateItem on the map's paths when the map exists; when it does not, one conditional
        UpdateItem creates it (if another writer created it first, the path update is retried).
        Returns the dict as it is now.
        """
        if not updates:
            return dict(await self.get(plan_id, key, {}) or {})
        path_values: dict[str, Any] = {}
        names: dict[str, str] = {}
        assignments = []
        for n, (field, value) in enumerate(updates.items()):
            names[f"#f{n}"] = str(field)
            path_values[f":v{n}"] = value
            assignments.append(f"#value.#f{n} = :v{n}")
        for _ in range(_MAX_MAP_ATTEMPTS):
            try:
                new = self._update(
                    plan_id,
                    key,
                    f"SET {', '.join(assignments)}",
                    {**path_values, ":map": "M"},
                    "attribute_type(#value, :map)",
                    extra_names=names,
                )
                return dict(new["value"])
            except VersionConflictError as conflict:
                current = conflict.__cause__
                if isinstance(current, _Current) and current.item and "value" in current.item:
                    raise WorkingMemoryTypeError(
                        f"working memory {key!r} of plan {plan_id!r} holds a "
                        f"{type(current.item['value']).__name__}, not a dict"
                    ) from None
            try:
                new = self._update(
                    plan_id,
                    key,
                    "SET #value = :whole",
                    {":whole": {str(k): v for k, v in updates.items()}},
                    "attribute_not_exists(#value)",
                )
                return dict(new["value"])
            except VersionConflictError:
                continue
        raise VersionConflictError(
            f"working memory {key!r} of plan {plan_id!r} kept changing; update_dict gave up"
        )

    async def delete(self, plan_id: str, key: str) -> bool:
        """Remove one key from the plan's working memory; True if it was there (one DeleteItem)."""
        return self._table().delete(
            keys.plan_pk(self.tenant_id, plan_id),
            keys.working_memory_sk(self.user_id, key),
            returns_old=True,
        )

    async def clear(self, plan_id: str) -> int:
        """Remove every key of the plan's working memory; returns how many were removed."""
        found = self._entries(plan_id)
        return self._table().delete_many([(i["pk"], i["sk"]) for i in found])

    # ---- the one UpdateItem behind every write -------------------------------------------

    def _update(
        self,
        plan_id: str,
        key: str,
        expression: str,
        values: dict[str, Any],
        condition: str | None = None,
        *,
        extra_names: Mapping[str, str] | None = None,
    ) -> Item:
        stamp = self.item_stamp("working")
        pk, sk = keys.plan_pk(self.tenant_id, plan_id), keys.working_memory_sk(self.user_id, key)
        self._table().check(
            {"pk": pk, "sk": sk, **stamp, "plan_id": plan_id, "key": key, **values},
            what=f"working memory {key!r} of plan {plan_id!r}",
        )
        full = (
            f"{expression}, kind = :kind, tenant_id = :tenant, user_id = :user, plan_id = :plan, "
            f"#key = :key, updated_at = :now, {TTL_ATTRIBUTE} = :expires ADD version :one"
            if expression.startswith("SET")
            else f"{expression}, version :one SET kind = :kind, tenant_id = :tenant, "
            "user_id = :user, plan_id = :plan, #key = :key, updated_at = :now, "
            f"{TTL_ATTRIBUTE} = :expires"
        )
        try:
            return self._table().update(
                pk,
                sk,
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
                    ":expires": self._table().expires_at(),
                    ":one": 1,
                },
                condition=condition,
                returns="ALL_NEW",
            )
        except ConditionFailed as failed:
            current = failed.current
            version = None if current is None else current.get("version")
            raise VersionConflictError(
                f"working memory {key!r} of plan {plan_id!r} is at version {version or 0}, "
                f"not the one expected; read it again and retry"
            ) from _Current(current)
        except Exception as exc:
            # botocore is loaded by now (the call went through it); importing it at module level
            # would put it on every cold start.
            from botocore.exceptions import ClientError

            if not isinstance(exc, ClientError):
                raise
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationException":
                raise WorkingMemoryTypeError(
                    f"working memory {key!r} of plan {plan_id!r}: {expression.split()[0]} "
                    f"does not fit the stored value ({exc.response['Error'].get('Message')})"
                ) from None
            raise


class _Current(Exception):
    """Carries the item a failed condition saw (as the cause of a `VersionConflictError`)."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("current item")
        self.item = item
