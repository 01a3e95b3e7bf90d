"""`TaskContext`: a worker's task, its delegated sub-requests, and the fan-in of their replies.

```python
@worker.on_task("order.fulfil")
async def fulfil(event, context):
    task = TaskContext.for_context(context)
    await task.delegate_parallel([
        ("inventory.reserve", {"sku": "A"}, "inventory.reserved"),
        ("payment.charge", {"amount": 10}, "payment.charged"),
    ])

@worker.on_result()
async def gathered(event, context):
    task = await TaskContext.restore(context)         # from the reply's causation id
    if task and (await task.record_result()).complete:   # exactly once, when all are in
        await task.complete({"results": task.results_by_type()})   # {type: [data, ...]}
```

A sub-request that never replies leaves its task waiting: `TaskContext.load(context, task_id)`
then `task.fail("timed out")` ends it (the requester gets the failure reply); replies that come
later are recorded as late and never complete it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from soorma.context import PlatformContext
from soorma.memory.client import MemoryClient
from soorma.memory.table import ConditionFailed, Item
from soorma.workflows import fanin
from soorma.workflows.fanin import Delegation, FanIn, SubResult
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import NotFoundError
from soorma_common.topics import EventTopic


def parent_of(request: EventEnvelope) -> dict[str, Any]:
    """What a later reply to `request` needs: its id, source, type, reply address and
    correlation."""
    return {
        "request_id": request.id,
        "source": request.source,
        "event_type": request.type,
        "response_event": request.response_event,
        "response_topic": None if request.response_topic is None else request.response_topic.value,
        "reply_to": request.reply_to,
        "correlation_id": request.correlation_id,
    }


def reply_to_parent(context: PlatformContext, parent: Mapping[str, Any], data: Any) -> str | None:
    """Reply to the request a task or plan was working on (None when it wants no reply).

    The reply's `causation_id` is that request's id, so its requester can match it. Its
    correlation id is the handled event's (the trust rule): the request's own when the reply
    is sent within its workflow, the resuming event's when a paused plan is resumed from outside.
    """
    response_event = parent.get("response_event")
    if not response_event:
        return None
    return context.bus.respond(
        response_event,
        data,
        correlation_id=context.event.correlation_id,
        topic=parent.get("response_topic") or EventTopic.ACTION_RESULTS,
        reply_to=parent.get("reply_to"),
        causation_id=parent["request_id"],
    )


class TaskContext:
    """The task of the handled request (`for_context`) or of a reply (`restore`)."""

    def __init__(
        self,
        context: PlatformContext,
        task_id: str,
        group: Item | None = None,
        *,
        request: Item | None = None,
    ) -> None:
        self.context = context
        self.task_id = task_id
        self._group = group
        self._parent: dict[str, Any] | None = None
        self._request = request
        self._fan_in: FanIn | None = None
        self._results: dict[str, SubResult] | None = None

    @property
    def memory(self) -> MemoryClient:
        """The handled event's memory."""
        return self.context.memory

    @classmethod
    def for_context(cls, context: PlatformContext) -> TaskContext:
        """A task for the request being handled (its id is the request's id); no I/O yet.

        The task belongs to the handling agent: two agents handling the same event have two
        tasks (stored apart), each with its own fan-in.
        """
        return cls(context, context.event.id)

    @classmethod
    async def restore(cls, context: PlatformContext) -> TaskContext | None:
        """The task a reply belongs to (found by its `causation_id`), or None if it is not ours."""
        memory, agent = context.memory, context.agent.name
        request = fanin.find_request(memory, agent, context.event.causation_id)
        group = None if request is None else fanin.get_group(memory, agent, request["task_id"])
        if group is None or group.get("plan_id"):
            return None
        return cls(context, group["task_id"], group, request=request)

    @classmethod
    async def load(cls, context: PlatformContext, task_id: str) -> TaskContext:
        """A task of the handling agent by id (e.g. to fail a stuck one from another event)."""
        group = fanin.get_group(context.memory, context.agent.name, task_id)
        if group is None or group.get("plan_id"):
            raise NotFoundError(
                f"agent {context.agent.name!r} has no task {task_id!r} for this tenant and user"
            )
        return cls(context, task_id, group)

    @property
    def parent(self) -> dict[str, Any]:
        """The request this task works on (id, type, response_event, reply_to, correlation)."""
        if self._group is not None:
            return dict(self._group.get("parent") or {})
        if self._parent is not None:
            return dict(self._parent)
        return parent_of(self.context.event)

    @property
    def results(self) -> dict[str, SubResult]:
        """The replies recorded so far, by request id, in delegation order (read once, with one
        Query, and again after each `record_result`)."""
        if self._group is None:
            return {}
        if self._results is None:
            self._results = fanin.results_of(self.memory, self._group)
        return self._results

    def results_by_type(self) -> dict[str, list[Any]]:
        """The replies' data by reply event type, each a list in delegation order:
        `{"part.done": [{...}, {...}], "payment.charged": [{...}]}` (no reply is dropped when
        several sub-requests reply with the same type)."""
        by_type: dict[str, list[Any]] = {}
        for result in self.results.values():
            by_type.setdefault(result.event_type, []).append(result.data)
        return by_type

    async def delegate(
        self, event_type: str, data: Any, response_event: str, *, timeout: float | None = None
    ) -> str:
        """Ask another agent for `event_type`; its reply comes back to `on_result`."""
        delegation = Delegation(event_type, data, response_event)
        (request_id,) = await self.delegate_parallel([delegation], timeout=timeout)
        return request_id

    async def delegate_parallel(
        self,
        delegations: Iterable[Delegation | Mapping[str, Any] | Sequence[Any]],
        *,
        timeout: float | None = None,
    ) -> list[str]:
        """Ask for several sub-requests at once; `record_result` says when all replies are in.
        With `timeout`, a sub-request not answered in time counts as answered with the timeout
        reply (`{"success": false, "error": "timeout"}`): the group completes at the deadline."""
        ids = fanin.delegate(
            self.memory,
            self.context.bus,
            self.task_id,
            delegations,
            parent=self.parent,
            agent=self.context.agent.name,
            created_by=self.context.event.id,
            timeout=timeout,
        )
        self._parent = self.parent  # the group is read again; its request stays the same
        self._group = None
        return ids

    async def record_result(self, event: EventEnvelope | None = None) -> FanIn:
        """Record the reply being handled; `.complete` is True exactly once, for the last one."""
        if self._group is None:
            raise NotFoundError(f"task {self.task_id!r} has no delegated requests to record into")
        self._fan_in = fanin.record(
            self.memory, self._group, event or self.context.event, pointer=self._request
        )
        self._group = self._fan_in.group
        self._results = None
        return self._fan_in

    async def complete(self, result: Any = None) -> str | None:
        """Reply to the task's requester with `result` and publish `task.completed`."""
        reply = reply_to_parent(self.context, self.parent, result)
        self._lifecycle("task.completed", {"result": result})
        if self._group is not None:
            fanin.set_status(self.memory, self._group, "completed")
        return reply

    async def fail(self, error: str) -> str | None:
        """Reply `{"success": false, "error": ...}` to the requester and publish `task.failed`.

        Also the way to end a stuck task (a sub-request that never replies): the task is closed,
        so replies that arrive later are recorded as late and never complete it.
        """
        reply = reply_to_parent(self.context, self.parent, {"success": False, "error": error})
        self._lifecycle("task.failed", {"error": error})
        if self._group is not None:
            try:
                fanin.close(self.memory, self._group, "failed")
            except ConditionFailed:  # its replies were all in: just mark it
                fanin.set_status(self.memory, self._group, "failed")
        return reply

    def _lifecycle(self, event_type: str, data: dict[str, Any]) -> None:
        self.context.bus.publish(
            EventTopic.TASK_EVENTS,
            event_type,
            {"task_id": self.task_id, "agent": self.context.agent.name, **data},
        )
