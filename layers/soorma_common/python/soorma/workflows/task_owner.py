"""A task belongs to one request: its source and id, not its id alone.

A worker's task is named by the id of the request it works on (`TaskContext.for_context`), and
CloudEvents makes ids unique per source only. When a request from another source arrives with
the id of a request whose task exists, joining that task would send its result to the first
requester: it is refused instead (`AlreadyExistsError`, dead-lettered), naming both sources.
Groups stored before requests' sources were recorded (`parent.source`) are joined as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soorma_common.errors import AlreadyExistsError


def refuse_another_source(
    group: Mapping[str, Any], parent: Mapping[str, Any], agent: str, group_id: str
) -> None:
    """Raise `AlreadyExistsError` when the stored `group` works on a request from another
    source than `parent` (the request now delegating into it)."""
    owner, source = (group.get("parent") or {}).get("source"), parent.get("source")
    if owner and source and owner != source:
        raise AlreadyExistsError(
            f"agent {agent!r} has a task {group_id!r} for a request from {owner!r}; the request "
            f"from {source!r} with the same id cannot join it (CloudEvents ids are unique per "
            "source only): outside producers must give their requests unique ids (UUIDs)"
        )
