"""Sessions: optional groups of plans, unique per (tenant, session_id), holding no data."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from soorma.memory import keys
from soorma.memory.listing import Listing, Page, Stream, read_page
from soorma.memory.models import Session
from soorma.memory.scope import ScopedMemory
from soorma.memory.table import ConditionFailed, Item, now_iso
from soorma_common.errors import AlreadyExistsError, NotFoundError


class SessionOperations(ScopedMemory):
    """Session calls of `MemoryClient`."""

    async def create_session(
        self,
        session_id: str | None = None,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
    ) -> Session:
        """Create a session (id defaults to a new UUID; unique in the tenant).

        Creating the same session again for the same user returns it (a retried handler);
        an id taken by another user raises `AlreadyExistsError`.
        """
        self.scope.check(tenant_id, user_id)
        session_id = keys.check_id("session_id", session_id or str(uuid.uuid4()))
        now = now_iso()
        item = {
            "pk": keys.session_pk(self.tenant_id, session_id),
            "sk": keys.META,
            **self.item_stamp("session"),
            "session_id": session_id,
            "name": name,
            "metadata": dict(metadata or {}),
            "last_interaction": now,
            "created_at": now,
            "owner_pk": keys.owner_pk(self.tenant_id, self.user_id, session_id),
            "owner_sk": keys.session_owner_sk(now, session_id),
        }
        try:
            self._table().put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed as failed:
            if failed.current and failed.current.get("user_id") == self.user_id:
                return Session.model_validate(failed.current)
            raise AlreadyExistsError(
                f"session {session_id!r} already exists in tenant {self.tenant_id!r}; session "
                "ids are unique per tenant: choose another id or leave session_id out"
            ) from None
        return Session.model_validate(item)

    async def get_session(self, session_id: str, *, tenant_id: str | None = None) -> Session | None:
        """The session, or None when this tenant and user have none with that id."""
        self.scope.check(tenant_id)
        item = self._table().get(keys.session_pk(self.tenant_id, session_id), keys.META)
        if item is None or item.get("user_id") != self.user_id:
            return None
        return Session.model_validate(item)

    async def list_sessions(self, *, limit: int = 100, cursor: str | None = None) -> Page[Session]:
        """This user's sessions, newest first: a page of at most `limit` (1 to 1,000) and its
        `cursor` for the next page (None at the end)."""
        streams = [
            Stream(owner, owner, "SESSION#")
            for owner in keys.owner_pks(self.tenant_id, self.user_id)
        ]
        listing = Listing("by_owner", "owner_pk", "owner_sk", streams, newest_first=True)
        found, after = read_page(
            self._table(), listing, limit=limit, cursor=cursor, keep=self._owns
        )
        return Page([Session.model_validate(i) for i in found], after)

    def _owns(self, item: Item) -> bool:
        return item.get("user_id") == self.user_id

    async def update_session(
        self,
        session_id: str,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        """Change a session's name or metadata (and its `last_interaction`)."""
        sets = ["last_interaction = :now"]
        values: dict[str, Any] = {":now": now_iso(), ":user": self.user_id}
        names: dict[str, str] = {}
        if name is not None:
            sets.append("#name = :name")
            names["#name"] = "name"
            values[":name"] = name
        if metadata is not None:
            sets.append("metadata = :metadata")
            values[":metadata"] = dict(metadata)
        try:
            item = self._table().update(
                keys.session_pk(self.tenant_id, session_id),
                keys.META,
                f"SET {', '.join(sets)}",
                names=names or None,
                values=values,
                condition="attribute_exists(pk) AND user_id = :user",
            )
        except ConditionFailed:
            raise self._missing(session_id) from None
        return Session.model_validate(item)

    async def touch_session(self, session_id: str) -> Session:
        """Set a session's `last_interaction` to now (`NotFoundError` if it does not exist)."""
        return await self.update_session(session_id)

    async def delete_session(self, session_id: str) -> None:
        """Delete a session record (its plans stay; they are not data of the session)."""
        try:
            self._table().delete(
                keys.session_pk(self.tenant_id, session_id),
                keys.META,
                condition="attribute_exists(pk) AND user_id = :user",
                values={":user": self.user_id},
            )
        except ConditionFailed:
            raise self._missing(session_id) from None

    def _missing(self, session_id: str) -> NotFoundError:
        return NotFoundError(
            f"no session {session_id!r} for user {self.user_id!r} in tenant {self.tenant_id!r}; "
            "create it with create_session() first"
        )
