"""The router's scripted model: picks a desk by the ticket's words, as a model would, and fills
the desk's payload from the ticket."""

from __future__ import annotations

import json
from typing import Any

from soorma.ai import ModelRequest

DESKS = {
    "billing-ticket-handle": ("invoice", "refund", "charged"),
    "escalation-requested": ("lawyer", "cancel everything", "third time"),
    "technical-ticket-handle": ("error", "crash", "login"),
}


def answer(request: ModelRequest) -> tuple[str, dict[str, Any]]:
    """One tool call: the desk whose words the ticket uses (escalation wins), with the ticket."""
    ticket = json.loads(request.turns[0].text)  # type: ignore[union-attr]
    text = ticket["text"].lower()
    for tool in ("escalation-requested", "billing-ticket-handle", "technical-ticket-handle"):
        if any(word in text for word in DESKS[tool]):
            return tool, {"ticket_id": ticket["ticket_id"], "summary": ticket["text"][:80]}
    return "technical-ticket-handle", {"ticket_id": ticket["ticket_id"], "summary": text[:80]}
