"""The claim item's key and `data` are what Powertools idempotency derived and wrote (earlier
runtimes' claims are found, `soorma.outbox` budgets the stored size), for any key and events."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from soorma.outbox import stored_size
from soorma.runtime.claims import item_id, stored_data


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
