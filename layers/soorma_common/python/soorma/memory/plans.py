"""Plans: create, read, list (by owner and status, by session, by parent), update, delete.

A plan is unique per (tenant, plan_id): its key is `T#<tenant>#PLAN#<plan_id>`, created with a
condition that the key is free. Status changes are checked in the same UpdateItem (a condition
on the current status), so two concurrent changes cannot both pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from soorma.memory import keys
from soorma.memory.listing import Listing, Page, Stream, read_page
from soorma.memory.models import ALLOWED_STATUS_CHANGES, Plan, PlanStatus, predecessors
from soorma.memory.progress import open_attributes, progress_update
from soorma.memory.sessions import SessionOperations
from soorma.memory.table import ConditionFailed, Item, now_iso
from soorma.memory.values import JSON_TEXT_SUFFIX, is_storable, with_json_read, with_json_text
from soorma_common.errors import (
    AlreadyExistsError,
    IllegalTransitionError,
    NotFoundError,
    VersionConflictError,
)

_OWNED = "user_id = :user"
#: Goal data holding a number DynamoDB cannot hold is stored as JSON text under this name.
JSON_GOAL = "goal_data" + JSON_TEXT_SUFFIX


def plan_from_item(item: Item) -> Plan:
    """A `Plan` from its table item (goal data stored as a value or as JSON text)."""
    return Plan.model_validate(with_json_read(item, "goal_data"))


class PlanOperations(SessionOperations):
    """Plan calls of `MemoryClient`."""

    async def create_plan(
        self,
        first: str | None = None,
        data: Any = None,
        /,
        *,
        goal_event: str | None = None,
        goal: str | None = None,
        goal_data: Any = None,
        plan_id: str | None = None,
        session_id: str | None = None,
        parent_plan_id: str | None = None,
        state: str | None = None,
        context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
    ) -> Plan:
        """Create a running plan. `plan_id` defaults to a new UUID; it must be unique in the tenant.

        The goal is an event type: `create_plan("research.market", data, plan_id=...)`, or in the
        Design Patterns document's forms `create_plan(goal_event=..., goal_data=...)` and
        `create_plan(plan_id, goal="research.market")`: when the goal is given by keyword, a
        positional first argument is the plan id.

        Creating the same plan again (same id, user, goal and data: a retried handler) returns
        the existing plan; any other reuse of the id raises `AlreadyExistsError`. A `session_id`
        must name an existing session of this user; its `last_interaction` is updated.
        """
        self.scope.check(tenant_id, user_id)
        goal_event, plan_id = _goal_and_id(first, goal_event, goal, plan_id)
        goal_data = _one("goal data", data, goal_data)
        plan_id = keys.check_id("plan_id", plan_id or str(uuid.uuid4()))
        if session_id is not None:
            await self.touch_session(session_id)
        now = now_iso()
        status = PlanStatus.RUNNING
        item: dict[str, Any] = {
            "pk": keys.plan_pk(self.tenant_id, plan_id),
            "sk": keys.META,
            **self.item_stamp("plan"),
            "plan_id": plan_id,
            "session_id": session_id,
            "goal_event": goal_event,
            "goal_data": goal_data,
            "status": status.value,
            "parent_plan_id": parent_plan_id,
            "state": state,
            "context": dict(context or {}),
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "owner_pk": keys.owner_pk(self.tenant_id, self.user_id, plan_id),
            "owner_sk": keys.plan_owner_sk(status.value, now, plan_id),
            **open_attributes(keys.plan_pk(self.tenant_id, plan_id), now),
        }
        if session_id is not None:
            item["session_pk"] = keys.session_pk(self.tenant_id, session_id)
            item["session_sk"] = f"{now}#{plan_id}"
        if parent_plan_id is not None:
            item["parent_pk"] = keys.plan_pk(self.tenant_id, parent_plan_id)
            item["parent_sk"] = f"{now}#{plan_id}"
        if not is_storable(goal_data):  # a number DynamoDB cannot hold: kept as JSON text
            item = with_json_text(item, "goal_data")
        try:
            self._table().put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed as failed:
            existing = with_json_read(failed.current or {}, "goal_data")
            same = (
                existing.get("user_id") == self.user_id
                and existing.get("goal_event") == goal_event
                and existing.get("goal_data") == goal_data
            )
            if same:
                return plan_from_item(existing)
            raise AlreadyExistsError(
                f"plan {plan_id!r} already exists in tenant {self.tenant_id!r}; plan ids are "
                "unique per tenant: choose another id or leave plan_id out"
            ) from None
        return plan_from_item(item)

    async def get_plan(self, plan_id: str, *, tenant_id: str | None = None) -> Plan | None:
        """The plan, or None when this tenant and user have no plan with that id."""
        self.scope.check(tenant_id)
        item = self._table().get(keys.plan_pk(self.tenant_id, plan_id), keys.META)
        if item is None or item.get("user_id") != self.user_id:
            return None
        return plan_from_item(item)

    async def list_plans(
        self,
        *,
        session_id: str | None = None,
        parent_plan_id: str | None = None,
        status: PlanStatus | str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
    ) -> Page[Plan]:
        """This user's plans: of a session, or children of a plan, or all; optionally by status.
        A page of at most `limit` (1 to 1,000) with its `cursor` for the next page (None at the
        end); pass the cursor back with the same arguments.

        Of a session or of a parent: oldest created first (the `by_session` / `by_parent`
        index). Otherwise newest status change first: the `by_owner` index, whose sort key
        starts with the status, one Query per status (and per shard for user-less work) merged.
        Plans are read from the table itself, so each shows its current state.
        """
        self.scope.check(tenant_id, user_id)
        wanted = None if status is None else PlanStatus(status).value
        listing = self._plan_listing(session_id, parent_plan_id, wanted)

        def keep(item: Item) -> bool:
            return (
                item.get("user_id") == self.user_id
                and item.get("sk") == keys.META
                and (wanted is None or item.get("status") == wanted)
                and (parent_plan_id is None or item.get("parent_plan_id") == parent_plan_id)
                and (session_id is None or item.get("session_id") == session_id)
            )

        found, after = read_page(self._table(), listing, limit=limit, cursor=cursor, keep=keep)
        return Page([plan_from_item(i) for i in found], after)

    def _plan_listing(
        self, session_id: str | None, parent_plan_id: str | None, wanted: str | None
    ) -> Listing:
        values: dict[str, Any] = {":user": self.user_id}
        names: dict[str, str] = {}
        filters = [_OWNED]
        if wanted is not None:
            filters.append("#status = :status")
            values[":status"] = wanted
            names["#status"] = "status"
        if session_id is not None or parent_plan_id is not None:
            if session_id is not None:
                group = keys.session_pk(self.tenant_id, session_id)
                index, key_name, sort_name = "by_session", "session_pk", "session_sk"
                if parent_plan_id is not None:
                    filters.append("parent_plan_id = :parent")
                    values[":parent"] = parent_plan_id
            else:
                assert parent_plan_id is not None
                group = keys.plan_pk(self.tenant_id, parent_plan_id)
                index, key_name, sort_name = "by_parent", "parent_pk", "parent_sk"
            return Listing(
                index,
                key_name,
                sort_name,
                [Stream("group", group)],
                filter_expression=" AND ".join(filters),
                values=values,
                names=names or None,
            )
        statuses = [wanted] if wanted is not None else [s.value for s in PlanStatus]
        streams = [
            Stream(f"{owner}|{each}", owner, f"PLAN#{each}#")
            for owner in keys.owner_pks(self.tenant_id, self.user_id)
            for each in statuses
        ]
        return Listing(
            "by_owner", "owner_pk", "owner_sk", streams, newest_first=True, order=_status_changed
        )

    async def update_plan(
        self,
        plan_id: str,
        *,
        status: PlanStatus | str | None = None,
        state: str | None = None,
        goal_data: Any = None,
        context: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
        expected_state: str | None = None,
        expected_status: PlanStatus | None = None,
        tenant_id: str | None = None,
    ) -> Plan:
        """Change a plan in one conditional UpdateItem; returns the plan as updated.

        A status change must be allowed (running -> completed | failed | paused, paused ->
        running) or `IllegalTransitionError` names both states. `expected_version` /
        `expected_state` / `expected_status` make it a compare-and-set (`VersionConflictError`
        when they no longer hold). Another user's or tenant's plan is `NotFoundError`.
        """
        self.scope.check(tenant_id)
        now = now_iso()
        sets = ["updated_at = :now"]
        values: dict[str, Any] = {":now": now, ":user": self.user_id, ":one": 1}
        names: dict[str, str] = {}
        conditions = ["attribute_exists(pk)", _OWNED]
        removes: list[str] = []
        target = None if status is None else PlanStatus(status)
        if target is not None:
            names["#status"] = "status"
            sets += ["#status = :status", "owner_sk = :owner_sk"]
            values[":status"] = target.value
            values[":owner_sk"] = keys.plan_owner_sk(target.value, now, plan_id)
            allowed = predecessors(target)
            placeholders = []
            for n, previous in enumerate(allowed):
                values[f":from{n}"] = previous.value
                placeholders.append(f":from{n}")
            conditions.append(f"#status IN ({', '.join(placeholders)})")
        if state is not None:
            names["#state"] = "state"
            sets.append("#state = :state")
            values[":state"] = state
        if goal_data is not None:  # a value, or JSON text if it holds a number DynamoDB cannot
            stored = {"goal_data": goal_data}
            if not is_storable(goal_data):
                stored = with_json_text(stored, "goal_data")
            [(name, values[":goal_data"])] = stored.items()
            sets.append(f"{name} = :goal_data")
            removes.append(JSON_GOAL if name == "goal_data" else "goal_data")
        if context is not None:
            names["#context"] = "context"
            sets.append("#context = :context")
            values[":context"] = dict(context)
        if expected_version is not None:
            conditions.append("version = :expected_version")
            values[":expected_version"] = expected_version
        if expected_state is not None:
            names["#state"] = "state"
            conditions.append("#state = :expected_state")
            values[":expected_state"] = expected_state
        if expected_status is not None:
            names["#status"] = "status"
            conditions.append("#status = :expected_status")
            values[":expected_status"] = expected_status.value
        pk = keys.plan_pk(self.tenant_id, plan_id)
        # The open-work index (`soorma.memory.progress`) in the same write: a running plan
        # records its progress, an ended or paused one leaves the index.
        progress = progress_update(
            pk, now, still_open=None if target is None else target is PlanStatus.RUNNING
        )
        progress.removes += removes
        values.update(progress.values)
        try:
            item = self._table().update(
                pk,
                keys.META,
                progress.expression(sets, "ADD version :one"),
                names=names or None,
                values=values,
                condition=" AND ".join(conditions),
            )
        except ConditionFailed as failed:
            explained = self._explain(
                plan_id, failed.current, target, expected_version, expected_state, expected_status
            )
            raise explained from None
        return plan_from_item(item)

    async def set_plan_status(self, plan_id: str, status: PlanStatus | str) -> Plan:
        """Move a plan to `status` (checked; see `update_plan`)."""
        return await self.update_plan(plan_id, status=status)

    async def delete_plan(self, plan_id: str) -> int:
        """Delete a plan and its working memory; returns the number of items deleted."""
        pk = keys.plan_pk(self.tenant_id, plan_id)
        found = self._table().query(
            "pk = :pk",
            values={":pk": pk, ":user": self.user_id},
            filter_expression=_OWNED,
            projection="pk, sk",
        )
        return self._table().delete_many([(i["pk"], i["sk"]) for i in found])

    def _explain(
        self,
        plan_id: str,
        current: Item | None,
        target: PlanStatus | None,
        expected_version: int | None,
        expected_state: str | None,
        expected_status: PlanStatus | None = None,
    ) -> Exception:
        if current is None or current.get("user_id") != self.user_id:
            return NotFoundError(
                f"no plan {plan_id!r} for user {self.user_id!r} in tenant {self.tenant_id!r}"
            )
        status = PlanStatus(current["status"])
        if target is not None and target not in predecessors_of(status):
            allowed = ", ".join(sorted(s.value for s in ALLOWED_STATUS_CHANGES[status])) or "none"
            return IllegalTransitionError(
                f"plan {plan_id!r}: illegal transition {status.value} -> {target.value} "
                f"(allowed from {status.value}: {allowed})"
            )
        if expected_status is not None and status is not expected_status:
            return VersionConflictError(
                f"plan {plan_id!r} is {status.value}, expected {expected_status.value}; it was "
                "changed concurrently: read it again"
            )
        if expected_state is not None and current.get("state") != expected_state:
            return VersionConflictError(
                f"plan {plan_id!r} is in state {current.get('state')!r}, expected "
                f"{expected_state!r}; it was changed concurrently: read it again"
            )
        return VersionConflictError(
            f"plan {plan_id!r} is at version {current.get('version')}, expected "
            f"{expected_version}; it was changed concurrently: read it again and retry"
        )


def _goal_and_id(
    first: str | None, goal_event: str | None, goal: str | None, plan_id: str | None
) -> tuple[str, str | None]:
    """The goal event and plan id of `create_plan`'s forms (see its docstring)."""
    named = _one("goal (goal_event= or goal=)", goal_event, goal)
    if named is None:
        if first is None:
            raise TypeError("create_plan() needs a goal event: create_plan(goal_event, ...)")
        return first, plan_id
    if first is not None and plan_id is not None:
        raise TypeError(
            f"create_plan({first!r}, plan_id={plan_id!r}, ...): with the goal given by keyword "
            "the first argument is the plan id; give the plan id once"
        )
    return named, plan_id if first is None else first


def _one(what: str, positional: Any, keyword: Any) -> Any:
    if positional is not None and keyword is not None:
        raise TypeError(f"create_plan() got the {what} twice")
    return keyword if positional is None else positional


def _status_changed(item: Item) -> tuple[str, str]:
    """When a plan last changed status, and its id (from its `by_owner` sort key)."""
    _, _, changed_at, plan_id = str(item["owner_sk"]).split(keys.SEPARATOR, 3)
    return changed_at, plan_id


def predecessors_of(status: PlanStatus) -> set[PlanStatus]:
    """The statuses a plan in `status` may move to, itself included."""
    return {*ALLOWED_STATUS_CHANGES[status], status}
