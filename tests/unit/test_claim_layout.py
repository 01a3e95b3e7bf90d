"""The claim item's key and `data` are what Powertools idempotency derived and wrote (earlier
runtimes' claims are found, `soorma.outbox` budgets the stored size), for any key and events."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import unquote

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
#: Sources: RFC 3986 characters, the key's own separators (`#`, `@`) and `%` well represented,
#: and now and then any text at all (`claim_key` does not rely on validation).
SOURCES = st.text("ab:/.#@%25", min_size=1, max_size=12) | st.text(min_size=1)
#: Envelope ids (any CloudEvents string) and replay names (EventBridge's, and any other text).
HANDLINGS = st.tuples(
    AGENT_NAMES,
    SOURCES,
    st.text("e#@%1", min_size=1) | st.text(min_size=1),
    st.none() | st.text("r#@%", min_size=1) | st.text(min_size=1),
)


@given(HANDLINGS, HANDLINGS)
def test_two_handlings_share_a_claim_key_only_when_they_are_the_same(
    one: tuple[str, str, str, str | None], other: tuple[str, str, str, str | None]
) -> None:
    assert (claim_key(*one) == claim_key(*other)) == (one == other)


def read_back(key: str) -> tuple[str, str, str, str | None]:
    """(agent, source, id, replay) of a claim key, as its format says to read it: the agent up to
    the first `@` or `#`, the replay name (after `@`) and the source up to their next `#`."""
    match = re.fullmatch(r"([^@#]+)([@#])(.*)", key, re.DOTALL)
    assert match is not None
    agent, separator, rest = match.groups()
    replay = None
    if separator == "@":
        quoted, rest = rest.split("#", 1)
        replay = unquote(quoted, errors="strict")
    source, event_id = rest.split("#", 1)
    decoded = re.sub("%(23|40|25)", lambda m: {"23": "#", "40": "@", "25": "%"}[m[1]], source)
    return agent, decoded, event_id, replay


@given(HANDLINGS)
def test_the_key_reads_back_as_its_agent_source_id_and_replay(
    handling: tuple[str, str, str, str | None],
) -> None:
    """What makes keys equal only for equal handlings: each key names exactly one."""
    assert read_back(claim_key(*handling)) == handling


#: Text made of the key's separators and `%`, where a key that only joined its parts would
#: give two handlings one key.
TRICKY = st.text("a#@%23", max_size=6)
REPLAYS = st.none() | st.text("r#@%", min_size=1, max_size=3)


@given(AGENT_NAMES, TRICKY, TRICKY, TRICKY, REPLAYS)
def test_a_separator_moved_between_source_and_id_names_another_claim(
    agent: str, head: str, middle: str, tail: str, replay: str | None
) -> None:
    """`shop#1` + `x` and `shop` + `1#x` are two events: the source's `#` is encoded."""
    one = claim_key(agent, f"{head or 's'}#{middle}", tail or "e", replay)
    assert one != claim_key(agent, head or "s", f"{middle}#{tail or 'e'}", replay)


@given(AGENT_NAMES, TRICKY, TRICKY, REPLAYS)
def test_a_source_spelled_like_another_s_encoding_names_another_claim(
    agent: str, source: str, event_id: str, replay: str | None
) -> None:
    """`shop#1` is encoded `shop%231`, and the source `shop%231` itself has its `%` encoded."""
    source, event_id = source or "s", event_id or "e"
    for character, escape in (("#", "%23"), ("@", "%40"), ("%", "%25")):
        spelled = source.replace(character, escape)  # another source, if `source` has one
        one, other = (claim_key(agent, s, event_id, replay) for s in (spelled, source))
        assert (one == other) == (spelled == source)


def test_the_key_names_the_agent_source_and_id() -> None:
    assert claim_key("scorer", "soorma.shop", "e-1") == "scorer#soorma.shop#e-1"
    assert claim_key("scorer", "soorma.shop", "e-1", "r") == "scorer@r#soorma.shop#e-1"
    # a source with the key's separators (or `%`) has them percent-encoded
    assert claim_key("scorer", "urn:x#a@b%c", "e-1") == "scorer#urn:x%23a%40b%25c#e-1"
    assert claim_key("scorer", "shop#1", "x") != claim_key("scorer", "shop", "1#x")
    assert claim_key("scorer", "shop%231", "x") != claim_key("scorer", "shop#1", "x")


def test_an_id_spelled_like_a_replay_s_key_has_its_own_claim() -> None:
    replayed = claim_key("scorer", "soorma.shop", "e-1", "after-bugfix")
    assert replayed == "scorer@after-bugfix#soorma.shop#e-1"  # EventBridge's names as they are
    assert claim_key("scorer", "soorma.shop", "e-1#replay=after-bugfix") != claim_key(
        "scorer", "soorma.shop", "e-1", "x"
    )
    assert claim_key("scorer", "soorma.shop", "after-bugfix#e-1") != replayed
    assert claim_key("scorer", "s", "e", "a#b") != claim_key("scorer", "s", "b#e", "a")
    assert claim_key("scorer", "after-bugfix#soorma.shop", "e-1") != replayed
