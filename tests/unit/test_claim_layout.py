"""The claim item's key and `data` are what Powertools idempotency derived and wrote (earlier
runtimes' claims are found, `soorma.outbox` budgets the stored size), for any key and events."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from soorma.outbox import stored_size
from soorma.runtime.claims import claim_key, item_id, stored_data


@given(st.text())
def test_the_item_id_is_powertools_key_of_the_claim(key: str) -> None:
    payload = json.dumps({"key": key}, sort_keys=True).encode()  # Powertools' hashed payload
    expected = f"fn.soorma.runtime.claims._run_work#{hashlib.md5(payload).hexdigest()}"
    assert item_id(key, "fn") == expected


@given(st.lists(st.text()) | st.lists(st.dictionaries(st.text(), st.integers())))
def test_the_stored_data_is_powertools_serialisation(events: list) -> None:  # type: ignore[type-arg]
    assert stored_data(events) == json.dumps(events, sort_keys=True)


@given(st.lists(st.binary(max_size=300), max_size=5))
def test_the_stored_size_the_outbox_budgets_is_the_data_written(details: list[bytes]) -> None:
    import base64

    events = [base64.b64encode(d).decode("ascii") for d in details]
    assert len(stored_data(events)) == stored_size([len(d) for d in details])


AGENT_NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,35}", fullmatch=True)
#: Envelope ids (any CloudEvents string) and replay names (EventBridge's, and any other text).
HANDLINGS = st.tuples(AGENT_NAMES, st.text(min_size=1), st.none() | st.text(min_size=1))


@given(HANDLINGS, HANDLINGS)
def test_two_handlings_share_a_claim_key_only_when_they_are_the_same(
    one: tuple[str, str, str | None], other: tuple[str, str, str | None]
) -> None:
    assert (claim_key(*one) == claim_key(*other)) == (one == other)


def test_an_id_spelled_like_a_replay_s_key_has_its_own_claim() -> None:
    replayed = claim_key("scorer", "e-1", "after-bugfix")
    assert replayed == "scorer@after-bugfix#e-1"  # EventBridge's replay names as they are
    assert claim_key("scorer", "e-1#replay=after-bugfix") != claim_key("scorer", "e-1", "x")
    assert claim_key("scorer", "after-bugfix#e-1") != replayed
    assert claim_key("scorer", "e", "a#b") != claim_key("scorer", "b#e", "a")
